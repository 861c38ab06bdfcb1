import { describe, expect, it } from 'vitest';
import { checkJsonReply, compileJsonSchema, extractJson } from './json-reply.js';
import { condense, splitText } from './map-reduce.js';

describe('splitText', () => {
  it('cuts at paragraph, then line, then word breaks, never losing text', () => {
    const text = 'aaaa bbbb\ncccc\n\ndddd eeee ffff gggg';
    const parts = splitText(text, 12);
    expect(parts.join('')).toBe(text);
    expect(parts.every((p) => p.length <= 12)).toBe(true);
    expect(parts[0]).toBe('aaaa bbbb\n');
    expect(splitText('x'.repeat(25), 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    expect(splitText('', 10)).toEqual(['']);
  });
});

describe('condense', () => {
  const base = {
    budgetTokens: 300,
    mapOverheadTokens: 50,
    maxReplyTokens: 100,
    signal: new AbortController().signal,
  };

  it('returns material that already fits without a request', async () => {
    const result = await condense({
      ...base,
      material: 'short',
      targetTokens: 100,
      summarise: () => Promise.reject(new Error('no')),
    });
    expect(result).toEqual({ text: 'short', chunks: 1, stages: 0, calls: 0 });
  });

  it('stops instead of looping when summaries do not get shorter', async () => {
    const material = 'word '.repeat(2000);
    await expect(
      condense({
        ...base,
        material,
        targetTokens: 100,
        summarise: (part) => Promise.resolve(`${part} and more`),
      }),
    ).rejects.toThrow(/did not make the material shorter/);
  });

  it('refuses when the instructions leave no room for material', async () => {
    await expect(
      condense({
        ...base,
        mapOverheadTokens: 250,
        material: 'x'.repeat(5000),
        targetTokens: 10,
        summarise: () => Promise.resolve(''),
      }),
    ).rejects.toThrow(/shorten the prompt or raise contextTokens/);
  });
});

describe('json replies', () => {
  it('reads JSON out of fences and after a reasoning block', () => {
    expect(extractJson('```json\n{"a":1}\n```')).toEqual({ ok: true, value: { a: 1 } });
    expect(extractJson('<think>hmm {not json}</think>\n{"a":2}')).toEqual({ ok: true, value: { a: 2 } });
    expect(extractJson('  ')).toEqual({ ok: false, error: 'the reply was empty' });
  });

  it('checks against a JSON Schema: type, properties, required, items, enum', () => {
    const validator = compileJsonSchema({
      type: 'object',
      properties: {
        level: { enum: ['low', 'high'] },
        tags: { type: 'array', items: { type: 'string' } },
      },
      required: ['level'],
    });
    expect(checkJsonReply('{"level":"low","tags":["a"],"extra":true}', validator)).toEqual({
      ok: true,
      value: { level: 'low', tags: ['a'], extra: true },
    });
    for (const bad of ['{"tags":[]}', '{"level":"mid"}', '{"level":"low","tags":[1]}', '[]']) {
      const result = checkJsonReply(bad, validator);
      expect(result.ok, bad).toBe(false);
    }
  });
});
