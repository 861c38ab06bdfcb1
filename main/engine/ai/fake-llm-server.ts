import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/** A chat request as the fake servers saw it, whichever protocol carried it. */
export interface FakeChatRequest {
  path: string;
  model: string;
  system?: string;
  prompt: string;
  format?: unknown;
  /** Ollama `options` or the OpenAI body's sampling fields. */
  options: Record<string, unknown>;
  stream: boolean;
}

/**
 * How a fake server behaves; tests change it between requests with `server.behaviour = …`.
 *
 * Slowness is modelled as holding (`hold`, released by the test) or stalling until the client
 * gives up (`stall`), never as a sleep, so timeout tests wait on events.
 */
export interface FakeBehaviour {
  /** Reply text, or a function of the request (scripted map-reduce answers). */
  reply?: string | ((request: FakeChatRequest) => string);
  /** Error status for model endpoints (chat, generate, show, tags, models). */
  status?: number;
  /** Send protocol garbage instead of a reply. */
  malformed?: boolean;
  /** Never finish: `headers` sends nothing, `mid-stream` sends a first token then waits. */
  stall?: 'headers' | 'mid-stream';
  /** Park chat requests until {@link FakeLlmServer.release}. */
  hold?: boolean;
  /** Context window reported for every model. */
  contextLength?: number;
  /** Models offered (default ['llama3.2']); chat for other models answers 404. */
  models?: string[];
  /** Bearer token the server insists on (OpenAI fake only). */
  apiKey?: string;
}

/** One request the server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  headers: IncomingMessage['headers'];
}

/** Protocol-specific routes of a fake server. */
export type FakeRoutes = (
  server: FakeLlmServer,
  request: RecordedRequest,
  res: ServerResponse,
) => Promise<void>;

const messagesSchema = z.array(z.object({ role: z.string(), content: z.string() }).loose());

/** Pulls system and user text out of a chat body's `messages` (or a generate body's `prompt`). */
export function chatRequestOf(path: string, body: unknown): FakeChatRequest {
  const record = z.record(z.string(), z.unknown()).catch({}).parse(body);
  const messages = messagesSchema.catch([]).parse(record.messages);
  const system =
    messages.find((m) => m.role === 'system')?.content ??
    z.string().optional().catch(undefined).parse(record.system);
  const prompt =
    messages
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .join('\n') || z.string().catch('').parse(record.prompt);
  const options = z
    .record(z.string(), z.unknown())
    .catch({})
    .parse(record.options ?? record);
  return {
    path,
    model: z.string().catch('').parse(record.model),
    ...(system === undefined ? {} : { system }),
    prompt,
    format: record.format ?? record.response_format,
    options,
    stream: record.stream !== false,
  };
}

/** Splits a reply into streamed pieces the way a model emits tokens. */
export function tokensOf(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [text];
}

/**
 * A local HTTP server standing in for an LLM server in tests, on 127.0.0.1 and a free port.
 *
 * It records every request, counts them per path, can hold chat requests until the test releases
 * them, and notices clients that hang up before the reply ends (timeouts, aborts).
 */
export class FakeLlmServer {
  behaviour: FakeBehaviour = {};
  readonly requests: RecordedRequest[] = [];
  /** Requests whose client went away before the reply finished. */
  abandoned = 0;
  private readonly events = new EventEmitter();
  private readonly held: (() => void)[] = [];
  private readonly server: Server;

  private constructor(private readonly routes: FakeRoutes) {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  /** Starts a server with the given routes. */
  static async start(routes: FakeRoutes, behaviour: FakeBehaviour = {}): Promise<FakeLlmServer> {
    const fake = new FakeLlmServer(routes);
    fake.behaviour = behaviour;
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    return fake;
  }

  /** e.g. http://127.0.0.1:41234 */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  /** Requests received for a path, e.g. `/api/chat`. */
  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  /** Chat requests seen so far, parsed. */
  chats(path: string): FakeChatRequest[] {
    return this.requests.filter((r) => r.path === path).map((r) => chatRequestOf(r.path, r.body));
  }

  /** Resolves once `n` requests for `path` have arrived. */
  async waitForRequests(path: string, n: number): Promise<void> {
    while (this.count(path) < n) await once(this.events, 'request');
  }

  /** Resolves once `n` requests in all were abandoned by their clients. */
  async waitForAbandoned(n: number): Promise<void> {
    while (this.abandoned < n) await once(this.events, 'abandoned');
  }

  /** Number of chat requests parked by `hold`. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Lets up to `n` held requests (all by default) go on. */
  release(n = Number.POSITIVE_INFINITY): void {
    for (let i = 0; i < n && this.held.length > 0; i++) this.held.shift()?.();
  }

  /** For routes: waits while the behaviour holds requests. */
  async gate(res: ServerResponse): Promise<boolean> {
    if (this.behaviour.hold !== true) return true;
    const released = new Promise<boolean>((resolve) => {
      this.held.push(() => {
        resolve(true);
      });
      res.once('close', () => {
        resolve(false);
      });
    });
    this.events.emit('held');
    return released;
  }

  /** Resolves once `n` requests are parked by `hold`. */
  async waitForHeld(n: number): Promise<void> {
    while (this.held.length < n) await once(this.events, 'held');
  }

  /** For routes: never answers; resolves when the client hangs up. */
  async stallUntilClientLeaves(res: ServerResponse): Promise<void> {
    if (res.destroyed) return;
    await once(res, 'close');
  }

  /** For routes: the reply text for a chat request. */
  replyFor(request: FakeChatRequest): string {
    const reply = this.behaviour.reply;
    if (typeof reply === 'function') return reply(request);
    return reply ?? 'Hello from the fake model.';
  }

  /** For routes: JSON with a status. */
  json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        this.json(res, 400, { error: 'request body is not JSON' });
        return;
      }
    }
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, body, headers: req.headers };
    this.requests.push(recorded);
    res.once('close', () => {
      if (!res.writableFinished) {
        this.abandoned++;
        this.events.emit('abandoned');
      }
    });
    this.events.emit('request', recorded);
    try {
      await this.routes(this, recorded, res);
    } catch (err) {
      if (!res.headersSent) this.json(res, 500, { error: (err as Error).message });
      else res.destroy();
    }
  }

  /** Stops the server and drops every connection, held and stalled ones included. */
  async close(): Promise<void> {
    this.release();
    const closed = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    this.server.closeAllConnections();
    await closed;
  }
}
