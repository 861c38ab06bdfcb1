/**
 * Test support for the API: a started node on a fresh data dir, the API over it, and clients for
 * each transport. Used by the contract, server and CLI tests and by the benchmark.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunSummaryService } from '../engine/ai/summary-service.js';
import { silentLogger, type Logger } from '../engine/logger.js';
import { UltravisorNode } from '../engine/node.js';
import { ApiServer, type ApiServerOptions } from '../server/api-server.js';
import { loadOrCreateToken } from '../server/node-token.js';
import { Api } from './api-service.js';
import { ApiClient, type ApiTransport } from './contract-client.js';
import type { EventName, EventPayload } from './contract.js';
import { inProcessTransport } from './in-process-channel.js';
import { nodeApiClient } from './node-api-client.js';

/** A shell task printing a greeting, a data record and a stored file: every store gets something. */
export const helloOperation = `id: hello
name: Hello
description: Greets, remembers whom, and keeps a file
params:
  who: { default: world }
tasks:
  - id: greet
    shell: "echo hello {{ params.who }}"
  - id: save
    needs: [greet]
    data: { collection: greetings, key: '{{ params.who }}', record: { who: '{{ params.who }}' }, mode: upsert }
  - id: keep
    file: { write: { path: 'greeting.txt', text: 'hello {{ params.who }}' } }
  - id: quiet
    shell: ['true']
`;

/** A timed operation, so next fire times exist. */
export const tickerOperation = `id: ticker
triggers:
  - every: 1h
tasks:
  - id: tick
    shell: "echo tick"
`;

/** A run that waits until cancelled. */
export const sleeperOperation = `id: sleeper
tasks:
  - id: wait
    shell: "sleep 30"
`;

export interface TestNode {
  dataDir: string;
  node: UltravisorNode;
  api: Api;
  logger: Logger;
  close(): Promise<void>;
}

/** Makes a fresh temp data dir; removed by the returned cleanup. */
export async function tempDataDir(prefix = 'uv-api-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A started node (no data-dir watching) on a fresh data dir, with the API over it. */
export async function startTestNode(options: { replay?: number } = {}): Promise<TestNode> {
  const { dir, remove } = await tempDataDir();
  const logger = silentLogger();
  const node = await UltravisorNode.open({ dataDir: dir, logger, watchDataDir: false });
  await node.start();
  // As `serve` wires it, but not listening to runs: runs.summarize works, runs keep the runner's summary.
  const summaries = new RunSummaryService({
    engine: node.engine,
    findOperation: (id) => node.operations.get(id)?.operation,
    logger,
  });
  const api = await Api.create(node, {
    logger,
    summaries,
    ...(options.replay === undefined ? {} : { replay: options.replay }),
  });
  return {
    dataDir: dir,
    node,
    api,
    logger,
    async close() {
      api.close();
      await node.stop({ graceMs: 0 });
      node.engine.close();
      await remove();
    },
  };
}

export interface TestServer extends TestNode {
  server: ApiServer;
  url: string;
  port: number;
  token: string;
}

/** A test node served over HTTP + WebSocket on 127.0.0.1 and a random port. */
export async function startTestServer(
  options: Partial<Omit<ApiServerOptions, 'api' | 'token' | 'logger'>> & { replay?: number } = {},
): Promise<TestServer> {
  const { replay, ...serverOptions } = options;
  const base = await startTestNode(replay === undefined ? {} : { replay });
  const token = await loadOrCreateToken(base.dataDir);
  const server = new ApiServer({
    staticDir: join(base.dataDir, 'no-renderer-here'),
    ...serverOptions,
    api: base.api,
    token,
    logger: base.logger,
    host: '127.0.0.1',
    port: 0,
  });
  const { url, port } = await server.listen();
  return {
    ...base,
    server,
    url,
    port,
    token,
    async close() {
      await server.close();
      await base.close();
    },
  };
}

/** The two transports the contract is served over in tests. */
export type TransportKind = 'in-process' | 'http';

/** A client over the chosen transport. */
export function clientFor(kind: TransportKind, target: TestServer): ApiClient {
  return kind === 'in-process'
    ? new ApiClient(inProcessTransport(target.api))
    : nodeApiClient({ url: target.url, token: target.token, backoffMs: [20, 50, 100] });
}

/** The raw transport (no output checks), for error-path tests. */
export function transportFor(kind: TransportKind, target: TestServer): ApiTransport {
  return kind === 'in-process'
    ? inProcessTransport(target.api)
    : {
        async call(method, input) {
          const res = await fetch(`${target.url}/api/${method}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${target.token}` },
            body: JSON.stringify(input),
          });
          return (await res.json()) as never;
        },
      };
}

/** Events a client received, with a way to wait for one. */
export interface EventRecorder {
  events: { event: EventName; payload: unknown; seq: number }[];
  /** Resolves with the first recorded (or future) event `name` passing `match`. */
  waitFor<E extends EventName>(
    name: E,
    match?: (payload: EventPayload<E>) => boolean,
    timeoutMs?: number,
  ): Promise<EventPayload<E>>;
  stop(): void;
}

/**
 * Subscribes a client to `names` and resolves once the subscription is in force (the stream said
 * `open`), so nothing published afterwards can be missed.
 */
export async function recordEvents(
  client: ApiClient,
  names: readonly EventName[],
  options: { logs?: string } = {},
): Promise<EventRecorder> {
  const events: EventRecorder['events'] = [];
  const waiters = new Set<() => void>();
  const open = new Promise<void>((resolve) => {
    const stop = client.onStatus((status) => {
      if (status.state !== 'open') return;
      stop();
      resolve();
    });
  });
  const stops: (() => void)[] = [];
  if (options.logs !== undefined) stops.push(client.followLogs(options.logs));
  for (const name of names) {
    stops.push(
      client.on(name, (payload, seq) => {
        events.push({ event: name, payload, seq });
        for (const w of [...waiters]) w();
      }),
    );
  }
  await open;
  return {
    events,
    waitFor<E extends EventName>(
      name: E,
      match: (payload: EventPayload<E>) => boolean = () => true,
      timeoutMs = 10_000,
    ): Promise<EventPayload<E>> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = events.find((e) => e.event === name && match(e.payload as EventPayload<E>));
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found.payload as EventPayload<E>);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no ${name} event within ${timeoutMs} ms; got ${events.map((e) => e.event).join(', ')}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      for (const s of stops) s();
    },
  };
}
