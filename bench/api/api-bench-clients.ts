// The client side of the API benchmark, in its own process (so clients and server do not share an
// event loop): measures round trips and counts events, driven by the parent over IPC.
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { z } from 'zod';

const commandSchema = z.discriminatedUnion('cmd', [
  z.object({
    cmd: z.literal('ws-latency'),
    url: z.string(),
    protocols: z.array(z.string()),
    /** Wait for a `ready` message first (the Ultravisor server sends one). */
    ready: z.boolean(),
    n: z.number().int(),
    method: z.string(),
  }),
  z.object({
    cmd: z.literal('http-latency'),
    url: z.string(),
    token: z.string().optional(),
    n: z.number().int(),
  }),
  z.object({
    cmd: z.literal('connect'),
    url: z.string(),
    protocols: z.array(z.string()),
    clients: z.number().int(),
    /** Sent after opening (and after `ready` when `ready` is set). */
    subscribe: z.string().optional(),
    ready: z.boolean(),
  }),
  z.object({ cmd: z.literal('wait-end') }),
  z.object({ cmd: z.literal('close') }),
]);
type Command = z.infer<typeof commandSchema>;

function reply(message: unknown): void {
  process.send?.(message);
}

function summary(samples: number[]): { p50: number; p99: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), mean: samples.reduce((s, x) => s + x, 0) / samples.length };
}

function open(url: string, protocols: string[], ready: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    ws.once('error', reject);
    if (!ready) ws.once('open', () => resolve(ws));
    else
      ws.once('message', () => {
        resolve(ws);
      });
  });
}

async function wsLatency(command: Extract<Command, { cmd: 'ws-latency' }>): Promise<void> {
  const ws = await open(command.url, command.protocols, command.ready);
  let pending: (() => void) | undefined;
  ws.on('message', () => pending?.());
  const samples: number[] = [];
  const warm = Math.ceil(command.n / 10);
  for (let i = 0; i < command.n + warm; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      pending = resolve;
      ws.send(JSON.stringify({ type: 'call', id: i, method: command.method, input: {} }));
    });
    if (i >= warm) samples.push(performance.now() - t);
  }
  ws.close();
  reply({ cmd: 'ws-latency', ...summary(samples) });
}

async function httpLatency(command: Extract<Command, { cmd: 'http-latency' }>): Promise<void> {
  const samples: number[] = [];
  const warm = Math.ceil(command.n / 10);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (command.token !== undefined) headers.authorization = `Bearer ${command.token}`;
  for (let i = 0; i < command.n + warm; i++) {
    const t = performance.now();
    const res = await fetch(command.url, { method: 'POST', headers, body: '{}' });
    await res.text();
    if (i >= warm) samples.push(performance.now() - t);
  }
  reply({ cmd: 'http-latency', ...summary(samples) });
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

let sockets: WebSocket[] = [];
let counters: Counter[] = [];
let endWaiters: (() => void)[] = [];

async function connect(command: Extract<Command, { cmd: 'connect' }>): Promise<void> {
  counters = [];
  sockets = await Promise.all(
    Array.from({ length: command.clients }, async (_x, i) => {
      const counter: Counter = { events: 0, lines: 0, bytes: 0, first: 0, last: 0, dropped: 0, ended: 0 };
      counters[i] = counter;
      const ws = await open(command.url, command.protocols, command.ready);
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.includes('"event":"task.log"')) {
          const now = performance.now();
          if (counter.events === 0) counter.first = now;
          counter.last = now;
          counter.events++;
          counter.bytes += data.length;
          counter.lines += text.split('\\n').length - 1;
        } else if (text.includes('"event":"run.ended"')) {
          counter.ended = performance.now();
          if (counters.every((c) => c.ended > 0)) for (const w of endWaiters.splice(0)) w();
        } else if (text.includes('"type":"dropped"')) {
          counter.dropped += z.object({ events: z.number() }).parse(JSON.parse(text)).events;
        }
      });
      if (command.subscribe !== undefined) {
        ws.send(command.subscribe);
        // Subscribed once the pong after it comes back (messages are handled in order).
        await new Promise<void>((resolve) => {
          const onPong = (data: Buffer): void => {
            if (!data.toString().includes('"type":"pong"')) return;
            ws.off('message', onPong);
            resolve();
          };
          ws.on('message', onPong);
          ws.send(JSON.stringify({ type: 'ping' }));
        });
      }
      return ws;
    }),
  );
  reply({ cmd: 'connect' });
}

async function waitEnd(): Promise<void> {
  if (!counters.every((c) => c.ended > 0)) await new Promise<void>((resolve) => endWaiters.push(resolve));
  reply({ cmd: 'wait-end', counters });
}

process.on('message', (raw: unknown) => {
  const command = commandSchema.parse(raw);
  const run = async (): Promise<void> => {
    switch (command.cmd) {
      case 'ws-latency':
        return wsLatency(command);
      case 'http-latency':
        return httpLatency(command);
      case 'connect':
        return connect(command);
      case 'wait-end':
        return waitEnd();
      case 'close':
        for (const ws of sockets) ws.terminate();
        sockets = [];
        endWaiters = [];
        reply({ cmd: 'close' });
        return;
      default:
        command satisfies never;
    }
  };
  run().catch((err: unknown) => {
    reply({ cmd: 'error', message: err instanceof Error ? err.message : String(err) });
  });
});
reply({ cmd: 'started' });
