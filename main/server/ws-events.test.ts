import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  helloOperation,
  recordEvents,
  startTestServer,
  startTestNode,
  type TestServer,
} from '../api/api-test-support.js';
import { ApiClient, httpTransport, type MinimalSocket } from '../api/contract-client.js';
import { wsProtocol } from '../api/contract.js';
import { nodeApiClient, nodeSocketFactory } from '../api/node-api-client.js';
import { silentLogger } from '../engine/logger.js';
import { AuthThrottle } from './auth-throttle.js';
import { defaultBackpressure, WsSession, type SessionSocket } from './ws-session.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const target = await startTestServer({
    throttle: new AuthThrottle({ freeFailures: 1_000_000 }),
    ...options,
  });
  cleanups.push(() => target.close());
  await target.node.addOperation(helloOperation, 'hello.yaml');
  return target;
}

function client(target: TestServer): ApiClient {
  const c = nodeApiClient({ url: target.url, token: target.token, backoffMs: [10, 20, 50] });
  cleanups.push(() => c.close());
  return c;
}

async function runHello(target: TestServer, who = 'world'): Promise<string> {
  const outcome = target.node.trigger('hello', { who });
  if (outcome.type !== 'started') throw new Error(`not started: ${outcome.type}`);
  await target.node.whenIdle();
  return outcome.runId;
}

describe('events over the WebSocket', () => {
  it('streams a run: started, progress, log lines at their offsets, ended', async () => {
    const target = await server();
    const c = client(target);
    const recorder = await recordEvents(c, ['run.started', 'run.progress', 'task.log', 'run.ended'], {
      logs: '*',
    });
    const reply = await c.call('operations.trigger', { id: 'hello' });
    if (reply.outcome !== 'started') throw new Error('not started');
    const ended = await recorder.waitFor('run.ended', (e) => e.runId === reply.runId);
    expect(ended).toMatchObject({ operationId: 'hello', status: 'success' });

    const names = recorder.events.map((e) => e.event);
    expect(names[0]).toBe('run.started');
    expect(names[names.length - 1]).toBe('run.ended');
    expect(names).toContain('run.progress');
    const seqs = recorder.events.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    // The streamed log, stitched by offset, is the log on disk.
    const logs = recorder.events
      .filter((e) => e.event === 'task.log')
      .map((e) => e.payload as { taskId: string; offset: number; text: string })
      .filter((e) => e.taskId === 'greet');
    let stitched = '';
    for (const chunk of logs) {
      expect(chunk.offset).toBe(Buffer.byteLength(stitched));
      stitched += chunk.text;
    }
    const read = await c.call('logs.read', { runId: reply.runId, taskId: 'greet' });
    expect(stitched).toBe(read.text);
    expect(stitched).toContain('hello world');
  });

  it('sends log lines only to connections following that run', async () => {
    const target = await server();
    const following = client(target);
    const notFollowing = client(target);
    const a = await recordEvents(following, ['task.log', 'run.ended'], { logs: '*' });
    const b = await recordEvents(notFollowing, ['task.log', 'run.ended']);
    const runId = await runHello(target);
    await a.waitFor('run.ended', (e) => e.runId === runId);
    await b.waitFor('run.ended', (e) => e.runId === runId);
    expect(a.events.some((e) => e.event === 'task.log')).toBe(true);
    expect(b.events.some((e) => e.event === 'task.log')).toBe(false);
  });

  it('tells subscribers about state, operation and status changes', async () => {
    const target = await server();
    const c = client(target);
    const recorder = await recordEvents(c, ['state.changed', 'operations.changed', 'node.status']);
    await c.call('state.set', { scope: 'global', path: 'a.b', value: 1 });
    expect(await recorder.waitFor('state.changed')).toEqual({
      scope: 'global',
      path: 'a.b',
      op: 'set',
      value: 1,
    });
    await c.call('operations.delete', { id: 'hello' });
    expect(await recorder.waitFor('operations.changed')).toEqual({ id: 'hello', change: 'removed' });
    await c.call('node.pause');
    expect(await recorder.waitFor('node.status', (s) => s.paused)).toMatchObject({
      paused: true,
      operations: 0,
    });
  });

  it('a client that drops and reconnects gets what it missed, replayed in order', async () => {
    const target = await server();
    const sockets: WebSocket[] = [];
    // Reconnects wait for this gate, so runs can end while the client is certainly away.
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const c = new ApiClient(
      httpTransport({
        baseUrl: target.url,
        token: target.token,
        backoffMs: [10],
        connect: (url, protocols) => {
          if (sockets.length === 0) {
            const socket = nodeSocketFactory(url, protocols);
            sockets.push(socket as unknown as WebSocket);
            return socket;
          }
          return new DeferredSocket(gate, () => {
            const socket = nodeSocketFactory(url, protocols);
            sockets.push(socket as unknown as WebSocket);
            return socket;
          });
        },
      }),
    );
    cleanups.push(() => c.close());
    const recorder = await recordEvents(c, ['run.ended']);
    const first = await runHello(target, 'one');
    await recorder.waitFor('run.ended', (e) => e.runId === first);

    // The connection drops (no close handshake); two runs end while the client is away.
    const reconnected = new Promise<void>((resolve) => {
      const stop = c.onStatus((s) => {
        if (s.state !== 'open') return;
        stop();
        resolve();
      });
    });
    const dropped = new Promise<void>((resolve) => {
      const stop = c.onStatus((s) => {
        if (s.state !== 'closed') return;
        stop();
        resolve();
      });
    });
    sockets[0]?.terminate();
    await dropped;
    const second = await runHello(target, 'two');
    const third = await runHello(target, 'three');
    openGate();
    await reconnected;
    await recorder.waitFor('run.ended', (e) => e.runId === third);
    const ended = recorder.events.map((e) => (e.payload as { runId: string }).runId);
    expect(ended).toEqual([first, second, third]);
    expect(sockets).toHaveLength(2);
  });

  it('when the missed events are too old to replay, it says so and every run can be re-fetched', async () => {
    const target = await server({ replay: 3 });
    const ws = new WebSocket(`${target.url.replace('http', 'ws')}/api/events`, [
      wsProtocol,
      `token.${target.token}`,
    ]);
    const messages: { type: string; seq?: number }[] = [];
    ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString()) as { type: string }));
    await new Promise((resolve) => ws.once('open', resolve));
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (messages.some((m) => m.type === 'ready')) resolve();
        else setImmediate(check);
      };
      check();
    });
    const since = messages.find((m) => m.type === 'ready')?.seq ?? 0;
    ws.terminate();

    const runIds = [await runHello(target, 'a'), await runHello(target, 'b'), await runHello(target, 'c')];

    const back = new WebSocket(`${target.url.replace('http', 'ws')}/api/events`, [
      wsProtocol,
      `token.${target.token}`,
    ]);
    cleanups.push(() => back.terminate());
    const got: { type: string; gap?: boolean; event?: string }[] = [];
    const resumed = new Promise<{ gap: boolean }>((resolve) => {
      back.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as { type: string; gap: boolean };
        got.push(m);
        if (m.type === 'resumed') resolve(m);
      });
    });
    await new Promise((resolve) => back.once('open', resolve));
    back.send(JSON.stringify({ type: 'subscribe', subscription: { events: ['run.ended'] }, since }));
    expect((await resumed).gap).toBe(true);

    // The gap is announced; whatever was missed is still there to fetch.
    const c = client(target);
    const listed = await c.call('runs.list', { operationId: 'hello' });
    for (const runId of runIds) {
      expect(listed.runs.find((r) => r.runId === runId)?.status).toBe('success');
      expect((await c.call('runs.get', { runId })).manifest.status).toBe('success');
    }
  });

  it('replays nothing and reports no gap for a client that missed nothing', async () => {
    const target = await server();
    const ws = new WebSocket(`${target.url.replace('http', 'ws')}/api/events`, [
      wsProtocol,
      `token.${target.token}`,
    ]);
    cleanups.push(() => ws.terminate());
    const messages: { type: string; seq?: number; replayed?: number; gap?: boolean }[] = [];
    const resumed = new Promise<void>((resolve) => {
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as { type: string; seq?: number };
        messages.push(m);
        if (m.type === 'ready') {
          ws.send(JSON.stringify({ type: 'subscribe', subscription: {}, since: m.seq }));
        }
        if (m.type === 'resumed') resolve();
      });
    });
    await resumed;
    expect(messages.find((m) => m.type === 'resumed')).toMatchObject({ replayed: 0, gap: false });
  });
});

/** A socket opened only once `gate` resolves; handlers set before then are handed over. */
class DeferredSocket implements MinimalSocket {
  onopen: MinimalSocket['onopen'] = null;
  onmessage: MinimalSocket['onmessage'] = null;
  onclose: MinimalSocket['onclose'] = null;
  onerror: MinimalSocket['onerror'] = null;
  private real: MinimalSocket | undefined;

  constructor(gate: Promise<void>, open: () => MinimalSocket) {
    void gate.then(() => {
      const real = open();
      this.real = real;
      real.onopen = (ev) => this.onopen?.(ev);
      real.onmessage = (ev) => this.onmessage?.(ev);
      real.onclose = (ev) => this.onclose?.(ev);
      real.onerror = (ev) => this.onerror?.(ev);
    });
  }

  get readyState(): number {
    return this.real?.readyState ?? 0;
  }

  send(data: string): void {
    this.real?.send(data);
  }

  close(code?: number, reason?: string): void {
    this.real?.close(code, reason);
  }
}

/** A socket whose send buffer the test controls. */
class FakeSocket extends EventEmitter implements SessionSocket {
  bufferedAmount = 0;
  sent: string[] = [];
  closed: { code: number; reason: string } | undefined;
  send(data: string): void {
    this.sent.push(data);
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  terminate(): void {
    this.closed ??= { code: 1006, reason: 'terminated' };
  }
  messages(): { type: string; event?: string; events?: number; runIds?: string[] }[] {
    return this.sent.map((s) => JSON.parse(s) as { type: string });
  }
}

describe('backpressure', () => {
  it('drops log lines for a slow client, tells it what it missed, and disconnects one that cannot keep up at all', async () => {
    const base = await startTestNode();
    cleanups.push(() => base.close());
    const socket = new FakeSocket();
    const session = new WsSession({
      api: base.api,
      socket,
      logger: silentLogger(),
      limits: { logHighWater: 1000, lowWater: 100, hardLimit: 5000 },
      authenticated: true,
      checkToken: () => Promise.resolve(true),
    });
    cleanups.push(() => session.close(1000, 'done'));
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ type: 'subscribe', subscription: { logs: ['*'] } })),
      false,
    );
    await new Promise((resolve) => setImmediate(resolve));
    const log = (i: number): void => {
      base.api.hub.publish('task.log', { runId: 'r1', taskId: 't', index: 0, offset: i, text: 'x\n' }, 'r1');
    };

    log(0);
    expect(socket.messages().filter((m) => m.type === 'event')).toHaveLength(1);

    socket.bufferedAmount = 2000; // the client stopped reading
    for (let i = 1; i <= 10; i++) log(i);
    base.api.hub.publish('state.changed', { scope: 'global', path: 'x', op: 'set', value: 1 });
    const events = socket.messages().filter((m) => m.type === 'event');
    expect(events.map((m) => m.event)).toEqual(['task.log', 'state.changed']);

    socket.bufferedAmount = 50; // it caught up
    log(11);
    const after = socket.messages();
    expect(after.find((m) => m.type === 'dropped')).toEqual({ type: 'dropped', events: 10, runIds: ['r1'] });
    expect(after[after.length - 1]).toMatchObject({ type: 'event', event: 'task.log' });

    socket.bufferedAmount = 10_000; // far behind: even state changes cannot be queued
    base.api.hub.publish('state.changed', { scope: 'global', path: 'x', op: 'set', value: 2 });
    expect(socket.closed).toEqual({ code: 4008, reason: 'too slow: reconnect with since' });
  });

  it('reports dropped lines once the buffer drains even when no other event comes', async () => {
    const base = await startTestNode();
    cleanups.push(() => base.close());
    const socket = new FakeSocket();
    const session = new WsSession({
      api: base.api,
      socket,
      logger: silentLogger(),
      limits: defaultBackpressure,
      authenticated: true,
      checkToken: () => Promise.resolve(true),
    });
    cleanups.push(() => session.close(1000, 'done'));
    socket.emit(
      'message',
      Buffer.from(JSON.stringify({ type: 'subscribe', subscription: { logs: ['r2'] } })),
      false,
    );
    await new Promise((resolve) => setImmediate(resolve));
    socket.bufferedAmount = defaultBackpressure.logHighWater + 1;
    base.api.hub.publish('task.log', { runId: 'r2', taskId: 't', index: 0, offset: 0, text: 'x' }, 'r2');
    const reported = new Promise<void>((resolve) => {
      const check = (): void => {
        if (socket.messages().some((m) => m.type === 'dropped')) resolve();
        else setTimeout(check, 5);
      };
      check();
    });
    socket.bufferedAmount = 0;
    await reported;
    expect(socket.messages().find((m) => m.type === 'dropped')).toEqual({
      type: 'dropped',
      events: 1,
      runIds: ['r2'],
    });
  });

  it('closes a connection that sends something other than JSON', async () => {
    const base = await startTestNode();
    cleanups.push(() => base.close());
    const socket = new FakeSocket();
    new WsSession({
      api: base.api,
      socket,
      logger: silentLogger(),
      limits: defaultBackpressure,
      authenticated: true,
      checkToken: () => Promise.resolve(true),
    });
    socket.emit('message', Buffer.from('{nope'), false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.closed?.code).toBe(4400);
  });
});
