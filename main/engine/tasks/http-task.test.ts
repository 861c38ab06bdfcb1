import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpTask, redactedUrl, type HttpOutput } from './http-task.js';
import { TaskFailure, type TaskResult } from './task-kind.js';
import { createTaskTestContext, type TaskTestContext } from './task-test-context.js';

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: SeenRequest, res: ServerResponse, hit: number) => void;

interface TestServer {
  base: string;
  requests: SeenRequest[];
  /** Resolves when the server has received its `n`th request (1-based). */
  received: (n: number) => Promise<void>;
}

const servers: Server[] = [];
const contexts: TaskTestContext<'http'>[] = [];

/** A server on 127.0.0.1 and a free port that records every request and answers with `handler`. */
async function serve(handler: Handler): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const waiters = new Map<number, () => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(seen);
      handler(seen, res, requests.length);
      waiters.get(requests.length)?.();
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    received: (n) =>
      requests.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.set(n, resolve)),
  };
}

/** A port on 127.0.0.1 that nothing listens on (a server bound it, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function reply(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, headers);
  res.end(body);
}

const echo: Handler = (req, res) => {
  reply(res, 200, JSON.stringify(req), { 'content-type': 'application/json' });
};

async function context(spec: unknown): Promise<TaskTestContext<'http'>> {
  const created = await createTaskTestContext('http', spec);
  contexts.push(created);
  return created;
}

async function run(spec: unknown): Promise<{ output: HttpOutput; log: string; tc: TaskTestContext<'http'> }> {
  const tc = await context(spec);
  const result = await httpTask.run(tc.ctx);
  return { output: result.output as HttpOutput, log: (await tc.readLog()).toString(), tc };
}

async function failure(running: Promise<TaskResult>): Promise<TaskFailure> {
  const err: unknown = await running.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TaskFailure);
  return err as TaskFailure;
}

async function fail(spec: unknown): Promise<TaskFailure> {
  const tc = await context(spec);
  return failure(httpTask.run(tc.ctx));
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
  await Promise.all(contexts.splice(0).map((c) => c.cleanup()));
});

describe('redactedUrl', () => {
  it('hides passwords and secret-looking query values, and leaves the rest alone', () => {
    expect(
      redactedUrl(new URL('https://user:hunter2@example.test/a?city=Oslo&api_key=abc&token=t&page=2')),
    ).toBe('https://user:***@example.test/a?city=Oslo&api_key=***&token=***&page=2');
    expect(redactedUrl(new URL('https://s3.example.test/x?X-Amz-Signature=f00&X-Amz-Date=1'))).toBe(
      'https://s3.example.test/x?X-Amz-Signature=***&X-Amz-Date=1',
    );
    expect(redactedUrl(new URL('http://127.0.0.1:8080/forecast?city=Oslo'))).toBe(
      'http://127.0.0.1:8080/forecast?city=Oslo',
    );
  });
});

describe('http task: requests', () => {
  it('sends a secret query value as given but never writes it to the log', async () => {
    let seen = '';
    const server = await serve((req, res) => {
      seen = req.url;
      reply(res, 200, 'ok');
    });
    const { log } = await run({ url: `${server.base}/data?token=s3cr3t&city=Oslo` });
    expect(seen).toBe('/data?token=s3cr3t&city=Oslo');
    expect(log).toContain(`» GET ${server.base}/data?token=***&city=Oslo\n`);
    expect(log).not.toContain('s3cr3t');
  });

  it('GETs JSON and returns status, headers, parsed body, size, final url and time', async () => {
    const server = await serve((_req, res) => {
      reply(res, 200, '{"hello":"world"}', { 'content-type': 'application/json', 'x-test': 'yes' });
    });
    const { output, log } = await run({ url: `${server.base}/greeting` });
    expect(output).toMatchObject({
      status: 200,
      statusText: 'OK',
      body: { hello: 'world' },
      bodyBytes: 17,
      url: `${server.base}/greeting`,
    });
    expect(output.headers).toMatchObject({ 'content-type': 'application/json', 'x-test': 'yes' });
    expect(output.ms).toBeGreaterThanOrEqual(0);
    expect(output).not.toHaveProperty('bodyFile');
    expect(log).toContain(`» GET ${server.base}/greeting\n`);
    expect(log).toMatch(/» 200 OK in \S+\n/);
    expect(log).toContain('< x-test: yes\n');
    expect(log).toContain('{"hello":"world"}\n');
  });

  it('sends a json body rendered deeply, with a JSON content type', async () => {
    const server = await serve(echo);
    const { output } = await run({
      url: `${server.base}/items`,
      method: 'POST',
      json: { name: 'a', list: [1, 2] },
    });
    const seen = output.body as SeenRequest;
    expect(seen.method).toBe('POST');
    expect(seen.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen.body)).toEqual({ name: 'a', list: [1, 2] });
  });

  it('sends a text body as text/plain', async () => {
    const server = await serve(echo);
    const { output } = await run({ url: server.base, method: 'PUT', text: 'hello, world' });
    const seen = output.body as SeenRequest;
    expect(seen.headers['content-type']).toBe('text/plain;charset=utf-8');
    expect(seen.body).toBe('hello, world');
  });

  it('sends a form body urlencoded', async () => {
    const server = await serve(echo);
    const { output } = await run({
      url: server.base,
      method: 'POST',
      form: { user: 'ada lovelace', 'a&b': '1=2' },
    });
    const seen = output.body as SeenRequest;
    expect(seen.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(seen.body).toBe('user=ada+lovelace&a%26b=1%3D2');
  });

  it('appends query values to the ones already in the URL', async () => {
    const server = await serve(echo);
    await run({ url: `${server.base}/search?a=1`, query: { b: 2, a: 'x y', flag: true } });
    expect(server.requests[0]?.url).toBe('/search?a=1&b=2&a=x+y&flag=true');
  });

  it('sends the headers given, and a given content type wins over the default', async () => {
    const server = await serve(echo);
    await run({
      url: server.base,
      method: 'POST',
      headers: { 'X-Token': 'abc', 'Content-Type': 'application/vnd.test+json' },
      json: { ok: true },
    });
    expect(server.requests[0]?.headers).toMatchObject({
      'x-token': 'abc',
      'content-type': 'application/vnd.test+json',
    });
  });

  it('sends HEAD and returns no body', async () => {
    const server = await serve((_req, res) => {
      reply(res, 200, 'ignored', { 'content-type': 'text/plain' });
    });
    const { output } = await run({ url: server.base, method: 'HEAD' });
    expect(output).toMatchObject({ status: 200, bodyBytes: 0 });
    expect(output).not.toHaveProperty('body');
  });
});

describe('http task: bodies', () => {
  it('keeps text as text, and parses untyped JSON', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/text') reply(res, 200, '123', { 'content-type': 'text/plain' });
      else reply(res, 200, '[1,2]');
    });
    expect((await run({ url: `${server.base}/text` })).output.body).toBe('123');
    expect((await run({ url: `${server.base}/untyped` })).output.body).toEqual([1, 2]);
  });

  it('keeps garbage that claims to be JSON as text instead of crashing', async () => {
    const server = await serve((_req, res) => {
      reply(res, 200, '{"broken": ', { 'content-type': 'application/json; charset=utf-8' });
    });
    const { output, log } = await run({ url: server.base });
    expect(output.body).toBe('{"broken": ');
    expect(log).toContain('» the body is not valid JSON despite its content type; kept as text\n');
  });

  it('saves a body whose declared length is over maxBodyBytes to a file in staging', async () => {
    const payload = Buffer.alloc(300_000, 'abcdefghij');
    const server = await serve((_req, res) => {
      reply(res, 200, payload, { 'content-type': 'text/plain', 'content-length': String(payload.length) });
    });
    const { output, tc } = await run({ url: server.base, maxBodyBytes: 100_000 });
    expect(output).toMatchObject({
      bodyBytes: payload.length,
      bodyFile: join(tc.ctx.staging, 'http-test_task-1.body'),
    });
    expect(output).not.toHaveProperty('body');
    expect((await readFile(output.bodyFile ?? '')).equals(payload)).toBe(true);
  });

  it('moves a body without a declared length to a file once it grows past maxBodyBytes', async () => {
    const parts = [Buffer.alloc(60_000, 'a'), Buffer.alloc(60_000, 'b'), Buffer.alloc(60_000, 'c')];
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }); // No content-length: chunked.
      for (const part of parts) res.write(part);
      res.end();
    });
    const first = await run({ url: server.base, maxBodyBytes: 100_000 });
    expect(first.output.bodyBytes).toBe(180_000);
    expect((await readFile(first.output.bodyFile ?? '')).equals(Buffer.concat(parts))).toBe(true);
  });

  it('numbers body files so two executions never share one', async () => {
    const server = await serve((_req, res) => {
      reply(res, 200, Buffer.alloc(2000, 'z'), { 'content-type': 'text/plain' });
    });
    const tc = await context({ url: server.base, maxBodyBytes: 1000 });
    const first = (await httpTask.run(tc.ctx)).output as HttpOutput;
    const second = (await httpTask.run(tc.ctx)).output as HttpOutput;
    expect(first.bodyFile).toBe(join(tc.ctx.staging, 'http-test_task-1.body'));
    expect(second.bodyFile).toBe(join(tc.ctx.staging, 'http-test_task-2.body'));
  });

  it('saves a binary body to a file even when it is small', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]);
    const server = await serve((_req, res) => {
      reply(res, 200, png, { 'content-type': 'image/png' });
    });
    const { output } = await run({ url: server.base });
    expect(output.bodyBytes).toBe(png.length);
    expect((await readFile(output.bodyFile ?? '')).equals(png)).toBe(true);
  });
});

describe('http task: status and retries', () => {
  it('fails on a 404 without retrying, with the response in the output', async () => {
    const server = await serve((_req, res) => {
      reply(res, 404, '{"error":"no such thing"}', { 'content-type': 'application/json' });
    });
    const err = await fail({ url: `${server.base}/missing`, retry: { attempts: 3, backoff: 1 } });
    expect(err.message).toBe(`GET ${server.base}/missing → 404 Not Found`);
    expect(err.details.output).toMatchObject({ status: 404, body: { error: 'no such thing' } });
    expect(server.requests).toHaveLength(1);
  });

  it('accepts statuses listed in expectStatus', async () => {
    const server = await serve((_req, res) => {
      reply(res, 404, 'gone');
    });
    const { output } = await run({ url: server.base, expectStatus: [200, 404] });
    expect(output).toMatchObject({ status: 404, body: 'gone' });
  });

  it('retries a 503 and succeeds, noting the retry in the log', async () => {
    const server = await serve((_req, res, hit) => {
      if (hit === 1) reply(res, 503, 'busy', { 'content-type': 'text/plain' });
      else reply(res, 200, 'ok', { 'content-type': 'text/plain' });
    });
    const { output, log } = await run({ url: server.base, retry: { attempts: 3, backoff: 5 } });
    expect(output).toMatchObject({ status: 200, body: 'ok' });
    expect(server.requests).toHaveLength(2);
    expect(log).toContain(
      `» attempt 1 of 3 failed: GET ${server.base}/ → 503 Service Unavailable; retrying in 5ms\n`,
    );
  });

  it('waits exponentially longer between retries when asked', async () => {
    const server = await serve((_req, res) => {
      reply(res, 500, 'down');
    });
    const tc = await context({
      url: server.base,
      retry: { attempts: 3, backoff: 2, strategy: 'exponential' },
    });
    const err = await failure(httpTask.run(tc.ctx));
    expect(err.message).toBe(`GET ${server.base}/ → 500 Internal Server Error (after 3 attempts)`);
    expect(err.details.output).toMatchObject({ status: 500, body: 'down' });
    const log = (await tc.readLog()).toString();
    expect(log).toContain('retrying in 2ms');
    expect(log).toContain('retrying in 4ms');
  });

  it('retries a refused connection, then fails saying what to check', async () => {
    const port = await closedPort();
    const tc = await context({ url: `http://127.0.0.1:${port}/`, retry: { attempts: 2, backoff: 1 } });
    const err = await failure(httpTask.run(tc.ctx));
    expect(err.message).toBe(
      `GET http://127.0.0.1:${port}/ failed: connection refused (ECONNREFUSED) — is the server running and listening on that port? (after 2 attempts)`,
    );
    expect((await tc.readLog()).toString()).toContain('» attempt 1 of 2 failed: ');
  });

  it('times out a request the server never answers, per attempt', async () => {
    const server = await serve(() => undefined);
    const err = await fail({ url: server.base, timeout: '150ms', retry: { attempts: 2, backoff: 1 } });
    expect(err.message).toBe(`GET ${server.base}/ timed out after 150ms (after 2 attempts)`);
    expect(server.requests).toHaveLength(2);
  });
});

describe('http task: cancellation', () => {
  it('stops a request in flight when the signal aborts', async () => {
    const server = await serve(() => undefined);
    const tc = await context({ url: server.base });
    const running = failure(httpTask.run(tc.ctx));
    await server.received(1);
    tc.controller.abort(new Error('cancelled'));
    const err = await running;
    expect(err.message).toBe(`cancelled: GET ${server.base}/`);
  });

  it('stops waiting to retry when the signal aborts', async () => {
    const server = await serve((_req, res) => {
      reply(res, 503, 'busy');
    });
    const tc = await context({ url: server.base, retry: { attempts: 5, backoff: '1h' } });
    const running = failure(httpTask.run(tc.ctx));
    await tc.waitForLog('retrying in');
    const timeout = new Error('timed out after 500 ms');
    timeout.name = 'TaskTimedOut';
    tc.controller.abort(timeout);
    expect((await running).message).toBe(
      `timed out after 500 ms: GET ${server.base}/ (while waiting to retry)`,
    );
    expect(server.requests).toHaveLength(1);
  });

  it('stops a large download midway and leaves no partial file', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(10_000)); // Then never ends.
    });
    const tc = await context({ url: server.base });
    const running = failure(httpTask.run(tc.ctx));
    await server.received(1);
    await tc.waitForLog('200 OK');
    tc.controller.abort(new Error('cancelled'));
    expect((await running).message).toBe(`cancelled: GET ${server.base}/`);
    expect(await readdir(tc.ctx.staging)).toEqual([]);
  });
});

describe('http task: bad input', () => {
  it('refuses URLs that are not http or https', async () => {
    expect((await fail({ url: 'ftp://127.0.0.1/file' })).message).toBe(
      'unsupported URL scheme "ftp:" in ftp://127.0.0.1/file: only http and https URLs work',
    );
    expect((await fail({ url: 'not a url' })).message).toBe(
      'invalid URL "not a url": use an absolute http:// or https:// URL',
    );
  });

  it('refuses a body on GET', async () => {
    expect((await fail({ url: 'http://127.0.0.1:9/', json: { a: 1 } })).message).toMatch(
      /^GET requests cannot carry a body/,
    );
  });

  it('refuses credentials in the URL', async () => {
    expect((await fail({ url: 'http://user:secret@127.0.0.1:9/' })).message).toMatch(/Authorization header/);
  });
});
