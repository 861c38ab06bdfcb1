import path from 'node:path';
import { describeType, isPlainObject, looseEquals, stringifyValue, toJson, toNumber } from './values.js';

/** What a built-in function may use besides its arguments. */
export interface CallContext {
  /** A number in [0, 1), like Math.random. */
  readonly random: () => number;
  readonly clock: () => Date;
  /** Throws an ExpressionError located at the call. */
  readonly fail: (problem: string) => never;
}

interface FunctionSpec {
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly call: (args: readonly unknown[], context: CallContext) => unknown;
}

function fn(minArgs: number, maxArgs: number, call: FunctionSpec['call']): FunctionSpec {
  return { minArgs, maxArgs, call };
}

/** Applies a string function to the text of any value (numbers, lists...), the way the template would print it. */
function text(transform: (s: string) => string): FunctionSpec {
  return fn(1, 1, ([value]) => transform(stringifyValue(value)));
}

/** Missing values count as empty so `len(tasks.x.output.items)` does not fail before the data exists. */
function listOf(value: unknown, name: string, context: CallContext): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  return context.fail(`${name}() needs a list, got ${describeType(value)}`);
}

function numberOf(value: unknown, name: string, context: CallContext): number {
  const number = typeof value === 'boolean' ? Number(value) : toNumber(value);
  if (number === undefined || Number.isNaN(number)) {
    return context.fail(`${name}() cannot turn ${describeType(value)} ${toJson(value) ?? ''} into a number`);
  }
  return number;
}

/** Rounds half away from zero at `digits` decimals, shifting through the exponent to dodge 1.005 * 100 drift. */
function roundTo(value: number, digits: number): number {
  const shift = (n: number, by: number): number => {
    const [mantissa = '0', exponent = '0'] = String(n).split('e');
    return Number(`${mantissa}e${Number(exponent) + by}`);
  };
  return Math.sign(value) * shift(Math.round(shift(Math.abs(value), digits)), -digits);
}

/**
 * `needle in haystack`: an equal item of a list, a substring of a string, an own key of an object.
 *
 * A missing haystack contains nothing; any other type is an error rather than a silent false.
 */
export function contains(haystack: unknown, needle: unknown, fail: (problem: string) => never): boolean {
  if (haystack === undefined || haystack === null) return false;
  if (Array.isArray(haystack)) return haystack.some((item) => looseEquals(item, needle));
  if (typeof haystack === 'string') return haystack.includes(stringifyValue(needle));
  if (isPlainObject(haystack)) {
    return (
      (typeof needle === 'string' || typeof needle === 'number') && Object.hasOwn(haystack, String(needle))
    );
  }
  return fail(`cannot look inside ${describeType(haystack)}: "in" needs a list, string or object`);
}

/**
 * The whitelist of functions an expression may call; nothing else is callable.
 *
 * `random` also takes a string list ("a, b" or one choice per line) because params typed in a form arrive as text.
 * `split` of an empty string is an empty list, so a forEach over empty output runs nothing.
 * `range(n)` is 0..n-1 and `range(a, b)` is a..b-1, for a forEach that runs n times.
 */
export const FUNCTIONS = {
  random: fn(1, 1, ([choices], context) => {
    const list =
      typeof choices === 'string'
        ? choices
            .split(choices.includes('\n') ? '\n' : ',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : listOf(choices, 'random', context);
    if (list.length === 0) return context.fail('random() needs a non-empty list');
    return list[Math.min(list.length - 1, Math.floor(context.random() * list.length))];
  }),
  len: fn(1, 1, ([value], context) => {
    if (typeof value === 'string') return value.length;
    if (isPlainObject(value)) return Object.keys(value).length;
    return listOf(value, 'len', context).length;
  }),
  lower: text((s) => s.toLowerCase()),
  upper: text((s) => s.toUpperCase()),
  trim: text((s) => s.trim()),
  string: text((s) => s),
  basename: text((s) => path.basename(s)),
  dirname: text((s) => path.dirname(s)),
  json: fn(1, 1, ([value], context) => {
    try {
      return toJson(value) ?? 'null';
    } catch (err) {
      return context.fail(`json() cannot serialise the value: ${(err as Error).message}`);
    }
  }),
  parseJson: fn(1, 1, ([value], context) => {
    try {
      return JSON.parse(stringifyValue(value)) as unknown;
    } catch (err) {
      return context.fail(`parseJson() got invalid JSON: ${(err as Error).message}`);
    }
  }),
  int: fn(1, 1, ([value], context) => Math.trunc(numberOf(value, 'int', context))),
  float: fn(1, 1, ([value], context) => numberOf(value, 'float', context)),
  contains: fn(2, 2, ([haystack, needle], context) => contains(haystack, needle, context.fail)),
  startsWith: fn(2, 2, ([s, prefix]) => stringifyValue(s).startsWith(stringifyValue(prefix))),
  endsWith: fn(2, 2, ([s, suffix]) => stringifyValue(s).endsWith(stringifyValue(suffix))),
  split: fn(2, 2, ([s, separator]) => {
    const whole = stringifyValue(s);
    return whole === '' ? [] : whole.split(stringifyValue(separator));
  }),
  join: fn(2, 2, ([list, separator], context) =>
    listOf(list, 'join', context).map(stringifyValue).join(stringifyValue(separator)),
  ),
  default: fn(2, 2, ([value, fallback]) =>
    value === undefined || value === null || value === '' ? fallback : value,
  ),
  keys: fn(1, 1, ([value], context) => {
    if (isPlainObject(value)) return Object.keys(value);
    return listOf(value, 'keys', context).map((_, i) => i);
  }),
  round: fn(1, 2, ([value, digits = 0], context) => {
    const places = numberOf(digits, 'round', context);
    if (!Number.isInteger(places) || Math.abs(places) > 15) {
      return context.fail('round() takes a whole number of digits between -15 and 15');
    }
    return roundTo(numberOf(value, 'round', context), places);
  }),
  now: fn(0, 0, (_args, context) => context.clock().toISOString()),
  range: fn(1, 2, ([first, second], context) => {
    const [start, end] =
      second === undefined
        ? [0, numberOf(first, 'range', context)]
        : [numberOf(first, 'range', context), numberOf(second, 'range', context)];
    if (!Number.isInteger(start) || !Number.isInteger(end))
      return context.fail('range() takes whole numbers');
    if (end - start > 1_000_000) return context.fail('range() makes at most 1,000,000 numbers');
    return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
  }),
} satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof FUNCTIONS;

export function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTIONS, name);
}
