import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Api } from '../api/api-service.js';
import {
  httpStatusForCode,
  wsProtocol,
  wsTokenProtocolPrefix,
  type ApiErrorBody,
  type CallReply,
} from '../api/contract.js';
import type { Logger } from '../engine/logger.js';
import { AuthThrottle } from './auth-throttle.js';
import { checkFileTicket, fileTicket } from './file-tickets.js';
import { tokenMatches } from './node-token.js';
import { allowedOrigins, originAllowed } from './origin-policy.js';
import { StaticFiles } from './static-files.js';
import { defaultBackpressure, WsSession, type BackpressureLimits } from './ws-session.js';

/** Largest request body accepted (1 MiB); more is answered 413. */
export const defaultMaxBodyBytes = 1024 * 1024;

export interface ApiServerOptions {
  api: Api;
  token: string;
  logger: Logger;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 4717; 0 picks a free one). */
  port?: number;
  /** The built renderer (default `<repo>/dist/renderer`). */
  staticDir?: string;
  maxBodyBytes?: number;
  throttle?: AuthThrottle;
  limits?: Partial<BackpressureLimits>;
  /** Origins allowed besides the server's own (e.g. a dev server proxying to it). */
  extraOrigins?: readonly string[];
  /** Waits before a throttled answer; tests replace it to see the delays. */
  delay?: (ms: number) => Promise<void>;
  /** How long a WebSocket may take to send its auth message (default 5 s). */
  wsAuthTimeoutMs?: number;
  /** When the port is taken, listen on a free one instead of failing (for the default port only). */
  portFallback?: boolean;
}

export const defaultPort = 4717;

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/** Headers on every response: no sniffing, no framing, no referrers. Never any CORS header. */
function baseHeaders(res: ServerResponse): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
}

function sendJson(res: ServerResponse, status: number, body: CallReply): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

function sendError(res: ServerResponse, error: ApiErrorBody, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, httpStatusForCode[error.code], { ok: false, error });
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The token a WebSocket handshake offers as `token.<t>` in Sec-WebSocket-Protocol. */
function protocolToken(req: IncomingMessage): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return undefined;
  for (const part of header.split(',')) {
    const p = part.trim();
    if (p.startsWith(wsTokenProtocolPrefix)) return p.slice(wsTokenProtocolPrefix.length);
  }
  return undefined;
}

function remoteAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

class BodyTooLarge extends Error {}

/** Reads a request body up to `limit` bytes; rejects with {@link BodyTooLarge} past it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * The headless node's HTTP + WebSocket transport.
 *
 * `POST /api/<method>` (JSON body, bearer token) answers `{ok, result}` / `{ok: false, error}`;
 * `GET /files/<id>` downloads a stored file (bearer token or a download ticket); the WebSocket at
 * `/api/events` carries events and calls; everything else is the built web UI. Secure by default:
 * loopback only unless told, a token on every API request and socket (compared in constant time,
 * failures slowed per address), no CORS, Origin checked, bodies capped.
 */
export class ApiServer {
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly staticFiles: StaticFiles;
  private readonly throttle: AuthThrottle;
  private readonly limits: BackpressureLimits;
  private readonly maxBody: number;
  private readonly delay: (ms: number) => Promise<void>;
  private readonly sockets = new Set<Socket>();
  private origins = new Set<string>();
  private address: { host: string; port: number } | undefined;

  constructor(private readonly options: ApiServerOptions) {
    this.staticFiles = new StaticFiles(
      options.staticDir ?? fileURLToPath(new URL('../../dist/renderer', import.meta.url)),
    );
    this.throttle = options.throttle ?? new AuthThrottle();
    this.limits = { ...defaultBackpressure, ...options.limits };
    this.maxBody = options.maxBodyBytes ?? defaultMaxBodyBytes;
    this.delay = options.delay ?? sleep;
    this.server = createServer((req, res) => {
      void this.onRequest(req, res).catch((err: unknown) => {
        options.logger.error({ err }, 'request failed');
        if (!res.headersSent) sendError(res, { code: 'internal', message: 'the request failed on the node' });
        else res.destroy();
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('upgrade', (req, socket, head) => {
      void this.onUpgrade(req, socket, head);
    });
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.maxBody,
      handleProtocols: (protocols) => (protocols.has(wsProtocol) ? wsProtocol : false),
    });
    options.api.fileLink = (id) => `/files/${id}?ticket=${fileTicket(options.token, id)}`;
  }

  /** Starts listening; resolves with the base URL (with the actual port when 0 was asked). */
  async listen(): Promise<{ url: string; host: string; port: number; fellBack: boolean }> {
    const host = this.options.host ?? '127.0.0.1';
    const tryListen = (port: number): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(port, host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    let fellBack = false;
    try {
      await tryListen(this.options.port ?? defaultPort);
    } catch (err) {
      if (this.options.portFallback !== true || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE')
        throw err;
      await tryListen(0);
      fellBack = true;
    }
    const port = (this.server.address() as AddressInfo).port;
    this.address = { host, port };
    this.origins = allowedOrigins(host, port, this.options.extraOrigins);
    const urlHost =
      host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return { url: `http://${urlHost}:${port}`, host, port, fellBack };
  }

  /** Stops accepting, closes every WebSocket (going away) and open connection. */
  async close(): Promise<void> {
    for (const client of this.wss.clients) client.close(1001, 'the node is stopping');
    await new Promise<void>((resolve) => {
      this.wss.close(() => {
        resolve();
      });
    });
    const closing = new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
    this.server.closeIdleConnections();
    for (const socket of this.sockets) socket.destroy();
    await closing;
  }

  /** Checks a presented token; a failure is recorded and answered only after the throttle's delay. */
  private async authenticate(
    address: string,
    presented: string | undefined,
  ): Promise<'ok' | 'denied' | 'refused'> {
    if (tokenMatches(this.options.token, presented)) return 'ok';
    const decision = this.throttle.fail(address);
    if (decision.action === 'refuse') return 'refused';
    if (decision.delayMs > 0) {
      const release = this.throttle.hold(address);
      try {
        await this.delay(decision.delayMs);
      } finally {
        release();
      }
    }
    this.options.logger.warn(
      { address, failures: this.throttle.count(address) },
      'request with a missing or wrong token',
    );
    return 'denied';
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    baseHeaders(res);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      await this.onApi(req, res, path.slice('/api/'.length));
      return;
    }
    const file = /^\/files\/(\d{1,15})$/.exec(path);
    if (file?.[1] !== undefined) {
      await this.onFile(req, res, Number(file[1]), url.searchParams.get('ticket'));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    await this.staticFiles.serve(req, res, path);
  }

  private async onApi(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (!originAllowed(req.headers.origin, this.origins)) {
      req.resume();
      sendError(res, {
        code: 'forbidden',
        message: `origin ${req.headers.origin ?? ''} may not call this node`,
      });
      return;
    }
    const auth = await this.authenticate(remoteAddress(req), bearer(req));
    if (auth !== 'ok') {
      req.resume();
      sendError(
        res,
        auth === 'refused'
          ? {
              code: 'too-many-requests',
              message: 'too many failed attempts from this address: wait and retry',
            }
          : {
              code: 'unauthorized',
              message: 'a valid node token is required: Authorization: Bearer <token>',
            },
        auth === 'refused' ? { 'retry-after': '10' } : { 'www-authenticate': 'Bearer realm="ultravisor"' },
      );
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('allow', 'POST');
      res.statusCode = 405;
      sendJson(res, 405, {
        ok: false,
        error: { code: 'bad-request', message: `use POST for /api/${method}` },
      });
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.maxBody);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      // Answer at once and close: reading the rest of an oversized body is work for nothing.
      res.setHeader('connection', 'close');
      sendError(res, {
        code: 'payload-too-large',
        message: `the request body is over ${this.maxBody} bytes`,
      });
      res.on('finish', () => req.socket.destroySoon());
      req.resume();
      return;
    }
    let input: unknown = {};
    const text = body.toString('utf8');
    if (text.trim() !== '') {
      try {
        input = JSON.parse(text);
      } catch (err) {
        sendError(res, {
          code: 'bad-request',
          message: `the request body is not JSON: ${err instanceof Error ? err.message : String(err)}`,
        });
        return;
      }
    }
    const started = performance.now();
    const reply = await this.options.api.call(method, input, { transport: 'http' });
    const status = reply.ok ? 200 : httpStatusForCode[reply.error.code];
    this.options.logger.debug({ method, status, ms: Math.round(performance.now() - started) }, 'api call');
    sendJson(res, status, reply);
  }

  private async onFile(
    req: IncomingMessage,
    res: ServerResponse,
    id: number,
    ticket: string | null,
  ): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    const ticketOk = ticket !== null && checkFileTicket(this.options.token, id, ticket);
    if (!ticketOk) {
      const auth = await this.authenticate(remoteAddress(req), bearer(req));
      if (auth !== 'ok') {
        sendError(res, {
          code: auth === 'refused' ? 'too-many-requests' : 'unauthorized',
          message: 'a valid node token (or download ticket from files.list) is required',
        });
        return;
      }
    }
    const stored = this.options.api.node.engine.stores?.files.get(id);
    const info = stored === undefined ? undefined : await stat(stored.path).catch(() => undefined);
    if (stored === undefined || info?.isFile() !== true) {
      sendError(res, { code: 'not-found', message: `no stored file ${id} on this node` });
      return;
    }
    const name = stored.name.split('/').pop() ?? `file-${id}`;
    res.statusCode = 200;
    res.setHeader('content-type', stored.mediaType);
    res.setHeader('content-length', info.size);
    // Files are run output, not ours: never render them as a page of this origin.
    res.setHeader('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`);
    res.setHeader('content-security-policy', "sandbox; default-src 'none'");
    res.setHeader('cache-control', 'private, no-store');
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(stored.path);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  private rejectUpgrade(socket: Duplex, status: number, message: string): void {
    const reason =
      status === 401
        ? 'Unauthorized'
        : status === 403
          ? 'Forbidden'
          : status === 429
            ? 'Too Many Requests'
            : 'Not Found';
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
    );
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/events') {
      this.rejectUpgrade(socket, 404, 'WebSocket is served at /api/events\n');
      return;
    }
    if (!originAllowed(req.headers.origin, this.origins)) {
      this.rejectUpgrade(socket, 403, 'origin not allowed\n');
      return;
    }
    const offered = protocolToken(req);
    let authenticated = false;
    if (offered !== undefined) {
      const auth = await this.authenticate(remoteAddress(req), offered);
      if (auth !== 'ok') {
        this.rejectUpgrade(socket, auth === 'refused' ? 429 : 401, 'a valid node token is required\n');
        return;
      }
      authenticated = true;
    }
    const address = remoteAddress(req);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      new WsSession({
        api: this.options.api,
        socket: ws,
        logger: this.options.logger,
        limits: this.limits,
        authenticated,
        checkToken: async (token) => (await this.authenticate(address, token)) === 'ok',
        ...(this.options.wsAuthTimeoutMs === undefined
          ? {}
          : { authTimeoutMs: this.options.wsAuthTimeoutMs }),
      });
    });
  }

  /** The allowed page origins (after {@link listen}). */
  allowedOrigins(): ReadonlySet<string> {
    return this.origins;
  }

  get listening(): { host: string; port: number } | undefined {
    return this.address;
  }
}
