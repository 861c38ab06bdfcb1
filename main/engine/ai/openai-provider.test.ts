import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOpenAi } from './fake-openai-server.js';
import type { FakeLlmServer } from './fake-llm-server.js';
import { LlmError } from './llm-provider.js';
import { OpenAiProvider } from './openai-provider.js';

describe('OpenAiProvider', () => {
  let server: FakeLlmServer;
  beforeEach(async () => {
    server = await startFakeOpenAi({ models: ['qwen2.5-3b'] });
  });
  afterEach(async () => {
    await server.close();
  });

  it('adds /v1 to a base URL without a path', async () => {
    const provider = new OpenAiProvider({ baseUrl: server.url, model: 'qwen2.5-3b', timeoutMs: 5000 });
    expect(provider.endpoint).toBe(`${server.url}/v1`);
    await expect(provider.listModels()).resolves.toEqual([{ name: 'qwen2.5-3b' }]);
  });

  it('sends the API key as a bearer token, and explains a 401', async () => {
    server.behaviour = { ...server.behaviour, apiKey: 'sekrit' };
    const good = new OpenAiProvider({
      baseUrl: server.url,
      apiKey: 'sekrit',
      model: 'qwen2.5-3b',
      timeoutMs: 5000,
    });
    await expect(good.chat({ prompt: 'hi', signal: new AbortController().signal })).resolves.toMatchObject({
      text: 'Hello from the fake model.',
    });
    const bad = new OpenAiProvider({
      baseUrl: server.url,
      apiKey: 'wrong',
      model: 'qwen2.5-3b',
      timeoutMs: 5000,
    });
    const err: unknown = await bad
      .chat({ prompt: 'hi', signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).message).toMatch(/HTTP 401: Invalid API key: check the llm apiKey/);
  });

  it('asks for a JSON object, or for a schema, through response_format', async () => {
    const provider = new OpenAiProvider({ baseUrl: server.url, model: 'qwen2.5-3b', timeoutMs: 5000 });
    await provider.chat({ prompt: 'a', format: 'json', maxTokens: 20, signal: new AbortController().signal });
    await provider.chat({ prompt: 'b', format: { type: 'object' }, signal: new AbortController().signal });
    const [first, second] = server.chats('/v1/chat/completions');
    expect(first?.format).toEqual({ type: 'json_object' });
    expect(first?.options).toMatchObject({ max_tokens: 20 });
    expect(second?.format).toMatchObject({
      type: 'json_schema',
      json_schema: { schema: { type: 'object' } },
    });
  });

  it('reads the context window from /models', async () => {
    server.behaviour = { ...server.behaviour, contextLength: 4096 };
    const provider = new OpenAiProvider({ baseUrl: server.url, model: 'qwen2.5-3b', timeoutMs: 5000 });
    await expect(provider.contextTokens()).resolves.toBe(4096);
    await expect(provider.contextTokens('other')).resolves.toBeUndefined();
  });
});
