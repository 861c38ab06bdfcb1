import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeOllama } from './fake-ollama-server.js';
import { startFakeOpenAi } from './fake-openai-server.js';
import type { FakeBehaviour, FakeLlmServer } from './fake-llm-server.js';
import { LlmError, type LlmProvider } from './llm-provider.js';
import { OllamaProvider } from './ollama-provider.js';
import { OpenAiProvider } from './openai-provider.js';
import { refusedUrl } from './test-support.js';

interface Flavour {
  name: string;
  start(behaviour?: FakeBehaviour): Promise<FakeLlmServer>;
  provider(url: string, options?: { timeoutMs?: number }): LlmProvider;
  chatPath: string;
  model: string;
}

const flavours: Flavour[] = [
  {
    name: 'ollama',
    start: startFakeOllama,
    provider: (url, o) =>
      new OllamaProvider({ host: url, model: 'llama3.2', timeoutMs: o?.timeoutMs ?? 10_000, env: {} }),
    chatPath: '/api/chat',
    model: 'llama3.2',
  },
  {
    name: 'openai',
    start: startFakeOpenAi,
    provider: (url, o) =>
      new OpenAiProvider({ baseUrl: `${url}/v1`, model: 'local-model', timeoutMs: o?.timeoutMs ?? 10_000 }),
    chatPath: '/v1/chat/completions',
    model: 'local-model',
  },
];

async function llmError(promise: Promise<unknown>): Promise<LlmError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LlmError);
  return err as LlmError;
}

describe.each(flavours)('$name provider (real client against a fake server)', (flavour) => {
  let server: FakeLlmServer;
  beforeEach(async () => {
    server = await flavour.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('streams a reply token by token and reports model and token counts', async () => {
    server.behaviour = { reply: 'The backup finished in twelve seconds.' };
    const tokens: string[] = [];
    const result = await flavour.provider(server.url).chat({
      system: 'Be brief.',
      prompt: 'How did it go?',
      signal: new AbortController().signal,
      onToken: (t) => tokens.push(t),
    });
    expect(result.text).toBe('The backup finished in twelve seconds.');
    expect(tokens.length).toBeGreaterThan(3);
    expect(tokens.join('')).toBe(result.text);
    expect(result.model).toBe(flavour.model);
    expect(result.completionTokens).toBe(6);
    expect(result.promptTokens).toBeGreaterThan(0);
    const [seen] = server.chats(flavour.chatPath);
    expect(seen).toMatchObject({
      system: 'Be brief.',
      prompt: 'How did it go?',
      stream: true,
      model: flavour.model,
    });
  });

  it('passes a JSON schema on as the reply format', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
    server.behaviour = { reply: '{"ok":true}' };
    await flavour
      .provider(server.url)
      .chat({ prompt: 'ok?', format: schema, signal: new AbortController().signal });
    const [seen] = server.chats(flavour.chatPath);
    expect(JSON.stringify(seen?.format)).toContain('"ok"');
  });

  it('lists models and reports health', async () => {
    const provider = flavour.provider(server.url);
    const models = await provider.listModels();
    expect(models.map((m) => m.name)).toEqual([flavour.model]);
    await expect(provider.health()).resolves.toMatchObject({ ok: true, models: 1, provider: flavour.name });
  });

  it('says the provider is down when the connection is refused', async () => {
    const provider = flavour.provider(await refusedUrl());
    const err = await llmError(provider.chat({ prompt: 'hi', signal: new AbortController().signal }));
    expect(err.code).toBe('unavailable');
    expect(err.message).toMatch(/not reachable/);
    const health = await provider.health();
    expect(health.ok).toBe(false);
    expect(health.error).toMatch(/not reachable/);
  });

  it('times out a server that never answers, and hangs up on it', async () => {
    server.behaviour = { stall: 'headers' };
    const provider = flavour.provider(server.url, { timeoutMs: 300 });
    const err = await llmError(provider.chat({ prompt: 'hi', signal: new AbortController().signal }));
    expect(err.code).toBe('timeout');
    expect(err.message).toMatch(/within 300ms/);
    await server.waitForAbandoned(1);
  });

  it('times out a reply that stops streaming half way', async () => {
    server.behaviour = { stall: 'mid-stream', reply: 'one two three' };
    const tokens: string[] = [];
    const provider = flavour.provider(server.url, { timeoutMs: 300 });
    const err = await llmError(
      provider.chat({ prompt: 'hi', signal: new AbortController().signal, onToken: (t) => tokens.push(t) }),
    );
    expect(err.code).toBe('timeout');
    expect(tokens).toEqual(['one']);
    await server.waitForAbandoned(1);
  });

  it('reports HTTP 500 with the server message', async () => {
    server.behaviour = { status: 500 };
    const err = await llmError(
      flavour.provider(server.url).chat({ prompt: 'hi', signal: new AbortController().signal }),
    );
    expect(err.code).toBe('http');
    expect(err.details.status).toBe(500);
    expect(err.message).toMatch(/HTTP 500: fake failure 500/);
  });

  it('reports a malformed stream', async () => {
    // The ollama client warns on console for each line it cannot parse; keep the output clean.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      server.behaviour = { malformed: true };
      const err = await llmError(
        flavour.provider(server.url).chat({ prompt: 'hi', signal: new AbortController().signal }),
      );
      expect(err.code).toBe('malformed');
    } finally {
      warn.mockRestore();
    }
  });

  it('reports a malformed model list', async () => {
    server.behaviour = { malformed: true };
    const err = await llmError(flavour.provider(server.url).listModels());
    expect(err.code).toBe('malformed');
  });

  it('stops when the caller aborts', async () => {
    server.behaviour = { stall: 'headers' };
    const controller = new AbortController();
    const pending = flavour.provider(server.url).chat({ prompt: 'hi', signal: controller.signal });
    await server.waitForRequests(flavour.chatPath, 1);
    controller.abort(new Error('run cancelled'));
    const err = await llmError(pending);
    expect(err.code).toBe('aborted');
    await server.waitForAbandoned(1);
  });
});
