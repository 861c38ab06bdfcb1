import { request } from 'node:http';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { helloOperation, startTestServer, tempDataDir, type TestServer } from '../api/api-test-support.js';
import { methodNames, wsProtocol } from '../api/contract.js';
import { silentLogger } from '../engine/logger.js';
import { UltravisorNode } from '../engine/node.js';
import { ApiServerService } from './api-server-service.js';
import { AuthThrottle } from './auth-throttle.js';
import { checkFileTicket, fileTicket, ticketLifetimeMs } from './file-tickets.js';
import { generateToken, loadOrCreateToken, tokenMatches, tokenPath } from './node-token.js';
import { readServeInfo, serveInfoPath } from './serve-info.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A test server that never delays failed attempts (the throttle has its own tests). */
async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const target = await startTestServer({
    throttle: new AuthThrottle({ freeFailures: 1_000_000 }),
    ...options,
  });
  cleanups.push(() => target.close());
  return target;
}

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One raw HTTP request (node:http, so nothing adds or hides headers). */
function raw(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${options.path}`,
      { method: options.method ?? 'POST', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function json(reply: RawReply): {
  ok: boolean;
  error?: { code: string; message: string; issues?: { path: string; message: string }[] };
} {
  return JSON.parse(reply.body) as never;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

interface OpenSocket {
  ws: WebSocket;
  /** Every message so far (collected from the first, which may arrive with the handshake). */
  messages: { type: string }[];
  /** Resolves with the first message (so far or to come) of this type. */
  next(type: string): Promise<{ type: string }>;
}

/** Opens a WebSocket and resolves with it once open, or with the HTTP status the upgrade got. */
function openSocket(
  url: string,
  options: { protocols?: string[]; origin?: string } = {},
): Promise<OpenSocket | { status: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/events`, options.protocols ?? [], {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
    });
    const messages: { type: string }[] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (data: Buffer) => {
      messages.push(JSON.parse(data.toString()) as { type: string });
      for (const w of [...waiters]) w();
    });
    const next = (type: string): Promise<{ type: string }> =>
      new Promise((found) => {
        const check = (): void => {
          const m = messages.find((x) => x.type === type);
          if (m === undefined) return;
          waiters.delete(check);
          found(m);
        };
        waiters.add(check);
        check();
      });
    ws.once('open', () => resolve({ ws, messages, next }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', reject);
  });
}

/** Resolves with the messages and the close code once the socket closes. */
function untilClosed(socket: OpenSocket): Promise<{ code: number; messages: { type: string }[] }> {
  return new Promise((resolve) =>
    socket.ws.once('close', (code) => resolve({ code, messages: socket.messages })),
  );
}

describe('authentication', () => {
  it('rejects every method of the contract without a token and with a wrong one', async () => {
    const target = await server();
    const wrong = generateToken();
    for (const method of methodNames) {
      for (const headers of [
        {},
        bearer(wrong),
        { authorization: `Basic ${target.token}` },
        bearer(`${target.token}x`),
      ]) {
        const reply = await raw(target.url, { path: `/api/${method}`, headers, body: '{}' });
        expect(reply.status, `${method} ${JSON.stringify(headers)}`).toBe(401);
        expect(json(reply).error?.code).toBe('unauthorized');
        expect(reply.headers['www-authenticate']).toContain('Bearer');
      }
    }
  });

  it('rejects every method over the WebSocket without a token and with a wrong one', async () => {
    const target = await server();
    for (const method of methodNames) {
      // No token at all: the first message must be auth, so a call closes the socket unanswered.
      const opened = await openSocket(target.url, { protocols: [wsProtocol] });
      if (!('ws' in opened)) throw new Error(`upgrade failed: ${opened.status}`);
      const closed = untilClosed(opened);
      opened.ws.send(JSON.stringify({ type: 'call', id: 1, method, input: {} }));
      const { code, messages } = await closed;
      expect(code, method).toBe(4401);
      expect(messages.filter((m) => m.type === 'reply')).toEqual([]);

      // A wrong token in the auth message.
      const second = await openSocket(target.url, { protocols: [wsProtocol] });
      if (!('ws' in second)) throw new Error('upgrade failed');
      const closedToo = untilClosed(second);
      second.ws.send(JSON.stringify({ type: 'auth', token: generateToken() }));
      second.ws.send(JSON.stringify({ type: 'call', id: 2, method, input: {} }));
      const after = await closedToo;
      expect(after.code, method).toBe(4401);
      expect(after.messages.filter((m) => m.type === 'reply')).toEqual([]);
    }
    // A wrong token in the handshake never gets a socket.
    const refused = await openSocket(target.url, { protocols: [wsProtocol, `token.${generateToken()}`] });
    expect(refused).toEqual({ status: 401 });
  });

  it('accepts the token as a bearer header, a subprotocol or a first auth message', async () => {
    const target = await server();
    const ok = await raw(target.url, { path: '/api/node.status', headers: bearer(target.token), body: '' });
    expect(ok.status).toBe(200);
    expect(json(ok).ok).toBe(true);

    const viaProtocol = await openSocket(target.url, { protocols: [wsProtocol, `token.${target.token}`] });
    if (!('ws' in viaProtocol)) throw new Error('upgrade failed');
    expect(viaProtocol.ws.protocol).toBe(wsProtocol);
    expect(await viaProtocol.next('ready')).toMatchObject({ type: 'ready', nodeId: target.api.identity.id });
    expect(viaProtocol.messages[0]?.type).toBe('ready');
    viaProtocol.ws.send(JSON.stringify({ type: 'call', id: 'a', method: 'operations.list', input: {} }));
    expect(await viaProtocol.next('reply')).toMatchObject({ type: 'reply', id: 'a', reply: { ok: true } });
    viaProtocol.ws.close();

    const viaMessage = await openSocket(target.url);
    if (!('ws' in viaMessage)) throw new Error('upgrade failed');
    viaMessage.ws.send(JSON.stringify({ type: 'auth', token: target.token }));
    expect(await viaMessage.next('ready')).toMatchObject({ type: 'ready' });
    viaMessage.ws.close();
  });

  it('closes a WebSocket that never authenticates', async () => {
    const target = await server({ wsAuthTimeoutMs: 50 });
    const opened = await openSocket(target.url);
    if (!('ws' in opened)) throw new Error('upgrade failed');
    expect((await untilClosed(opened)).code).toBe(4401);
  });

  it('slows down repeated failures from one address, and lets a valid token through at once', async () => {
    const delays: number[] = [];
    const target = await server({
      throttle: new AuthThrottle({ freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400 }),
      delay: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 6; i++) {
      const reply = await raw(target.url, { path: '/api/node.status', headers: bearer('wrong'), body: '{}' });
      expect(reply.status).toBe(401);
    }
    expect(delays).toEqual([100, 200, 400, 400]);
    const ok = await raw(target.url, { path: '/api/node.status', headers: bearer(target.token), body: '{}' });
    expect(ok.status).toBe(200);
    expect(delays).toHaveLength(4);
  });
});

describe('the throttle', () => {
  it('forgets old failures and refuses when too many answers are already waiting', () => {
    let now = 0;
    const throttle = new AuthThrottle({
      freeFailures: 1,
      baseDelayMs: 10,
      windowMs: 1000,
      maxPending: 1,
      now: () => now,
    });
    expect(throttle.fail('a')).toEqual({ action: 'delay', delayMs: 0 });
    expect(throttle.fail('a')).toEqual({ action: 'delay', delayMs: 10 });
    const release = throttle.hold('a');
    expect(throttle.fail('a')).toEqual({ action: 'refuse' });
    expect(throttle.fail('b')).toEqual({ action: 'delay', delayMs: 0 });
    release();
    now = 5000;
    expect(throttle.fail('a')).toEqual({ action: 'delay', delayMs: 0 });
  });
});

describe('the token', () => {
  it('is generated once, 256 bits of base64url, readable by its owner only', async () => {
    const { dir, remove } = await tempDataDir();
    cleanups.push(remove);
    const token = await loadOrCreateToken(dir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect((await stat(tokenPath(dir))).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateToken(dir)).toBe(token);
    await chmod(tokenPath(dir), 0o644);
    expect(await loadOrCreateToken(dir)).toBe(token);
    expect((await stat(tokenPath(dir))).mode & 0o777).toBe(0o600);
  });

  it('refuses a token file that holds no token', async () => {
    const { dir, remove } = await tempDataDir();
    cleanups.push(remove);
    await writeFile(tokenPath(dir), 'short\n', { mode: 0o600 });
    await expect(loadOrCreateToken(dir)).rejects.toThrow(/delete it/);
  });

  it('compares whole tokens only', () => {
    const token = generateToken();
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(token, undefined)).toBe(false);
    expect(tokenMatches(token, '')).toBe(false);
    expect(tokenMatches(token, token.slice(0, -1))).toBe(false);
    expect(tokenMatches(token, `${token}=`)).toBe(false);
  });
});

describe('requests', () => {
  it('answers malformed JSON, an oversized body, an unknown method and bad input clearly', async () => {
    const target = await server({ maxBodyBytes: 1024 });
    const auth = bearer(target.token);

    const malformed = await raw(target.url, { path: '/api/node.status', headers: auth, body: '{"a":' });
    expect(malformed.status).toBe(400);
    expect(json(malformed).error?.code).toBe('bad-request');
    expect(json(malformed).error?.message).toContain('not JSON');

    const big = await raw(target.url, {
      path: '/api/operations.save',
      headers: auth,
      body: JSON.stringify({ text: 'x'.repeat(2048) }),
    });
    expect(big.status).toBe(413);
    expect(json(big).error?.code).toBe('payload-too-large');

    const unknown = await raw(target.url, { path: '/api/nodes.explode', headers: auth, body: '{}' });
    expect(unknown.status).toBe(404);
    expect(json(unknown).error?.code).toBe('not-found');

    const bad = await raw(target.url, {
      path: '/api/operations.trigger',
      headers: auth,
      body: JSON.stringify({ id: 'hello', params: { city: 'Oslo' }, extra: true }),
    });
    expect(bad.status).toBe(400);
    expect(json(bad).error?.issues).toEqual([{ path: '', message: 'Unrecognized key: "extra"' }]);

    const typed = await raw(target.url, {
      path: '/api/state.set',
      headers: auth,
      body: JSON.stringify({ scope: 'global', path: 5 }),
    });
    expect(typed.status).toBe(400);
    expect(json(typed).error?.message).toContain('path: expected string, received number');

    const get = await raw(target.url, { method: 'GET', path: '/api/node.status', headers: auth });
    expect(get.status).toBe(405);
  });

  it('never sends CORS headers, not even to a preflight', async () => {
    const target = await server();
    const origin = `http://127.0.0.1:${target.port}`;
    const replies = [
      await raw(target.url, {
        method: 'OPTIONS',
        path: '/api/node.status',
        headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
      }),
      await raw(target.url, {
        path: '/api/node.status',
        headers: { ...bearer(target.token), origin },
        body: '{}',
      }),
      await raw(target.url, { method: 'GET', path: '/', headers: { origin } }),
    ];
    for (const reply of replies) {
      expect(Object.keys(reply.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
    expect(replies[1]?.status).toBe(200);
  });

  it('refuses API calls and WebSockets from another origin, even with the token', async () => {
    const target = await server();
    const evil = await raw(target.url, {
      path: '/api/node.status',
      headers: { ...bearer(target.token), origin: 'http://evil.example' },
      body: '{}',
    });
    expect(evil.status).toBe(403);

    const rebinding = await openSocket(target.url, {
      protocols: [wsProtocol, `token.${target.token}`],
      origin: `http://attacker.example:${target.port}`,
    });
    expect(rebinding).toEqual({ status: 403 });

    for (const origin of [undefined, `http://127.0.0.1:${target.port}`, `http://localhost:${target.port}`]) {
      const ok = await openSocket(target.url, {
        protocols: [wsProtocol, `token.${target.token}`],
        ...(origin === undefined ? {} : { origin }),
      });
      expect('ws' in ok, String(origin)).toBe(true);
      if ('ws' in ok) ok.ws.close();
    }
    const otherPort = await openSocket(target.url, {
      protocols: [wsProtocol, `token.${target.token}`],
      origin: `http://127.0.0.1:${target.port + 1}`,
    });
    expect(otherPort).toEqual({ status: 403 });
  });
});

describe('the web UI', () => {
  it('says how to build it when it is missing', async () => {
    const target = await server();
    const reply = await raw(target.url, { method: 'GET', path: '/' });
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toContain('text/plain');
    expect(reply.body).toContain('npm run build:renderer');
  });

  it('serves the built renderer without the token, with a strict policy, and nothing outside it', async () => {
    const { dir, remove } = await tempDataDir('uv-static-');
    cleanups.push(remove);
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Ultravisor</title>');
    await writeFile(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const target = await server({ staticDir: dir });

    const index = await raw(target.url, { method: 'GET', path: '/' });
    expect(index.status).toBe(200);
    expect(index.body).toContain('Ultravisor');
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(index.headers['x-frame-options']).toBe('DENY');

    const script = await raw(target.url, { method: 'GET', path: '/assets/app.js' });
    expect(script.headers['content-type']).toContain('text/javascript');

    const route = await raw(target.url, { method: 'GET', path: '/runs/abc' });
    expect(route.body).toContain('Ultravisor');

    for (const path of ['/../token', '/%2e%2e/token', '/assets/..%2f..%2ftoken', '/%00']) {
      const reply = await raw(target.url, { method: 'GET', path });
      expect(reply.body, path).not.toContain(target.token);
      // The client may normalise `/../x` to `/x`, which is then a client route: the app's page.
      if (reply.status === 200) expect(reply.body, path).toContain('<title>Ultravisor</title>');
      else expect([400, 404], path).toContain(reply.status);
    }
    const missing = await raw(target.url, { method: 'GET', path: '/assets/nope.js' });
    expect(missing.status).toBe(404);
  });
});

describe('file downloads', () => {
  it('need the token or a download ticket, and are never rendered as a page', async () => {
    const target = await server();
    await target.node.addOperation(helloOperation, 'hello.yaml');
    const outcome = target.node.trigger('hello', {});
    if (outcome.type !== 'started') throw new Error('not started');
    await target.node.whenIdle();
    const reply = await target.api.call('files.list', {}, { transport: 'http' });
    if (!reply.ok) throw new Error(reply.error.message);
    const file = (reply.result as { files: { id: number; download: string }[] }).files[0];
    if (file === undefined) throw new Error('no file');

    const viaTicket = await raw(target.url, { method: 'GET', path: file.download });
    expect(viaTicket.status).toBe(200);
    expect(viaTicket.body).toBe('hello world');
    expect(viaTicket.headers['content-disposition']).toMatch(/^attachment; filename\*=UTF-8''greeting\.txt$/);
    expect(viaTicket.headers['content-security-policy']).toContain('sandbox');

    const viaHeader = await raw(target.url, {
      method: 'GET',
      path: `/files/${file.id}`,
      headers: bearer(target.token),
    });
    expect(viaHeader.status).toBe(200);

    const none = await raw(target.url, { method: 'GET', path: `/files/${file.id}` });
    expect(none.status).toBe(401);
    const otherFile = await raw(target.url, {
      method: 'GET',
      path: file.download.replace(`/files/${file.id}`, `/files/${file.id + 1}`),
    });
    expect(otherFile.status).toBe(401);
    const tampered = await raw(target.url, { method: 'GET', path: `${file.download.slice(0, -2)}xx` });
    expect(tampered.status).toBe(401);
    const gone = await raw(target.url, { method: 'GET', path: '/files/999', headers: bearer(target.token) });
    expect(gone.status).toBe(404);
  });

  it('tickets expire and name one file', () => {
    const ticket = fileTicket('key', 7, 1000);
    expect(checkFileTicket('key', 7, ticket, 1000)).toBe(true);
    expect(checkFileTicket('key', 8, ticket, 1000)).toBe(false);
    expect(checkFileTicket('other', 7, ticket, 1000)).toBe(false);
    expect(checkFileTicket('key', 7, ticket, 1000 + ticketLifetimeMs)).toBe(false);
  });
});

describe('the server as a node service', () => {
  it('writes serve.json when listening and removes it at stop', async () => {
    const { dir, remove } = await tempDataDir();
    cleanups.push(remove);
    const node = await UltravisorNode.open({ dataDir: dir, logger: silentLogger(), watchDataDir: false });
    const service = new ApiServerService({ port: 0 });
    await node.use(service);
    await node.start();
    try {
      const info = await readServeInfo(dir);
      expect(info).toEqual({ url: service.info?.url, pid: process.pid });
      expect(info?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const token = (await readFile(tokenPath(dir), 'utf8')).trim();
      expect(service.info?.token).toBe(token);
      const reply = await raw(info?.url ?? '', {
        path: '/api/node.status',
        headers: bearer(token),
        body: '{}',
      });
      expect(reply.status).toBe(200);
    } finally {
      await node.stop({ graceMs: 0 });
      node.engine.close();
    }
    await expect(stat(serveInfoPath(dir))).rejects.toThrow();
  });
});
