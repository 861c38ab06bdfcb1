import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeOllama } from './fake-ollama-server.js';
import type { FakeLlmServer } from './fake-llm-server.js';
import { LlmError } from './llm-provider.js';
import { maxAutoContextTokens, OllamaProvider } from './ollama-provider.js';

describe('OllamaProvider', () => {
  let server: FakeLlmServer;
  beforeEach(async () => {
    server = await startFakeOllama();
  });
  afterEach(async () => {
    await server.close();
  });

  it('finds the server through OLLAMA_HOST given as bare host:port, as the Ollama CLI does', async () => {
    const port = new URL(server.url).port;
    const provider = new OllamaProvider({
      model: 'llama3.2',
      timeoutMs: 5000,
      env: { OLLAMA_HOST: `127.0.0.1:${port}` },
    });
    expect(provider.endpoint).toBe(`http://127.0.0.1:${port}`);
    await expect(provider.health()).resolves.toMatchObject({ ok: true });
  });

  it('prefers the settings host over OLLAMA_HOST', () => {
    const provider = new OllamaProvider({
      host: server.url,
      model: 'llama3.2',
      timeoutMs: 5000,
      env: { OLLAMA_HOST: 'elsewhere:1' },
    });
    expect(provider.endpoint).toBe(server.url);
  });

  it('asks /api/show for the context window, caps it, caches it and sends it as num_ctx', async () => {
    server.behaviour = { contextLength: 131072 };
    const provider = new OllamaProvider({ host: server.url, model: 'llama3.2', timeoutMs: 5000, env: {} });
    await expect(provider.contextTokens()).resolves.toBe(maxAutoContextTokens);
    await provider.chat({
      prompt: 'a',
      signal: new AbortController().signal,
      maxTokens: 50,
      temperature: 0.1,
    });
    await provider.chat({ prompt: 'b', signal: new AbortController().signal });
    expect(server.count('/api/show')).toBe(1);
    const [first] = server.chats('/api/chat');
    expect(first?.options).toMatchObject({
      num_ctx: maxAutoContextTokens,
      num_predict: 50,
      temperature: 0.1,
    });
  });

  it('uses a small advertised context as is', async () => {
    server.behaviour = { contextLength: 2048 };
    const provider = new OllamaProvider({ host: server.url, model: 'llama3.2', timeoutMs: 5000, env: {} });
    await expect(provider.contextTokens()).resolves.toBe(2048);
  });

  it('uses the configured context without asking the server', async () => {
    const provider = new OllamaProvider({
      host: server.url,
      model: 'llama3.2',
      timeoutMs: 5000,
      env: {},
      contextTokens: 1024,
    });
    await provider.chat({ prompt: 'a', signal: new AbortController().signal });
    expect(server.count('/api/show')).toBe(0);
    expect(server.chats('/api/chat')[0]?.options).toMatchObject({ num_ctx: 1024 });
  });

  it('reports a non-JSON error page without the client printing to stdout', async () => {
    const log = vi.spyOn(console, 'log');
    try {
      const proxy = createServer((_req, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<h1>502 Bad Gateway</h1>');
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      const { port } = proxy.address() as AddressInfo;
      const provider = new OllamaProvider({
        host: `http://127.0.0.1:${port}`,
        model: 'llama3.2',
        timeoutMs: 5000,
        env: {},
      });
      const err: unknown = await provider
        .chat({ prompt: 'a', signal: new AbortController().signal })
        .catch((e: unknown) => e);
      proxy.close();
      expect((err as LlmError).message).toMatch(/HTTP 502: <h1>502 Bad Gateway<\/h1>/);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('tells the user to pull a model the server does not have', async () => {
    const provider = new OllamaProvider({ host: server.url, model: 'mistral', timeoutMs: 5000, env: {} });
    const err: unknown = await provider
      .chat({ prompt: 'a', signal: new AbortController().signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LlmError);
    expect((err as LlmError).details.status).toBe(404);
    expect((err as LlmError).message).toMatch(/ollama pull mistral/);
  });
});
