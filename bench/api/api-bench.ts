// API benchmark: round-trip latency of a small method and event throughput to 5 WebSocket clients,
// beside a bare `ws` echo/broadcast server and a bare node:http server in the same run.
//
//   npx tsx bench/api/api-bench.ts [--calls N] [--log-mb N] [--lines N] [--method M]   (or: npm run bench -- api)
//
// Clients live in a child process, so they do not share the server's event loop. Figures:
// - latency: node.status over HTTP (fetch, keep-alive) and over the WebSocket (`call` message),
//   p50/p99, beside the bare servers answering the same requests without doing anything;
// - a real run printing N MB of 100-byte log lines, streamed to 5 clients as task.log events;
//   the same run with no client connected is the baseline;
// - N single-line task.log events pushed through the API's event path to 5 clients, beside a bare
//   `ws` server broadcasting the same messages.
import { fork, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { startTestServer, type TestServer } from '../../main/api/api-test-support.js';
import { wsProtocol } from '../../main/api/contract.js';
import { AuthThrottle } from '../../main/server/auth-throttle.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}
const calls = arg('calls', 2000);
const logMb = arg('log-mb', 10);
const syntheticLines = arg('lines', 100_000);
const methodAt = args.indexOf('--method');
/** The method whose round trip is timed (default node.status). */
const method = methodAt >= 0 ? (args[methodAt + 1] ?? 'node.status') : 'node.status';
const clientCount = 5;

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

const ms = (x: number): string => `${x.toFixed(3)} ms`;
const int = (x: number): string => Math.round(x).toLocaleString('en-US');

interface Latency {
  p50: number;
  p99: number;
  mean: number;
}

interface Counter {
  events: number;
  lines: number;
  bytes: number;
  first: number;
  last: number;
  dropped: number;
  ended: number;
}

/** The client process and a way to ask it things. */
function startClients(): Promise<{ ask: <T>(command: object) => Promise<T>; child: ChildProcess }> {
  const child = fork(join(import.meta.dirname, 'api-bench-clients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let waiting: ((message: unknown) => void) | undefined;
  child.on('message', (message) => waiting?.(message));
  const ask = <T>(command: object): Promise<T> =>
    new Promise((resolve, reject) => {
      waiting = (message) => {
        const m = message as { cmd: string; message?: string };
        if (m.cmd === 'error') reject(new Error(m.message));
        else resolve(message as T);
      };
      child.send(command);
    });
  return new Promise((resolve) => {
    waiting = () => resolve({ ask, child });
  });
}

/** A bare ws server: echoes every message and can broadcast. */
async function bareWs(): Promise<{ url: string; wss: WebSocketServer; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => ws.send(data.toString()));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    wss,
    close: () => new Promise<void>((resolve) => wss.close(() => resolve())),
  };
}

/** A bare node:http server answering every POST with a small JSON body. */
async function bareHttp(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = '{"ok":true,"result":{}}';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One log line of exactly 100 bytes, newline included. */
const logLine = 'ultravisor benchmark log line: the quick brown fox jumps over the lazy dog '.padEnd(
  99,
  '0123456789',
);

const spewOperation = (mb: number): string => `id: spew
tasks:
  - id: spew
    shell: "yes '${logLine}' | head -c ${Math.round(mb * 1024 * 1024)}"
`;

function perClient(counters: Counter[]): {
  eventsPerS: number;
  linesPerS: number;
  mbPerS: number;
  dropped: number;
  events: number;
  lines: number;
} {
  const rates = counters.map((c) => {
    const seconds = Math.max(1e-6, (c.ended - c.first) / 1000);
    return {
      eventsPerS: c.events / seconds,
      linesPerS: c.lines / seconds,
      mbPerS: c.bytes / 1024 / 1024 / seconds,
      dropped: c.dropped,
      events: c.events,
      lines: c.lines,
    };
  });
  // The slowest client is the figure that matters.
  return rates.reduce((worst, r) => (r.eventsPerS < worst.eventsPerS ? r : worst));
}

async function main(): Promise<void> {
  const target: TestServer = await startTestServer({
    throttle: new AuthThrottle({ freeFailures: 1_000_000 }),
  });
  const bare = await bareWs();
  const bareH = await bareHttp();
  const { ask, child } = await startClients();
  const wsUrl = `${target.url.replace('http', 'ws')}/api/events`;
  const protocols = [wsProtocol, `token.${target.token}`];
  try {
    out(
      `API benchmark: ${calls} calls per latency figure, ${logMb} MB run log, ${int(syntheticLines)} single-line events, ${clientCount} clients`,
    );
    out();

    // Latency, alternating sides for three rounds so drift affects both.
    const results: Record<string, Latency[]> = { uvWs: [], bareWs: [], uvHttp: [], bareHttp: [] };
    for (let round = 0; round < 3; round++) {
      results.uvWs?.push(
        await ask<Latency>({ cmd: 'ws-latency', url: wsUrl, protocols, ready: true, n: calls, method }),
      );
      results.bareWs?.push(
        await ask<Latency>({
          cmd: 'ws-latency',
          url: bare.url,
          protocols: [],
          ready: false,
          n: calls,
          method,
        }),
      );
      results.uvHttp?.push(
        await ask<Latency>({
          cmd: 'http-latency',
          url: `${target.url}/api/node.status`,
          token: target.token,
          n: calls,
        }),
      );
      results.bareHttp?.push(await ask<Latency>({ cmd: 'http-latency', url: bareH.url, n: calls }));
    }
    // The median round of each side, p50 and p99 each (the VM is shared: single rounds jump).
    const median = (values: number[]): number =>
      [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? NaN;
    const best = (list: Latency[] | undefined): Latency => ({
      p50: median((list ?? []).map((l) => l.p50)),
      p99: median((list ?? []).map((l) => l.p99)),
      mean: median((list ?? []).map((l) => l.mean)),
    });
    const uvWs = best(results.uvWs);
    const bWs = best(results.bareWs);
    const uvHttp = best(results.uvHttp);
    const bHttp = best(results.bareHttp);
    out(`round trip of ${method} (median of 3 rounds)`.padEnd(51) + 'p50          p99');
    out(
      `  Ultravisor, WebSocket call                 ${ms(uvWs.p50).padStart(10)}   ${ms(uvWs.p99).padStart(10)}`,
    );
    out(
      `  bare ws echo                               ${ms(bWs.p50).padStart(10)}   ${ms(bWs.p99).padStart(10)}`,
    );
    out(
      `  ratio                                      ${(uvWs.p50 / bWs.p50).toFixed(2).padStart(8)}×   ${(uvWs.p99 / bWs.p99).toFixed(2).padStart(8)}×`,
    );
    out(
      `  Ultravisor, HTTP POST /api/<method>        ${ms(uvHttp.p50).padStart(10)}   ${ms(uvHttp.p99).padStart(10)}`,
    );
    out(
      `  bare node:http                             ${ms(bHttp.p50).padStart(10)}   ${ms(bHttp.p99).padStart(10)}`,
    );
    out(
      `  ratio                                      ${(uvHttp.p50 / bHttp.p50).toFixed(2).padStart(8)}×   ${(uvHttp.p99 / bHttp.p99).toFixed(2).padStart(8)}×`,
    );
    out();

    // A real run streaming its log; first alone (baseline), then to 5 clients.
    await target.node.addOperation(spewOperation(logMb), 'spew.yaml');
    const timeRun = async (): Promise<number> => {
      const t = performance.now();
      const outcome = target.node.trigger('spew', {});
      if (outcome.type !== 'started') throw new Error(`spew did not start: ${outcome.type}`);
      await target.node.whenIdle();
      return performance.now() - t;
    };
    await timeRun(); // warm-up
    const alone = await timeRun();
    const subscribe = JSON.stringify({
      type: 'subscribe',
      subscription: { events: ['task.log', 'run.ended'], logs: ['*'] },
    });
    await ask({ cmd: 'connect', url: wsUrl, protocols, clients: clientCount, subscribe, ready: true });
    const streamed = await timeRun();
    const real = perClient((await ask<{ counters: Counter[] }>({ cmd: 'wait-end' })).counters);
    await ask({ cmd: 'close' });
    out(`a run printing ${logMb} MB of 100-byte lines (${int((logMb * 1024 * 1024) / 100)} lines)`);
    out(`  run alone                                  ${ms(alone).padStart(12)}`);
    out(
      `  run streamed to ${clientCount} clients                  ${ms(streamed).padStart(12)}   (${(streamed / alone).toFixed(2)}× alone)`,
    );
    out(
      `  slowest client: ${int(real.events)} task.log events (${int(real.lines)} lines, ${real.dropped} dropped): ${int(real.eventsPerS)} events/s, ${int(real.linesPerS)} lines/s, ${real.mbPerS.toFixed(1)} MB/s`,
    );
    out();

    // Single-line events through the API's event path vs a bare broadcast of the same messages.
    const line = `${logLine}\n`;
    const chunk = Buffer.from(line);
    const batch = 500;
    const pump = async (emit: (i: number) => void, end: () => void): Promise<number> => {
      const t = performance.now();
      for (let i = 0; i < syntheticLines; i++) {
        emit(i);
        if (i % batch === batch - 1) await new Promise((resolve) => setImmediate(resolve));
      }
      end();
      return performance.now() - t;
    };

    await ask({ cmd: 'connect', url: wsUrl, protocols, clients: clientCount, subscribe, ready: true });
    const uvPush = await pump(
      () =>
        target.node.engine.emit('event', {
          type: 'task-log',
          runId: 'synthetic',
          taskId: 't',
          index: 0,
          chunk,
        }),
      () =>
        target.api.hub.publish('run.ended', {
          runId: 'synthetic',
          operationId: 'synthetic',
          status: 'success',
          startedAt: new Date().toISOString(),
        }),
    );
    const uv = perClient((await ask<{ counters: Counter[] }>({ cmd: 'wait-end' })).counters);
    await ask({ cmd: 'close' });

    await ask({ cmd: 'connect', url: bare.url, protocols: [], clients: clientCount, ready: false });
    let seq = 0;
    const bareClients = [...bare.wss.clients];
    const barePush = await pump(
      () => {
        const message = JSON.stringify({
          type: 'event',
          seq: ++seq,
          event: 'task.log',
          payload: { runId: 'synthetic', taskId: 't', index: 0, offset: seq * line.length, text: line },
        });
        for (const ws of bareClients) ws.send(message);
      },
      () => {
        const message = JSON.stringify({ type: 'event', seq: ++seq, event: 'run.ended', payload: {} });
        for (const ws of bareClients) ws.send(message);
      },
    );
    const bareRates = perClient((await ask<{ counters: Counter[] }>({ cmd: 'wait-end' })).counters);
    await ask({ cmd: 'close' });
    out(
      `${int(syntheticLines)} single-line task.log events (${batch} per event-loop turn), ${clientCount} clients`,
    );
    out(
      `  Ultravisor (engine event → hub → WebSocket)  slowest client ${int(uv.eventsPerS).padStart(9)} events/s, ${int(uv.events)} received, ${uv.dropped} dropped; pushed in ${ms(uvPush)}`,
    );
    out(
      `  bare ws broadcast                            slowest client ${int(bareRates.eventsPerS).padStart(9)} events/s, ${int(bareRates.events)} received; pushed in ${ms(barePush)}`,
    );
    out(
      `  ratio                                        ${(uv.eventsPerS / bareRates.eventsPerS).toFixed(2)}× the bare server's rate`,
    );
  } finally {
    child.kill();
    await bare.close();
    await bareH.close();
    await target.close();
  }
}

await main();
