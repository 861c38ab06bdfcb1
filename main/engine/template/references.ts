import { assertNever } from '../assert-never.js';
import type { Expression } from './ast.js';
import { parseExpression } from './parser.js';

/**
 * The static path of a member chain: `tasks.fetch.output` → ['tasks', 'fetch', 'output'].
 *
 * A string-literal index continues the path (`tasks["each-city"]`); any other index ends it, because list
 * positions and computed keys cannot be checked before the run.
 */
function staticPath(node: Expression): string[] | undefined {
  if (node.kind === 'identifier') return [node.name];
  if (node.kind === 'member') return append(staticPath(node.object), node.property);
  if (node.kind === 'index' && node.index.kind === 'literal' && typeof node.index.value === 'string') {
    return append(staticPath(node.object), node.index.value);
  }
  return undefined;
}

function append(path: string[] | undefined, key: string): string[] | undefined {
  return path === undefined ? undefined : [...path, key];
}

function collect(node: Expression, into: string[][]): void {
  switch (node.kind) {
    case 'literal':
      return;
    case 'identifier':
    case 'member':
    case 'index': {
      const path = staticPath(node);
      if (path !== undefined) into.push(path);
      else if (node.kind === 'member') collect(node.object, into);
      else if (node.kind === 'index') {
        collect(node.object, into);
        collect(node.index, into);
      }
      return;
    }
    case 'list':
      for (const item of node.items) collect(item, into);
      return;
    case 'call':
      for (const arg of node.args) collect(arg, into);
      return;
    case 'unary':
      collect(node.operand, into);
      return;
    case 'binary':
    case 'logical':
      collect(node.left, into);
      collect(node.right, into);
      return;
    case 'conditional':
      collect(node.test, into);
      collect(node.consequent, into);
      collect(node.alternate, into);
      return;
    default:
      assertNever(node, 'expression node');
  }
}

/** Every root path an expression reads, each once, in order of appearance. */
export function referencesOf(expressions: readonly Expression[]): string[][] {
  const found: string[][] = [];
  for (const expression of expressions) collect(expression, found);
  const seen = new Set<string>();
  return found.filter((path) => {
    const key = JSON.stringify(path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The root paths a bare expression (an `if:` condition) reads; throws ExpressionError when it does not parse. */
export function expressionReferences(source: string): string[][] {
  return referencesOf([parseExpression(source)]);
}
