import { describe, expect, it } from 'vitest';
import {
  defaultLlmSettings,
  llmSettingsSchema,
  normaliseOllamaHost,
  normaliseOpenAiBaseUrl,
  resolveLlmSettings,
  resolveOllamaHost,
} from './llm-settings.js';

describe('normaliseOllamaHost (as the Ollama CLI reads OLLAMA_HOST)', () => {
  it.each([
    ['nas', 'http://nas:11434'],
    ['nas:1234', 'http://nas:1234'],
    [':1234', 'http://127.0.0.1:1234'],
    ['http://nas', 'http://nas:80'],
    ['https://ollama.example.com', 'https://ollama.example.com:443'],
    ['https://ollama.example.com/proxy/', 'https://ollama.example.com:443/proxy'],
    ['"nas:1234"', 'http://nas:1234'],
    ['0.0.0.0', 'http://127.0.0.1:11434'],
    ['0.0.0.0:9999', 'http://127.0.0.1:9999'],
    ['[::1]:4000', 'http://[::1]:4000'],
    ['::1', 'http://[::1]:11434'],
    ['nas:notaport', 'http://nas:11434'],
    ['  ', 'http://127.0.0.1:11434'],
  ])('%s → %s', (raw, expected) => {
    expect(normaliseOllamaHost(raw)).toBe(expected);
  });

  it('takes the settings first, then OLLAMA_HOST, then the default', () => {
    expect(resolveOllamaHost('a:1', { OLLAMA_HOST: 'b:2' })).toBe('http://a:1');
    expect(resolveOllamaHost(undefined, { OLLAMA_HOST: 'b:2' })).toBe('http://b:2');
    expect(resolveOllamaHost(undefined, { OLLAMA_HOST: '' })).toBe('http://127.0.0.1:11434');
    expect(resolveOllamaHost(undefined, {})).toBe('http://127.0.0.1:11434');
  });
});

describe('normaliseOpenAiBaseUrl', () => {
  it.each([
    [undefined, 'http://127.0.0.1:8080/v1'],
    ['http://localhost:1234', 'http://localhost:1234/v1'],
    ['http://localhost:1234/v1/', 'http://localhost:1234/v1'],
    ['localhost:8000/v1', 'http://localhost:8000/v1'],
    ['https://gpu.lan/openai/v1', 'https://gpu.lan/openai/v1'],
  ])('%s → %s', (raw, expected) => {
    expect(normaliseOpenAiBaseUrl(raw)).toBe(expected);
  });
});

describe('llm settings', () => {
  it('has defaults: ollama, one request at a time, a bounded queue', () => {
    expect(defaultLlmSettings()).toEqual({
      provider: 'ollama',
      model: 'llama3.2',
      timeout: 60_000,
      concurrency: 1,
      maxQueue: 16,
    });
  });

  it('parses durations and rejects unknown keys', () => {
    expect(llmSettingsSchema.parse({ timeout: '2m' }).timeout).toBe(120_000);
    expect(llmSettingsSchema.safeParse({ modle: 'x' }).success).toBe(false);
  });

  it('layers operation then task overrides over the node settings', () => {
    const node = llmSettingsSchema.parse({ host: 'nas', model: 'llama3.2', timeout: '30s' });
    const resolved = resolveLlmSettings(
      node,
      { model: 'qwen2.5', timeout: 90_000 },
      { provider: 'openai', baseUrl: 'http://gpu:8080/v1' },
    );
    expect(resolved).toMatchObject({
      provider: 'openai',
      host: 'nas',
      baseUrl: 'http://gpu:8080/v1',
      model: 'qwen2.5',
      timeout: 90_000,
      concurrency: 1,
    });
    expect(node.model).toBe('llama3.2');
  });
});
