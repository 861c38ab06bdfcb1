import { describe, expect, it } from 'vitest';
import {
  ExpressionError,
  expressionReferences,
  parseTemplate,
  renderDeep,
  renderString,
  renderTemplate,
  stringifyValue,
  templateReferences,
  type Scope,
} from './index.js';

const scope: Scope = {
  params: { city: 'Oslo', days: 3, word: { choices: ['x'] } },
  tasks: { fetch: { output: { body: { temp: 26.5, list: [1, 2], ok: true, none: null } } } },
  run: { id: 'r1', staging: '/tmp/stage' },
  item: 'bergen',
};

function failure(text: string): ExpressionError {
  try {
    renderTemplate(text, scope);
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error(`expected "${text}" to fail`);
}

describe('renderTemplate', () => {
  it('fills placeholders inside text', () => {
    expect(renderTemplate('http://x/forecast?city={{ params.city }}&d={{params.days}}', scope)).toBe(
      'http://x/forecast?city=Oslo&d=3',
    );
    expect(renderTemplate('echo {{ item }} >> {{ run.staging }}/cities.txt', scope)).toBe(
      'echo bergen >> /tmp/stage/cities.txt',
    );
  });

  it('keeps the type of a lone placeholder', () => {
    expect(renderTemplate('{{ tasks.fetch.output.body.temp }}', scope)).toBe(26.5);
    expect(renderTemplate('{{tasks.fetch.output.body.list}}', scope)).toEqual([1, 2]);
    expect(renderTemplate('{{ tasks.fetch.output.body }}', scope)).toEqual({
      temp: 26.5,
      list: [1, 2],
      ok: true,
      none: null,
    });
    expect(renderTemplate('{{ tasks.fetch.output.body.ok }}', scope)).toBe(true);
    expect(renderTemplate('{{ tasks.fetch.output.body.none }}', scope)).toBeNull();
    expect(renderTemplate('{{ missing }}', scope)).toBeUndefined();
  });

  it('stringifies as soon as there is any text around the placeholder', () => {
    expect(renderTemplate(' {{ tasks.fetch.output.body.temp }}', scope)).toBe(' 26.5');
    expect(renderTemplate('{{ params.days }}{{ params.days }}', scope)).toBe('33');
    expect(renderTemplate('list={{ tasks.fetch.output.body.list }}', scope)).toBe('list=[1,2]');
    expect(renderTemplate('[{{ tasks.fetch.output.body.none }}|{{ missing }}|{{ true }}]', scope)).toBe(
      '[||true]',
    );
    expect(renderTemplate('obj={{ params.word }}', scope)).toBe('obj={"choices":["x"]}');
    expect(renderTemplate('no placeholders', scope)).toBe('no placeholders');
    expect(renderTemplate('', scope)).toBe('');
  });

  it('quotes values, never the literal text, and always returns a string when quoting', () => {
    const seen: string[] = [];
    const quoter = () => ({
      literal: (text: string) => {
        seen.push(text);
      },
      value: (text: string) => `<${text}>`,
    });
    expect(renderTemplate('a {{ item }} b {{ params.days }} c', scope, { quoter })).toBe(
      'a <bergen> b <3> c',
    );
    expect(seen).toEqual(['a ', ' b ', ' c']);
    expect(renderTemplate('{{ params.days }}', scope, { quoter })).toBe('<3>');
    expect(renderTemplate('{{ missing }}', scope, { quoter })).toBe('<>');
  });

  it('reports a value the quoter refuses as an error at its placeholder', () => {
    const quoter = () => ({
      literal: () => undefined,
      value: (): string => {
        throw new Error('cannot go here');
      },
    });
    expect(() => renderTemplate('echo {{ item }}', scope, { quoter })).toThrow(
      /\{\{ item \}\}: cannot go here at column 6/,
    );
  });

  it('writes literal braces through a string expression, and }} inside a string does not close', () => {
    expect(renderTemplate("{{ '{{' }} item }}", scope)).toBe('{{ item }}');
    expect(renderTemplate("{{ '}}' + item }}", scope)).toBe('}}bergen');
    expect(renderTemplate('C:\\{{ item }}', scope)).toBe('C:\\bergen');
    expect(renderTemplate('a }} b', scope)).toBe('a }} b');
  });

  it('does not read the literal text after a placeholder as expression syntax', () => {
    expect(renderTemplate("{{ item }}'s # = & {", scope)).toBe("bergen's # = & {");
  });

  it('locates errors in the whole template', () => {
    expect(failure('{{ a').message).toBe('"{{" is never closed at column 1: expected "}}"');
    expect(failure('ok {{ item }} then {{ params.city').offset).toBe(19);
    expect(failure('x {{ a }').message).toBe('"{{" is never closed at column 3: expected "}}"');
    expect(failure('x {{ }}').message).toBe('unexpected "}}" at column 6: expected a value');
    expect(failure('x {{ a b }}').message).toBe(
      'unexpected name "b" at column 8: expected an operator or "}}" to close the placeholder',
    );
    expect(failure("x {{ 'abc }}").message).toBe("unterminated string at column 6: expected a closing '");
    expect(failure('x {{ nope(1) }}').offset).toBe(5);
    const multiline = failure('line one\nline {{ params.city - 1 }}');
    expect(multiline.offset).toBe(29);
    expect(multiline.message).toBe('cannot subtract string and number with "-" at line 2, column 21');
  });
});

describe('renderString and stringifyValue', () => {
  it('always returns a string', () => {
    expect(renderString('{{ params.days }}', scope)).toBe('3');
    expect(renderString('{{ tasks.fetch.output.body.list }}', scope)).toBe('[1,2]');
    expect(renderString('{{ missing }}', scope)).toBe('');
  });

  it.each([
    ['s', 's'],
    [12.5, '12.5'],
    [false, 'false'],
    [null, ''],
    [undefined, ''],
    [[1, 'a', null], '[1,"a",null]'],
    [{ a: { b: 1 } }, '{"a":{"b":1}}'],
  ])('%j → %s', (value, expected) => {
    expect(stringifyValue(value)).toBe(expected);
  });
});

describe('renderDeep', () => {
  it('renders strings in arrays and objects, keeps keys, types and non-strings', () => {
    const input = {
      url: 'http://x/{{ params.city }}',
      '{{ key }}': '{{ params.days }}',
      nested: [{ temp: '{{ tasks.fetch.output.body.temp }}', n: 5, b: false, z: null }],
    };
    expect(renderDeep(input, scope)).toEqual({
      url: 'http://x/Oslo',
      '{{ key }}': 3,
      nested: [{ temp: 26.5, n: 5, b: false, z: null }],
    });
    expect(input.url).toBe('http://x/{{ params.city }}');
  });

  it('names the path of a failing string', () => {
    expect(() => renderDeep({ headers: { 'x-a': ['ok', '{{ a + }}'] } }, scope)).toThrow(
      'headers.x-a[1]: unexpected "}}" at column 8: expected a value',
    );
    expect(() => renderDeep([{ 'Content Type': '{{ ( }}' }], scope)).toThrow(
      /^\[0\]\["Content Type"\]: unexpected/,
    );
    expect(() => renderDeep('{{ a + }}', scope)).toThrow(/^unexpected "}}"/);
  });
});

describe('parseTemplate', () => {
  it('splits text and placeholders with offsets into the whole text', () => {
    const parts = parseTemplate('a {{ x.y }} b{{z}}');
    expect(
      parts.map((p) => (p.kind === 'text' ? ['text', p.text, p.offset] : ['expr', p.source, p.offset])),
    ).toEqual([
      ['text', 'a ', 0],
      ['expr', 'x.y', 2],
      ['text', ' b', 11],
      ['expr', 'z', 13],
    ]);
    const [, placeholder] = parts;
    expect(placeholder?.kind === 'expression' && placeholder.expression.offset).toBe(6);
  });
});

describe('references', () => {
  it('lists root paths up to the first dynamic access', () => {
    expect(templateReferences('{{ tasks.fetch.output.body[0] }}')).toEqual([
      ['tasks', 'fetch', 'output', 'body'],
    ]);
    expect(templateReferences('{{ random(params.word.choices) }}')).toEqual([['params', 'word', 'choices']]);
    expect(templateReferences('{{ tasks["each-city"].output }} {{ tasks.each-city.status }}')).toEqual([
      ['tasks', 'each-city', 'output'],
      ['tasks', 'each-city', 'status'],
    ]);
    expect(templateReferences('{{ a[b.c].d }}')).toEqual([['a'], ['b', 'c']]);
    expect(templateReferences('{{ keys(state.global).length }}')).toEqual([['state', 'global']]);
  });

  it('collects every expression, once each, and ignores literals', () => {
    expect(
      templateReferences('{{ item }} {{ x ? run.id : [params.a, "lit", 1] }} {{ item }} {{ not env.HOME }}'),
    ).toEqual([['item'], ['x'], ['run', 'id'], ['params', 'a'], ['env', 'HOME']]);
    expect(templateReferences('plain text')).toEqual([]);
    expect(templateReferences("{{ 'only' + 'literals' }}")).toEqual([]);
  });

  it('reads bare expressions', () => {
    expect(expressionReferences('tasks.fetch.output.body.temp > 25 and params.city in ["Oslo"]')).toEqual([
      ['tasks', 'fetch', 'output', 'body', 'temp'],
      ['params', 'city'],
    ]);
  });

  it('throws ExpressionError for malformed text', () => {
    expect(() => templateReferences('{{ a')).toThrow(ExpressionError);
    expect(() => expressionReferences('tasks.')).toThrow(ExpressionError);
  });
});
