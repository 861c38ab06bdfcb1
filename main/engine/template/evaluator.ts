import { assertNever } from '../assert-never.js';
import type { BinaryOperator, Expression } from './ast.js';
import { ExpressionError } from './expression-error.js';
import { contains, FUNCTIONS, type CallContext } from './functions.js';
import { parseExpression } from './parser.js';
import { describeType, isTruthy, looseEquals, readMember, stringifyValue, toNumber } from './values.js';

/** The names an expression can read: `params`, `tasks`, `item`... Only its own data properties are visible. */
export type Scope = Record<string, unknown>;

export interface EvaluateOptions {
  /** Source of random numbers in [0, 1) for random(); Math.random by default. */
  readonly random?: () => number;
  /** Clock for now(); the system clock by default. */
  readonly clock?: () => Date;
  /** The text the expression was parsed from, so runtime errors can give a line as well as a column. */
  readonly source?: string;
}

/**
 * Evaluates an expression (parsed, or source text) against a scope.
 *
 * Missing names and members are undefined and never throw; operations that make no sense on the values at hand
 * (`"a" - 1`, `1 / 0`, `random([])`) throw ExpressionError located at the operator or call.
 */
export function evaluateExpression(
  expression: Expression | string,
  scope: Scope,
  options: EvaluateOptions = {},
): unknown {
  if (typeof expression === 'string') {
    return evaluateExpression(parseExpression(expression), scope, { ...options, source: expression });
  }
  return new Evaluator(scope, options).evaluate(expression);
}

const VERBS: Readonly<Record<'+' | '-' | '*' | '/' | '%', string>> = {
  '+': 'add',
  '-': 'subtract',
  '*': 'multiply',
  '/': 'divide',
  '%': 'take the remainder of',
};

class Evaluator {
  constructor(
    private readonly scope: Scope,
    private readonly options: EvaluateOptions,
  ) {}

  evaluate(node: Expression): unknown {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'list':
        return node.items.map((item) => this.evaluate(item));
      case 'identifier':
        return readMember(this.scope, node.name);
      case 'member':
        return readMember(this.evaluate(node.object), node.property);
      case 'index':
        return readMember(this.evaluate(node.object), this.evaluate(node.index));
      case 'call': {
        const args = node.args.map((arg) => this.evaluate(arg));
        return FUNCTIONS[node.name].call(args, this.callContext(node.offset));
      }
      case 'unary': {
        const operand = this.evaluate(node.operand);
        if (node.operator === '!') return !isTruthy(operand);
        const number = toNumber(operand);
        if (number === undefined) throw this.error(`cannot negate ${describeType(operand)}`, node.offset);
        return -number;
      }
      case 'logical': {
        const left = this.evaluate(node.left);
        const decided = node.operator === '&&' ? !isTruthy(left) : isTruthy(left);
        return decided ? left : this.evaluate(node.right);
      }
      case 'conditional':
        return this.evaluate(isTruthy(this.evaluate(node.test)) ? node.consequent : node.alternate);
      case 'binary':
        return this.binary(node.operator, this.evaluate(node.left), this.evaluate(node.right), node.offset);
      default:
        return assertNever(node, 'expression node');
    }
  }

  private binary(operator: BinaryOperator, left: unknown, right: unknown, offset: number): unknown {
    switch (operator) {
      case '==':
        return looseEquals(left, right);
      case '!=':
        return !looseEquals(left, right);
      case 'in':
        return contains(right, left, (problem) => {
          throw this.error(problem, offset);
        });
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(operator, left, right, offset);
      case '+':
        if (typeof left === 'string' || typeof right === 'string') {
          return stringifyValue(left) + stringifyValue(right);
        }
        if (Array.isArray(left) && Array.isArray(right))
          return [...(left as unknown[]), ...(right as unknown[])];
        if (typeof left === 'number' && typeof right === 'number') return left + right;
        throw this.mismatch(operator, left, right, offset);
      case '-':
      case '*':
      case '/':
      case '%': {
        const [a, b] = [toNumber(left), toNumber(right)];
        if (a === undefined || b === undefined) throw this.mismatch(operator, left, right, offset);
        if ((operator === '/' || operator === '%') && b === 0) throw this.error('division by zero', offset);
        if (operator === '-') return a - b;
        if (operator === '*') return a * b;
        return operator === '/' ? a / b : a % b;
      }
      default:
        return assertNever(operator, 'operator');
    }
  }

  /**
   * Orders numbers, numeric strings and strings; anything compared with a missing value is false.
   *
   * Two numeric strings compare as numbers ("10" > "9"), since task outputs are text; other strings compare by
   * code unit, which also orders ISO dates correctly.
   */
  private compare(operator: '<' | '<=' | '>' | '>=', left: unknown, right: unknown, offset: number): boolean {
    if (left === undefined || left === null || right === undefined || right === null) return false;
    const [x, y] = [toNumber(left), toNumber(right)];
    let order: number;
    if (x !== undefined && y !== undefined) order = x - y;
    else if (typeof left === 'string' && typeof right === 'string')
      order = left < right ? -1 : left > right ? 1 : 0;
    else throw this.error(`cannot compare ${describeType(left)} with ${describeType(right)}`, offset);
    if (operator === '<') return order < 0;
    if (operator === '<=') return order <= 0;
    return operator === '>' ? order > 0 : order >= 0;
  }

  private mismatch(
    operator: keyof typeof VERBS,
    left: unknown,
    right: unknown,
    offset: number,
  ): ExpressionError {
    const missing = left === undefined || right === undefined;
    return this.error(
      `cannot ${VERBS[operator]} ${describeType(left)} and ${describeType(right)} with "${operator}"`,
      offset,
      missing
        ? 'a value on both sides (a name is misspelled or has no value yet; default() can help)'
        : undefined,
    );
  }

  private callContext(offset: number): CallContext {
    return {
      random: this.options.random ?? Math.random,
      clock: this.options.clock ?? (() => new Date()),
      fail: (problem) => {
        throw this.error(problem, offset);
      },
    };
  }

  private error(problem: string, offset: number, expected?: string): ExpressionError {
    const { source } = this.options;
    return new ExpressionError(problem, offset, {
      ...(source === undefined ? {} : { source }),
      ...(expected === undefined ? {} : { expected }),
    });
  }
}
