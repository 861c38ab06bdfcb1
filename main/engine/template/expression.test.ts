import { describe, expect, it } from 'vitest';
import { ExpressionError, evaluateExpression, isTruthy, parseExpression, type Scope } from './index.js';

const scope: Scope = {
  params: { city: 'Oslo', word: { choices: ['a', 'b', 'c'] }, limit: 3 },
  tasks: {
    fetch: { output: { body: { temp: '26', list: [10, 20, 30] } }, status: 'succeeded' },
    'each-city': { output: 'bergen' },
  },
  item: { name: 'x', tags: [] },
  index: 2,
  empty: {},
  text: 'Hello World',
};

function run(source: string, extra: Scope = {}): unknown {
  return evaluateExpression(source, { ...scope, ...extra });
}

/** Runs a failing expression and returns its error, so tests can check offset and message together. */
function failure(source: string, extra: Scope = {}): ExpressionError {
  try {
    run(source, extra);
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error(`expected "${source}" to fail`);
}

describe('literals', () => {
  it.each([
    ['42', 42],
    ['3.25', 3.25],
    ['1e3', 1000],
    ["'single'", 'single'],
    ['"double"', 'double'],
    [String.raw`'it\'s'`, "it's"],
    [String.raw`"a\"b\n\t\\"`, 'a"b\n\t\\'],
    [String.raw`'\u00e9\u{1F600}'`, 'é😀'],
    ['true', true],
    ['false', false],
    ['null', null],
    ['[1, "two", [3]]', [1, 'two', [3]]],
    ['[]', []],
  ])('%s', (source, expected) => {
    expect(run(source)).toEqual(expected);
  });
});

describe('precedence and operators', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 - 4 - 3', 3],
    ['2 * 3 % 4', 2],
    ['-2 * 3', -6],
    ['- params.limit + 1', -2],
    ['1 + 2 == 3', true],
    ['1 < 2 == 2 < 3', true],
    ['true || false && false', true],
    ['(true || false) && false', false],
    ['false or true and false', false],
    ['!true || true', true],
    ['not true or true', true],
    ['not 1 in [1, 2]', false],
    ['!1 in [false]', true],
    ['not 1 == 2', true],
    ['1 > 2 ? "a" : 2 > 1 ? "b" : "c"', 'b'],
    ['true ? 1 : 0 + 5', 1],
    ['"a" + 1', 'a1'],
    ['1 + "1"', '11'],
    ['"x" + null + [1]', 'x[1]'],
    ['[1] + [2, 3]', [1, 2, 3]],
    ['"7" * "6"', 42],
    ['7 / 2', 3.5],
    ['7 % 4', 3],
    ['0 || "fallback"', 'fallback'],
    ['"set" && "second"', 'second'],
    ['[] || "empty list is false"', 'empty list is false'],
  ])('%s', (source, expected) => {
    expect(run(source)).toEqual(expected);
  });
});

describe('comparisons', () => {
  it.each([
    ['"26" > 25', true],
    ['tasks.fetch.output.body.temp > 25', true],
    ['tasks.fetch.output.body.temp < 25', false],
    ['"26" == 26', true],
    ['" 26 " == 26', true],
    ['26 != "26"', false],
    ['"26" == "26.0"', false],
    ['"10" > "9"', true],
    ['"abc" < "abd"', true],
    ['"2024-05-01T00:00:00Z" < "2024-06-01"', true],
    ['"abc" == 0', false],
    ['true == 1', false],
    ['null == missing', true],
    ['missing > 1', false],
    ['missing <= 1', false],
    ['[1, "2"] == [1, 2]', true],
    ['"b" in params.word.choices', true],
    ['"Wor" in text', true],
    ['"city" in params', true],
    ['"toString" in params', false],
    ['"a" in missing', false],
    ['3 in [1, "3"]', true],
  ])('%s', (source, expected) => {
    expect(run(source)).toBe(expected);
  });

  it('compares objects deeply', () => {
    expect(run('a == b', { a: { x: [1, { y: 2 }] }, b: { x: [1, { y: '2' }] } })).toBe(true);
    expect(run('a == b', { a: { x: 1 }, b: { x: 1, y: 2 } })).toBe(false);
  });

  it('refuses to order values that have no order', () => {
    expect(failure('[1] < 2').message).toBe('cannot compare list with number at column 5');
    expect(failure('true > "x"').message).toBe('cannot compare boolean with string at column 6');
  });
});

describe('names and members', () => {
  it('reads dashed identifiers as one name', () => {
    expect(run('tasks.each-city.output')).toBe('bergen');
    expect(run('a-b', { a: 5, b: 2, 'a-b': 'dashed' })).toBe('dashed');
    expect(run('a - b', { a: 5, b: 2 })).toBe(3);
    expect(run('a -b', { a: 5, b: 2 })).toBe(3);
  });

  it('reads members, indexes and computed keys', () => {
    expect(run('tasks.fetch.output.body.list[1]')).toBe(20);
    expect(run('tasks.fetch.output.body.list[-1]')).toBe(30);
    expect(run('tasks.fetch.output.body.list[index]')).toBe(30);
    expect(run('tasks["each-city"]["output"]')).toBe('bergen');
    expect(run('tasks.fetch.output.body.list["0"]')).toBe(10);
    expect(run('text.length + params.word.choices.length')).toBe(14);
    expect(run('text[0]')).toBe('H');
    expect(run('params.in')).toBeUndefined();
    expect(run('o.true', { o: { true: 'keyword as property' } })).toBe('keyword as property');
  });

  it('makes missing paths undefined instead of throwing', () => {
    for (const source of [
      'nope',
      'nope.deeper.still',
      'params.city.x.y',
      'tasks.fetch.output.body.list[9]',
      'index.x',
    ]) {
      expect(run(source), source).toBeUndefined();
    }
    expect(run('tasks.fetch.output.body.list[1.5]')).toBeUndefined();
  });

  it('blocks prototype access', () => {
    expect(run('item.__proto__')).toBeUndefined();
    expect(run('item.constructor')).toBeUndefined();
    expect(run('item.constructor.constructor')).toBeUndefined();
    expect(() => run('item["constructor"]["constructor"]("return 1")')).toThrow(/only built-in functions/);
    expect(run('item.tags.constructor')).toBeUndefined();
    expect(run('item.tags.map')).toBeUndefined();
    expect(run('text.toUpperCase')).toBeUndefined();
    expect(run('item.hasOwnProperty')).toBeUndefined();
    expect(run('__proto__')).toBeUndefined();
    expect(run('toString')).toBeUndefined();
  });

  it('reads own data keys even when they are named like prototype members, but never runs getters', () => {
    expect(run('o.constructor', { o: JSON.parse('{"constructor": "Ferrari"}') as unknown })).toBe('Ferrari');
    let calls = 0;
    const withGetter = Object.defineProperty({}, 'secret', { get: () => ++calls, enumerable: true });
    expect(run('o.secret', { o: withGetter })).toBeUndefined();
    expect(calls).toBe(0);
  });

  it('does not read members of non-plain objects', () => {
    expect(run('d.getTime', { d: new Date(0) })).toBeUndefined();
    expect(run('m.size', { m: new Map() })).toBeUndefined();
  });
});

describe('truthiness', () => {
  it.each([
    [[], false],
    [{}, false],
    [[0], true],
    [{ a: 1 }, true],
    ['', false],
    ['0', true],
    [0, false],
    [Number.NaN, false],
    [null, false],
    [undefined, false],
  ])('%j is %s', (value, expected) => {
    expect(isTruthy(value)).toBe(expected);
  });

  it('applies to conditions', () => {
    expect(run('item.tags ? "some" : "none"')).toBe('none');
    expect(run('!empty')).toBe(true);
  });
});

describe('functions', () => {
  const fixedClock = { clock: () => new Date('2025-01-02T03:04:05.000Z') };

  it.each([
    ['len("abc")', 3],
    ['len([1, 2])', 2],
    ['len(params)', 3],
    ['len(missing)', 0],
    ['lower("ÀB")', 'àb'],
    ['upper(text)', 'HELLO WORLD'],
    ['lower(12)', '12'],
    ['trim("  x \\n")', 'x'],
    ['json(params.word)', '{"choices":["a","b","c"]}'],
    ['json("s")', '"s"'],
    ['json(missing)', 'null'],
    ['parseJson("{\\"a\\": [1, 2]}").a[1]', 2],
    ['int("26.9")', 26],
    ['int(-3.7)', -3],
    ['int(true)', 1],
    ['float(" 2.5 ")', 2.5],
    ['string(12) + 1', '121'],
    ['string([1, "a"])', '[1,"a"]'],
    ['string(null)', ''],
    ['contains(params.word.choices, "c")', true],
    ['contains("haystack", "st")', true],
    ['contains(params, "limit")', true],
    ['startsWith(text, "Hell")', true],
    ['endsWith(text, "Hell")', false],
    ['split("a,b,,c", ",")', ['a', 'b', '', 'c']],
    ['split("", ",")', []],
    ['join(["a", 1, null], "-")', 'a-1-'],
    ['join(missing, ",")', ''],
    ['default(missing, "fb")', 'fb'],
    ['default(null, 1)', 1],
    ['default("", "fb")', 'fb'],
    ['default(0, "fb")', 0],
    ['default(false, "fb")', false],
    ['keys(params)', ['city', 'word', 'limit']],
    ['keys(["x", "y"])', [0, 1]],
    ['keys(missing)', []],
    ['round(2.5)', 3],
    ['round(-2.5)', -3],
    ['round(1.005, 2)', 1.01],
    ['round("3.14159", 3)', 3.142],
    ['round(1234, -2)', 1200],
    ['basename("/srv/data/report.csv")', 'report.csv'],
    ['dirname("/srv/data/report.csv")', '/srv/data'],
  ])('%s', (source, expected) => {
    expect(evaluateExpression(source, scope, fixedClock)).toEqual(expected);
  });

  it('range() counts from 0 or between bounds, and refuses fractions and huge ranges', () => {
    expect(evaluateExpression('range(3)', scope)).toEqual([0, 1, 2]);
    expect(evaluateExpression('range(2, 5)', scope)).toEqual([2, 3, 4]);
    expect(evaluateExpression('range(0)', scope)).toEqual([]);
    expect(evaluateExpression('range("2")', scope)).toEqual([0, 1]);
    expect(() => evaluateExpression('range(1.5)', scope)).toThrow(/whole numbers/);
    expect(() => evaluateExpression('range(2000000)', scope)).toThrow(/at most/);
  });

  it('now() reads the injected clock', () => {
    expect(evaluateExpression('now()', scope, fixedClock)).toBe('2025-01-02T03:04:05.000Z');
  });

  it('random() picks with the injected source, from lists or string lists', () => {
    const pick = (source: string, r: number): unknown =>
      evaluateExpression(source, scope, { random: () => r });
    expect(pick('random(params.word.choices)', 0)).toBe('a');
    expect(pick('random(params.word.choices)', 0.5)).toBe('b');
    expect(pick('random(params.word.choices)', 0.999)).toBe('c');
    expect(pick('random("oslo, bergen ,paris")', 0.4)).toBe('bergen');
    expect(pick('random("one\\ntwo, three")', 0.9)).toBe('two, three');
    const seen = new Set<unknown>();
    for (let i = 0; i < 200; i++) seen.add(run('random([1, 2, 3])'));
    expect([...seen].sort()).toEqual([1, 2, 3]);
  });

  it('reports bad arguments at the call', () => {
    expect(failure('1 + random([])').message).toBe('random() needs a non-empty list at column 5');
    expect(failure('random(12)').message).toBe('random() needs a list, got number at column 1');
    expect(failure('int("abc")').message).toBe('int() cannot turn string "abc" into a number at column 1');
    expect(failure('parseJson("{")').message).toMatch(/^parseJson\(\) got invalid JSON: .* at column 1$/);
    expect(failure('len(5)').message).toBe('len() needs a list, got number at column 1');
    expect(failure('round(1, 0.5)').message).toBe(
      'round() takes a whole number of digits between -15 and 15 at column 1',
    );
    expect(failure('join("a,b", ",")').offset).toBe(0);
  });
});

describe('runtime errors', () => {
  it('rejects arithmetic on values that are not numbers', () => {
    const error = failure('params.city - 1');
    expect(error.offset).toBe(12);
    expect(error.message).toBe('cannot subtract string and number with "-" at column 13');
    expect(failure('missing * 2').message).toContain('a name is misspelled or has no value yet');
    expect(failure('true + 1').message).toBe('cannot add boolean and number with "+" at column 6');
    expect(failure('-"x"').message).toBe('cannot negate string at column 1');
    expect(failure('1 / 0').message).toBe('division by zero at column 3');
    expect(failure('5 % (2 - 2)').offset).toBe(2);
    expect(failure('1 in 5').message).toBe(
      'cannot look inside number: "in" needs a list, string or object at column 3',
    );
  });
});

describe('syntax errors', () => {
  it.each([
    ['a +', 3, 'unexpected end of expression at column 4: expected a value'],
    ['(a', 2, 'unexpected end of expression at column 3: expected ")" to close the "(" at column 1'],
    ['(a + b))', 7, 'unexpected ")" at column 8: expected an operator or the end of the expression'],
    ['foo(1)', 0, 'unknown function "foo" at column 1: expected one of random, len,'],
    ["'abc", 0, "unterminated string at column 1: expected a closing '"],
    ['"abc', 0, 'unterminated string at column 1: expected a closing "'],
    ['a = 1', 2, 'unexpected character "=" at column 3: expected "=="'],
    ['a & b', 2, 'unexpected character "&" at column 3: expected "&&"'],
    [
      'a.1',
      2,
      'unexpected number 1 at column 3: expected a property name after "." (use [1] for list items)',
    ],
    ['a b', 2, 'unexpected name "b" at column 3: expected an operator'],
    ['', 0, 'unexpected end of expression at column 1: expected a value'],
    ['and', 0, 'unexpected keyword "and" at column 1: expected a value'],
    ['[1, 2', 5, 'unexpected end of expression at column 6: expected "," or "]"'],
    ['len(1, 2)', 0, 'len() takes 1 argument, got 2 at column 1'],
    ['round()', 0, 'round() takes 1 to 2 arguments, got 0 at column 1'],
    ['a.b(1)', 3, 'only built-in functions can be called at column 4'],
    ['a ? b', 5, 'unexpected end of expression at column 6: expected ":" of the "?" at column 3'],
    [String.raw`'\q'`, 1, String.raw`unknown escape "\q" in string at column 2`],
    ['a # b', 2, 'unexpected character "#" at column 3'],
    ['x }}', 2, 'unexpected "}}" at column 3'],
  ])('%s', (source, offset, message) => {
    const error = failure(source);
    expect(error.offset).toBe(offset);
    expect(error.message.startsWith(message), error.message).toBe(true);
  });

  it('errors are ExpressionError with a name, thrown by parseExpression before any evaluation', () => {
    expect(() => parseExpression('a +')).toThrow(ExpressionError);
    expect(failure('a +').name).toBe('ExpressionError');
  });

  it('refuses absurdly large expressions instead of overflowing the stack', () => {
    for (const source of [
      `${'('.repeat(600)}1${')'.repeat(600)}`,
      `a${'.a'.repeat(600)}`,
      `1${' + 1'.repeat(600)}`,
    ]) {
      expect(failure(source).message).toMatch(/^expression is too complex \(over 500 parts\)/);
    }
    expect(run(`${'('.repeat(100)}1${')'.repeat(100)}`)).toBe(1);
    expect(run(`1${' + 1'.repeat(100)}`)).toBe(101);
  });

  it('parses to a tree with offsets', () => {
    expect(parseExpression('a.b + 1')).toEqual({
      kind: 'binary',
      operator: '+',
      offset: 4,
      left: {
        kind: 'member',
        property: 'b',
        offset: 1,
        object: { kind: 'identifier', name: 'a', offset: 0 },
      },
      right: { kind: 'literal', value: 1, offset: 6 },
    });
  });
});
