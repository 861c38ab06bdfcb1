import type { Expression } from './ast.js';
import { evaluateExpression, type EvaluateOptions, type Scope } from './evaluator.js';
import { ExpressionError } from './expression-error.js';
import { parsePlaceholder } from './parser.js';
import { referencesOf } from './references.js';
import type { Quoter } from './shell-quote.js';
import { isPlainObject, stringifyValue } from './values.js';

/** A piece of a parsed template: literal text, or a `{{ expr }}` placeholder whose `{{` starts at `offset`. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string; readonly offset: number }
  | {
      readonly kind: 'expression';
      readonly expression: Expression;
      readonly source: string;
      readonly offset: number;
    };

export interface RenderOptions extends Omit<EvaluateOptions, 'source'> {
  /**
   * Makes the quoter for one rendering (e.g. shellQuoter): it sees the literal text and writes every
   * placeholder value for where it stands. When set, the result is always a string, even for a
   * lone placeholder.
   */
  readonly quoter?: () => Quoter;
}

/**
 * Splits a template into literal text and `{{ expr }}` placeholders.
 *
 * There is no escape character (so `C:\{{ dir }}` stays a Windows path): to write literal braces, use a string
 * expression, `{{ '{{' }}`. A `}}` inside a quoted string does not close the placeholder.
 * Throws ExpressionError with offsets into the whole text.
 */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let cursor = 0;
  for (;;) {
    const open = text.indexOf('{{', cursor);
    if (open === -1) break;
    if (open > cursor) parts.push({ kind: 'text', text: text.slice(cursor, open), offset: cursor });
    if (!text.includes('}}', open + 2)) {
      throw new ExpressionError('"{{" is never closed', open, { source: text, expected: '"}}"' });
    }
    const { expression, end } = parsePlaceholder(text, open);
    parts.push({
      kind: 'expression',
      expression,
      source: text.slice(open + 2, end - 2).trim(),
      offset: open,
    });
    cursor = end;
  }
  if (cursor < text.length) parts.push({ kind: 'text', text: text.slice(cursor), offset: cursor });
  return parts;
}

/**
 * Renders a template against a scope.
 *
 * A string that is exactly one placeholder (`"{{ tasks.a.output }}"`) yields the value itself, keeping its type,
 * unless `options.quote` is set; anything else yields a string with every value stringified (and quoted).
 */
export function renderTemplate(text: string, scope: Scope, options: RenderOptions = {}): unknown {
  const { quoter, ...evaluateOptions } = options;
  const parts = parseTemplate(text);
  const evaluate = (expression: Expression): unknown =>
    evaluateExpression(expression, scope, { ...evaluateOptions, source: text });
  const [only] = parts;
  if (parts.length === 1 && only?.kind === 'expression' && quoter === undefined)
    return evaluate(only.expression);
  const quoting = quoter?.();
  return parts
    .map((part) => {
      if (part.kind === 'text') {
        quoting?.literal(part.text);
        return part.text;
      }
      const value = stringifyValue(evaluate(part.expression));
      if (quoting === undefined) return value;
      try {
        return quoting.value(value);
      } catch (err) {
        throw new ExpressionError(
          `{{ ${part.source} }}: ${err instanceof Error ? err.message : String(err)}`,
          part.offset,
          { source: text },
        );
      }
    })
    .join('');
}

/** Renders a template to a string: a lone placeholder's value is stringified too. */
export function renderString(text: string, scope: Scope, options: RenderOptions = {}): string {
  return stringifyValue(renderTemplate(text, scope, options));
}

/**
 * Renders every string inside a JSON-like value; keys stay as written and lone placeholders keep their type.
 *
 * Errors name the path of the failing string (`headers.accept`, `[2]`).
 */
export function renderDeep(value: unknown, scope: Scope, options: RenderOptions = {}): unknown {
  return renderAt(value, scope, options, '');
}

function renderAt(value: unknown, scope: Scope, options: RenderOptions, path: string): unknown {
  if (typeof value === 'string') {
    try {
      return renderTemplate(value, scope, options);
    } catch (err) {
      throw err instanceof ExpressionError && path !== '' ? err.at(path) : err;
    }
  }
  if (Array.isArray(value)) return value.map((item, i) => renderAt(item, scope, options, `${path}[${i}]`));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const step = /^[A-Za-z_][\w-]*$/.test(key)
        ? `${path === '' ? '' : '.'}${key}`
        : `[${JSON.stringify(key)}]`;
      return [key, renderAt(item, scope, options, path + step)];
    }),
  );
}

/** The root paths every placeholder in a template reads, e.g. `{{ tasks.a.output[0] }}` → tasks, a, output. */
export function templateReferences(text: string): string[][] {
  return referencesOf(
    parseTemplate(text).flatMap((part) => (part.kind === 'expression' ? [part.expression] : [])),
  );
}
