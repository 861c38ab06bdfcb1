/**
 * The transport-neutral API client: typed calls and events over any {@link ApiTransport}.
 *
 * Browser-safe (imports only zod and the contract), so the renderer, the CLI (over HTTP) and the
 * desktop app (over IPC) share one client and one set of call and event shapes. Transports here
 * use only `fetch` and a minimal WebSocket interface that both the browser's `WebSocket` and the
 * `ws` package satisfy.
 */
import type { z } from 'zod';
import {
  callReplySchema,
  events,
  httpPaths,
  isEventName,
  methods,
  serverMessageSchema,
  wsProtocol,
  wsTokenProtocolPrefix,
  type ApiEvent,
  type CallReply,
  type ErrorCode,
  type EventName,
  type EventPayload,
  type InputIssue,
  type MethodInput,
  type MethodName,
  type MethodOutput,
  type ServerMessage,
  type Subscription,
} from './contract.js';

/** An error the API answered with (or a transport failure, code `unavailable`). */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: InputIssue[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** State of an event stream, for "reconnecting…" indicators. */
export type StreamStatus =
  | { state: 'connecting' }
  | { state: 'open'; seq: number; gap: boolean }
  | { state: 'closed'; reason: string; retryInMs?: number };

export interface EventStreamHandlers {
  onEvent(event: { seq: number; event: string; payload: unknown }): void;
  onStatus?(status: StreamStatus): void;
  /** The server skipped task.log events for this connection (it fell behind). */
  onDropped?(info: { events: number; runIds: string[] }): void;
}

/** How calls and events travel: HTTP + WebSocket, IPC, or in-process. */
export interface ApiTransport {
  /** Sends one call and resolves with the reply envelope; rejects only when the call could not travel. */
  call(method: MethodName, input: unknown): Promise<CallReply>;
  /** Delivers events matching `subscription` until the returned function is called. */
  events?(subscription: Subscription, handlers: EventStreamHandlers): EventStreamControl;
}

/** A running event stream: change what it delivers, or stop it. */
export interface EventStreamControl {
  update(subscription: Subscription): void;
  close(): void;
}

type Listener<E extends EventName> = (payload: EventPayload<E>, seq: number) => void;

/**
 * Typed calls and events over a transport.
 *
 * Replies are checked against the contract's output schemas, so a client never trusts a shape it
 * did not verify; event payloads are checked the same way.
 */
export class ApiClient {
  private readonly listeners = new Map<EventName, Set<(payload: unknown, seq: number) => void>>();
  private readonly logRuns = new Set<string>();
  private stream: EventStreamControl | undefined;
  private statusListeners = new Set<(status: StreamStatus) => void>();
  private droppedListeners = new Set<(info: { events: number; runIds: string[] }) => void>();

  constructor(private readonly transport: ApiTransport) {}

  /** Calls a method; throws {@link ApiError} when the node answers with an error. */
  async call<M extends MethodName>(method: M, ...args: CallArgs<M>): Promise<MethodOutput<M>> {
    const reply = await this.transport.call(method, args[0] ?? {});
    if (!reply.ok) throw new ApiError(reply.error.code, reply.error.message, reply.error.issues);
    const schema: z.ZodType = methods[method].output;
    const parsed = schema.safeParse(reply.result);
    if (!parsed.success) {
      throw new ApiError('internal', `${method}: the node answered with a shape this client does not know`);
    }
    return parsed.data as MethodOutput<M>;
  }

  /** Listens for an event; returns a function that stops listening. task.log needs {@link followLogs}. */
  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const wrapped = listener as (payload: unknown, seq: number) => void;
    set.add(wrapped);
    this.resubscribe();
    return () => {
      set.delete(wrapped);
      this.resubscribe();
    };
  }

  /** Asks for task.log events of a run (or `*`); returns a function that stops following. */
  followLogs(runId: string): () => void {
    this.logRuns.add(runId);
    this.resubscribe();
    return () => {
      this.logRuns.delete(runId);
      this.resubscribe();
    };
  }

  onStatus(listener: (status: StreamStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onDropped(listener: (info: { events: number; runIds: string[] }) => void): () => void {
    this.droppedListeners.add(listener);
    return () => this.droppedListeners.delete(listener);
  }

  /** Stops the event stream. */
  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }

  private subscription(): Subscription {
    const names = [...this.listeners.entries()].filter(([, set]) => set.size > 0).map(([name]) => name);
    return { events: names, logs: [...this.logRuns] };
  }

  private resubscribe(): void {
    const subscription = this.subscription();
    const wanted = (subscription.events?.length ?? 0) > 0;
    if (!wanted) {
      this.close();
      return;
    }
    if (this.stream !== undefined) {
      this.stream.update(subscription);
      return;
    }
    if (this.transport.events === undefined) throw new Error('this transport does not carry events');
    this.stream = this.transport.events(subscription, {
      onEvent: (e) => {
        this.deliver(e);
      },
      onStatus: (status) => {
        for (const l of this.statusListeners) l(status);
      },
      onDropped: (info) => {
        for (const l of this.droppedListeners) l(info);
      },
    });
  }

  private deliver(e: { seq: number; event: string; payload: unknown }): void {
    if (!isEventName(e.event)) return;
    const set = this.listeners.get(e.event);
    if (set === undefined || set.size === 0) return;
    const schema: z.ZodType = events[e.event];
    const parsed = schema.safeParse(e.payload);
    if (!parsed.success) return;
    for (const l of set) l(parsed.data, e.seq);
  }
}

/** Methods whose input has no required field may be called without an argument. */
export type CallArgs<M extends MethodName> = [RequiredKeys<MethodInput<M>>] extends [never]
  ? [input?: MethodInput<M>]
  : [input: MethodInput<M>];

/** Keys of `T` a caller must give. */
type RequiredKeys<T> = string extends keyof T
  ? never
  : { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T];

/** Parses a reply body; anything else becomes an `internal` error reply. */
export function parseCallReply(body: unknown): CallReply {
  const parsed = callReplySchema.safeParse(body);
  return parsed.success
    ? parsed.data
    : {
        ok: false,
        error: { code: 'internal', message: 'the node answered with something that is not an API reply' },
      };
}

export interface HttpTransportOptions {
  /** The node's base URL, e.g. `http://127.0.0.1:4717` (empty for the page's own origin). */
  baseUrl: string;
  token: string;
  /** `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Opens a WebSocket for events; without it, the transport carries calls only. */
  connect?: SocketFactory;
  /** Reconnect delays in ms (the last repeats). Default 250 ms doubling to 5 s. */
  backoffMs?: readonly number[];
}

/** The subset of a WebSocket the event stream uses (browser `WebSocket` and `ws` both fit). */
export interface MinimalSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** Opens a socket to `url` offering `protocols`. */
export type SocketFactory = (url: string, protocols: string[]) => MinimalSocket;

/** Calls over `POST /api/<method>` with the token as a bearer header; events over `/api/events`. */
export function httpTransport(options: HttpTransportOptions): ApiTransport {
  const doFetch = options.fetch ?? fetch;
  const transport: ApiTransport = {
    async call(method, input) {
      let response: Response;
      try {
        response = await doFetch(`${options.baseUrl}${httpPaths.call(method)}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(input),
        });
      } catch (err) {
        throw new ApiError(
          'unavailable',
          `cannot reach the node at ${options.baseUrl || 'this page'}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        return {
          ok: false,
          error: {
            code: 'internal',
            message: `the node answered HTTP ${response.status} without a JSON body`,
          },
        };
      }
      return parseCallReply(body);
    },
  };
  const connect = options.connect;
  if (connect !== undefined) {
    transport.events = (subscription, handlers) =>
      socketEventStream({
        url: `${options.baseUrl.replace(/^http/, 'ws')}${httpPaths.events}`,
        token: options.token,
        connect,
        subscription,
        handlers,
        backoffMs: options.backoffMs ?? [250, 500, 1000, 2000, 5000],
      });
  }
  return transport;
}

/**
 * A self-healing event stream over a WebSocket.
 *
 * Authenticates with the token as a subprotocol (never in the URL), resubscribes after a
 * reconnect and asks to replay from the last sequence number seen; when the server cannot replay
 * everything it says so (`gap`), and the status listener learns it must re-fetch.
 */
function socketEventStream(options: {
  url: string;
  token: string;
  connect: SocketFactory;
  subscription: Subscription;
  handlers: EventStreamHandlers;
  backoffMs: readonly number[];
}): EventStreamControl {
  let subscription = options.subscription;
  let socket: MinimalSocket | undefined;
  let lastSeq: number | undefined;
  let attempt = 0;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const send = (message: unknown): void => {
    if (socket?.readyState === 1) socket.send(JSON.stringify(message));
  };

  const open = (): void => {
    options.handlers.onStatus?.({ state: 'connecting' });
    const s = options.connect(options.url, [wsProtocol, `${wsTokenProtocolPrefix}${options.token}`]);
    socket = s;
    let confirmed = false;
    let gap = false;
    s.onopen = () => {
      // The token travelled in the handshake (Sec-WebSocket-Protocol), never in the URL. The
      // server handles messages in order, so the pong after subscribe says the subscription holds.
      s.send(
        JSON.stringify({
          type: 'subscribe',
          subscription,
          ...(lastSeq === undefined ? {} : { since: lastSeq }),
        }),
      );
      s.send(JSON.stringify({ type: 'ping' }));
    };
    s.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let message: ServerMessage;
      try {
        const parsed = serverMessageSchema.safeParse(JSON.parse(ev.data));
        if (!parsed.success) return;
        message = parsed.data;
      } catch {
        return;
      }
      switch (message.type) {
        case 'ready':
          attempt = 0;
          lastSeq ??= message.seq;
          break;
        case 'resumed':
          gap = message.gap;
          break;
        case 'pong':
          if (!confirmed) {
            confirmed = true;
            options.handlers.onStatus?.({ state: 'open', seq: lastSeq ?? 0, gap });
          }
          break;
        case 'event':
          if (lastSeq === undefined || message.seq > lastSeq) lastSeq = message.seq;
          options.handlers.onEvent(message);
          break;
        case 'dropped':
          options.handlers.onDropped?.({ events: message.events, runIds: message.runIds });
          break;
        case 'reply':
        case 'error':
          break;
        default:
          message satisfies never;
      }
    };
    s.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
    s.onclose = (ev) => {
      socket = undefined;
      if (closed) return;
      const delays = options.backoffMs;
      const retryInMs = delays[Math.min(attempt, delays.length - 1)] ?? 1000;
      attempt += 1;
      options.handlers.onStatus?.({ state: 'closed', reason: `${ev.code} ${ev.reason}`.trim(), retryInMs });
      // 4401/4403: the token or origin is wrong; retrying will not fix it.
      if (ev.code === 4401 || ev.code === 4403) return;
      timer = setTimeout(open, retryInMs);
    };
  };
  open();
  return {
    update(next) {
      subscription = next;
      send({ type: 'subscribe', subscription });
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      socket?.close(1000, 'client closed');
      socket = undefined;
    },
  };
}

/** Narrows an {@link ApiEvent} by name. */
export function isEvent<E extends EventName>(e: ApiEvent, name: E): e is Extract<ApiEvent, { event: E }> {
  return e.event === name;
}
