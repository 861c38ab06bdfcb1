import type { RawData } from 'ws';
import type { Api } from '../api/api-service.js';
import {
  clientMessageSchema,
  wsCloseCodes,
  type ClientMessage,
  type ServerMessage,
} from '../api/contract.js';
import { inputIssues, issuesMessage } from '../api/dispatch.js';
import type { HubEvent } from '../api/event-hub.js';
import { SubscriptionFilter } from '../api/subscription.js';
import type { Logger } from '../engine/logger.js';

/** Buffer levels (bytes queued for one client) that drive backpressure. */
export interface BackpressureLimits {
  /** Above this, task.log events for the client are dropped (and counted). Default 1 MiB. */
  logHighWater: number;
  /** Below this again, the client is told what was dropped and logs flow again. Default 256 KiB. */
  lowWater: number;
  /** Above this even other events cannot be queued: the client is disconnected (4008). Default 8 MiB. */
  hardLimit: number;
}

export const defaultBackpressure: BackpressureLimits = {
  logHighWater: 1024 * 1024,
  lowWater: 256 * 1024,
  hardLimit: 8 * 1024 * 1024,
};

/** What a session needs of a socket (a `ws` WebSocket; a fake in tests). */
export interface SessionSocket {
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface WsSessionOptions {
  api: Api;
  socket: SessionSocket;
  logger: Logger;
  limits: BackpressureLimits;
  /** Checks a token from an `auth` message; resolves false (after any throttling delay) when wrong. */
  checkToken: (token: string) => Promise<boolean>;
  /** True when the handshake already carried a valid token. */
  authenticated: boolean;
  /** How long an unauthenticated connection may wait for its `auth` message (default 5 s). */
  authTimeoutMs?: number;
}

/**
 * One WebSocket client: authentication, its subscription, calls, and backpressure.
 *
 * Events are filtered per connection and sent as pre-serialised frames. When the client reads
 * slower than events arrive, task.log events are dropped for it (the most numerous, and
 * re-readable with logs.read) and it is told how many and for which runs; if even the other
 * events pile up past a hard limit, it is disconnected and can reconnect with `since`.
 */
export class WsSession {
  private authenticated: boolean;
  private readonly filter = new SubscriptionFilter({ events: [] });
  private unsubscribe: (() => void) | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly droppedRuns = new Set<string>();
  private closed = false;

  constructor(private readonly options: WsSessionOptions) {
    this.authenticated = options.authenticated;
    const { socket } = options;
    socket.on('message', (data, isBinary) => {
      const text = Array.isArray(data)
        ? Buffer.concat(data)
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : data;
      void this.onMessage(isBinary ? undefined : text.toString('utf8'));
    });
    socket.on('close', () => {
      this.dispose();
    });
    socket.on('error', (err) => {
      options.logger.debug({ err }, 'websocket error');
    });
    if (this.authenticated) {
      this.ready();
    } else {
      this.authTimer = setTimeout(() => {
        this.close(wsCloseCodes.unauthorized, 'no auth message in time');
      }, options.authTimeoutMs ?? 5000);
    }
  }

  private send(message: ServerMessage): void {
    if (this.closed) return;
    this.options.socket.send(JSON.stringify(message));
  }

  private ready(): void {
    this.send({ type: 'ready', nodeId: this.options.api.identity.id, seq: this.options.api.hub.seq });
    this.unsubscribe = this.options.api.hub.subscribe((event) => {
      if (this.filter.matches(event)) this.deliver(event);
    });
  }

  /** Sends one event, or drops it (task.log) or disconnects (others) when the client is too far behind. */
  private deliver(event: HubEvent): void {
    if (this.closed) return;
    const { socket, limits } = this.options;
    const buffered = socket.bufferedAmount;
    if (this.dropped > 0 && buffered <= limits.lowWater) this.reportDropped();
    if (event.event === 'task.log') {
      if (this.dropped > 0 || buffered > limits.logHighWater) {
        this.dropped++;
        if (event.logRun !== undefined) this.droppedRuns.add(event.logRun);
        this.watchDrain();
        return;
      }
    } else if (buffered > limits.hardLimit) {
      this.options.logger.warn({ buffered }, 'websocket client too slow: disconnecting it');
      this.close(wsCloseCodes.tooSlow, 'too slow: reconnect with since');
      return;
    }
    socket.send(event.wire);
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    const message: ServerMessage = { type: 'dropped', events: this.dropped, runIds: [...this.droppedRuns] };
    this.dropped = 0;
    this.droppedRuns.clear();
    this.send(message);
  }

  /** Polls the send buffer while dropping, so the client hears about the gap even if no event follows. */
  private watchDrain(): void {
    if (this.drainTimer !== undefined) return;
    const check = (): void => {
      this.drainTimer = undefined;
      if (this.closed || this.dropped === 0) return;
      if (this.options.socket.bufferedAmount <= this.options.limits.lowWater) this.reportDropped();
      else this.drainTimer = setTimeout(check, 25);
    };
    this.drainTimer = setTimeout(check, 25);
  }

  private async onMessage(text: string | undefined): Promise<void> {
    if (this.closed) return;
    let raw: unknown;
    try {
      if (text === undefined) throw new Error('binary');
      raw = JSON.parse(text);
    } catch {
      this.send({ type: 'error', error: { code: 'bad-request', message: 'messages are JSON text' } });
      this.close(wsCloseCodes.badMessage, 'not JSON');
      return;
    }
    const parsed = clientMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = inputIssues(parsed.error);
      this.send({
        type: 'error',
        error: { code: 'bad-request', message: issuesMessage('invalid message', issues), issues },
      });
      if (!this.authenticated) this.close(wsCloseCodes.unauthorized, 'the first message must be auth');
      return;
    }
    await this.handle(parsed.data);
  }

  private async handle(message: ClientMessage): Promise<void> {
    if (!this.authenticated) {
      if (message.type !== 'auth') {
        this.close(wsCloseCodes.unauthorized, 'the first message must be auth');
        return;
      }
      if (this.authTimer !== undefined) clearTimeout(this.authTimer);
      this.authTimer = undefined;
      if (!(await this.options.checkToken(message.token))) {
        this.close(wsCloseCodes.unauthorized, 'wrong token');
        return;
      }
      if (this.closed) return;
      this.authenticated = true;
      this.ready();
      return;
    }
    switch (message.type) {
      case 'auth':
        // Already authenticated (by the handshake); a repeated auth changes nothing.
        break;
      case 'subscribe': {
        this.filter.update(message.subscription);
        if (message.since !== undefined) {
          const replay = this.options.api.hub.replaySince(message.since);
          let count = 0;
          for (const event of replay.events) {
            if (!this.filter.matches(event)) continue;
            this.options.socket.send(event.wire);
            count++;
          }
          this.send({ type: 'resumed', since: message.since, replayed: count, gap: replay.gap });
        }
        break;
      }
      case 'call': {
        const reply = await this.options.api.call(message.method, message.input, { transport: 'websocket' });
        this.send({ type: 'reply', id: message.id, reply });
        break;
      }
      case 'ping':
        this.send({ type: 'pong' });
        break;
      default:
        message satisfies never;
    }
  }

  /** Closes the connection with a code the client can act on. */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.options.socket.close(code, reason);
    this.dispose();
    // A client that does not answer the close handshake is cut off.
    setTimeout(() => {
      this.options.socket.terminate();
    }, 2000).unref();
  }

  private dispose(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
  }
}
