import { assertNever } from '../assert-never.js';
import type { BinaryOperator, Expression, LogicalOperator } from './ast.js';
import { describePosition, ExpressionError } from './expression-error.js';
import { FUNCTIONS, isFunctionName } from './functions.js';
import { Lexer, type Punctuator, type Token } from './lexer.js';

type Infix =
  | { readonly type: 'binary'; readonly operator: BinaryOperator; readonly power: number }
  | { readonly type: 'logical'; readonly operator: LogicalOperator; readonly power: number }
  | { readonly type: 'conditional' | 'member' | 'index' | 'call'; readonly power: number };

function binary(power: number, ...operators: BinaryOperator[]): [string, Infix][] {
  return operators.map((operator) => [operator, { type: 'binary', operator, power }]);
}

/**
 * Binding power of each infix token: higher binds tighter. `not` (power 4) sits between `and` and `==`, as in
 * Python, so `not x in list` means `not (x in list)`; `!` and unary `-` bind tighter than any binary operator.
 */
const NOT_POWER = 4;
const UNARY_POWER = 9;
const INFIX: ReadonlyMap<string, Infix> = new Map<string, Infix>([
  ['?', { type: 'conditional', power: 1 }],
  ['||', { type: 'logical', operator: '||', power: 2 }],
  ['or', { type: 'logical', operator: '||', power: 2 }],
  ['&&', { type: 'logical', operator: '&&', power: 3 }],
  ['and', { type: 'logical', operator: '&&', power: 3 }],
  ...binary(5, '==', '!='),
  ...binary(6, '<', '<=', '>', '>=', 'in'),
  ...binary(7, '+', '-'),
  ...binary(8, '*', '/', '%'),
  ['.', { type: 'member', power: 10 }],
  ['[', { type: 'index', power: 10 }],
  ['(', { type: 'call', power: 10 }],
]);
const KEYWORDS = new Set(['true', 'false', 'null', 'not', 'and', 'or', 'in']);
/**
 * Parse steps (sub-expressions and operators) allowed in one expression.
 *
 * Far above any real condition, far below what would overflow the stack when parsing or evaluating the tree.
 */
const MAX_STEPS = 500;

function describe(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'end of expression';
    case 'number':
      return `number ${token.value}`;
    case 'string':
      return `string ${JSON.stringify(token.value.length > 20 ? `${token.value.slice(0, 20)}…` : token.value)}`;
    case 'name':
      return KEYWORDS.has(token.value) ? `keyword "${token.value}"` : `name "${token.value}"`;
    case 'punctuator':
      return `"${token.value}"`;
    default:
      return assertNever(token, 'token');
  }
}

class Parser {
  private readonly lexer: Lexer;
  private token: Token;
  private steps = 0;

  constructor(
    private readonly source: string,
    start: number,
  ) {
    this.lexer = new Lexer(source, start);
    this.token = this.lexer.next();
  }

  /** Parses operators that bind tighter than `minPower` (Pratt parsing). */
  expression(minPower = 0): Expression {
    this.step();
    let left = this.prefix();
    for (;;) {
      const { token } = this;
      const infix = token.type === 'punctuator' || token.type === 'name' ? INFIX.get(token.value) : undefined;
      if (infix === undefined || infix.power <= minPower) break;
      this.advance();
      this.step();
      left = this.infix(left, infix, token.offset);
    }
    return left;
  }

  private step(): void {
    if (++this.steps > MAX_STEPS) {
      throw this.error(
        `expression is too complex (over ${MAX_STEPS} parts)`,
        this.token.offset,
        'a shorter expression',
      );
    }
  }

  /** Consumes the current token if it is `value`, else fails saying what was expected. */
  expect(value: Punctuator, expected: string): void {
    const { token } = this;
    if (token.type !== 'punctuator' || token.value !== value) {
      throw this.error(`unexpected ${describe(token)}`, token.offset, expected);
    }
    this.advance();
  }

  get current(): Token {
    return this.token;
  }

  error(problem: string, offset: number, expected?: string): ExpressionError {
    return new ExpressionError(problem, offset, {
      source: this.source,
      ...(expected === undefined ? {} : { expected }),
    });
  }

  private advance(): void {
    this.token = this.lexer.next();
  }

  private prefix(): Expression {
    const { token } = this;
    const offset = token.offset;
    this.advance();
    switch (token.type) {
      case 'number':
      case 'string':
        return { kind: 'literal', value: token.value, offset };
      case 'name':
        return this.name(token.value, offset);
      case 'punctuator':
        if (token.value === '(') {
          const inner = this.expression();
          this.expect(')', `")" to close the "(" at ${describePosition(offset, this.source)}`);
          return inner;
        }
        if (token.value === '[') return { kind: 'list', items: this.arguments(']'), offset };
        if (token.value === '!' || token.value === '-') {
          return { kind: 'unary', operator: token.value, operand: this.expression(UNARY_POWER), offset };
        }
        break;
      case 'end':
        break;
      default:
        return assertNever(token, 'token');
    }
    throw this.error(`unexpected ${describe(token)}`, offset, 'a value');
  }

  private name(name: string, offset: number): Expression {
    if (name === 'true' || name === 'false') return { kind: 'literal', value: name === 'true', offset };
    if (name === 'null') return { kind: 'literal', value: null, offset };
    if (name === 'not') return { kind: 'unary', operator: '!', operand: this.expression(NOT_POWER), offset };
    if (KEYWORDS.has(name)) throw this.error(`unexpected keyword "${name}"`, offset, 'a value');
    const { token } = this;
    if (token.type !== 'punctuator' || token.value !== '(') return { kind: 'identifier', name, offset };
    if (!isFunctionName(name)) {
      throw this.error(`unknown function "${name}"`, offset, `one of ${Object.keys(FUNCTIONS).join(', ')}`);
    }
    this.advance();
    const args = this.arguments(')');
    const { minArgs, maxArgs } = FUNCTIONS[name];
    if (args.length < minArgs || args.length > maxArgs) {
      const wanted = minArgs === maxArgs ? `${minArgs}` : `${minArgs} to ${maxArgs}`;
      throw this.error(
        `${name}() takes ${wanted} argument${maxArgs === 1 ? '' : 's'}, got ${args.length}`,
        offset,
      );
    }
    return { kind: 'call', name, args, offset };
  }

  /** A comma-separated list up to `close`; the opening bracket is already consumed. */
  private arguments(close: ')' | ']'): Expression[] {
    const items: Expression[] = [];
    if (this.token.type === 'punctuator' && this.token.value === close) {
      this.advance();
      return items;
    }
    for (;;) {
      items.push(this.expression());
      const { token } = this;
      if (token.type === 'punctuator' && token.value === ',') this.advance();
      else {
        this.expect(close, `"," or "${close}"`);
        return items;
      }
    }
  }

  private infix(left: Expression, infix: Infix, offset: number): Expression {
    switch (infix.type) {
      case 'binary':
        return {
          kind: 'binary',
          operator: infix.operator,
          left,
          right: this.expression(infix.power),
          offset,
        };
      case 'logical':
        return {
          kind: 'logical',
          operator: infix.operator,
          left,
          right: this.expression(infix.power),
          offset,
        };
      case 'conditional': {
        const consequent = this.expression();
        this.expect(':', `":" of the "?" at ${describePosition(offset, this.source)}`);
        return { kind: 'conditional', test: left, consequent, alternate: this.expression(), offset };
      }
      case 'member': {
        const { token } = this;
        if (token.type !== 'name') {
          const hint = token.type === 'number' ? ` (use [${token.value}] for list items)` : '';
          throw this.error(`unexpected ${describe(token)}`, token.offset, `a property name after "."${hint}`);
        }
        this.advance();
        return { kind: 'member', object: left, property: token.value, offset };
      }
      case 'index': {
        const index = this.expression();
        this.expect(']', `"]" to close the "[" at ${describePosition(offset, this.source)}`);
        return { kind: 'index', object: left, index, offset };
      }
      case 'call':
        throw this.error(
          'only built-in functions can be called',
          offset,
          `a function name before "(", one of ${Object.keys(FUNCTIONS).join(', ')}`,
        );
      default:
        return assertNever(infix, 'infix operator');
    }
  }
}

/** Parses a bare expression (an `if:` condition); throws ExpressionError on any syntax error. */
export function parseExpression(source: string): Expression {
  const parser = new Parser(source, 0);
  const expression = parser.expression();
  const { current } = parser;
  if (current.type !== 'end') {
    throw parser.error(
      `unexpected ${describe(current)}`,
      current.offset,
      'an operator or the end of the expression',
    );
  }
  return expression;
}

/**
 * Parses the expression of a placeholder whose `{{` sits at `open`, through its closing `}}`.
 *
 * Returns the offset just past the `}}`; offsets in the tree and in errors index the whole template.
 */
export function parsePlaceholder(text: string, open: number): { expression: Expression; end: number } {
  const parser = new Parser(text, open + 2);
  const expression = parser.expression();
  const { current } = parser;
  if (current.type === 'end') throw parser.error('"{{" is never closed', open, '"}}"');
  // Checked, not consumed: advancing would lex the literal text after the placeholder.
  if (current.type !== 'punctuator' || current.value !== '}}') {
    throw parser.error(
      `unexpected ${describe(current)}`,
      current.offset,
      'an operator or "}}" to close the placeholder',
    );
  }
  return { expression, end: current.offset + 2 };
}
