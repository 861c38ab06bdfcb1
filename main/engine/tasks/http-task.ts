import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration } from '../model/duration.js';
import { decodeText, isJsonType, receiveBody, type ReceivedBody } from './http-body.js';
import { prepareRequest, type PreparedRequest } from './http-request.js';
import { abortMessage } from './process-abort.js';
import { TaskFailure, type TaskKind, type TaskResult, type TaskRunContext } from './task-kind.js';

/** What an HTTP task puts in its output (on success, and with a failure that got a response). */
export interface HttpOutput {
  status: number;
  statusText: string;
  /** Response headers, names lowercased; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body: parsed JSON when it is JSON, else text. Absent when empty or saved to `bodyFile`. */
  body?: unknown;
  /** Where a body over `maxBodyBytes` (or a binary one) was saved, in the run's staging folder. */
  bodyFile?: string;
  /** Body bytes received (after content decoding). */
  bodyBytes: number;
  /** The final URL, after redirects. */
  url: string;
  /** Time of the last attempt, from sending to the end of the body. */
  ms: number;
}

const defaultTimeoutMs = 30_000;
const defaultBackoffMs = 1000;
/** Exponential backoff stops growing here; 100 attempts would otherwise wait for ages. */
const maxBackoffMs = 5 * 60_000;
/** Text bodies up to this size are copied into the log. */
const logBodyBytes = 4096;

/** `http:` — one HTTP request with fetch, with optional retries on network errors, timeouts and 5xx. */
export const httpTask: TaskKind<'http'> = { kind: 'http', run: runHttp };

type HttpContext = TaskRunContext<'http'>;

/** How one attempt ended: a result to return or throw, or a failure worth another try. */
type Attempt =
  { kind: 'done'; result: TaskResult } | { kind: 'failed'; error: TaskFailure; retryable: boolean };

async function runHttp(ctx: HttpContext): Promise<TaskResult> {
  const request = prepareRequest(ctx);
  const attempts = ctx.spec.retry?.attempts ?? 1;
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) throw new TaskFailure(abortMessage(ctx.signal, requestLine(request)));
    const outcome = await attemptOnce(ctx, request, attempt === attempts);
    if (outcome.kind === 'done') return outcome.result;
    if (!outcome.retryable || attempt >= attempts) throw withAttempts(outcome.error, attempt);
    const wait = backoffMs(ctx, attempt);
    ctx.log.note(
      `attempt ${attempt} of ${attempts} failed: ${outcome.error.message}; retrying in ${formatDuration(wait)}`,
    );
    await waitToRetry(ctx, request, wait);
  }
}

function withAttempts(error: TaskFailure, attempts: number): TaskFailure {
  return attempts === 1
    ? error
    : new TaskFailure(`${error.message} (after ${attempts} attempts)`, error.details);
}

function backoffMs(ctx: HttpContext, attempt: number): number {
  const base = ctx.spec.retry?.backoff ?? defaultBackoffMs;
  const wait = ctx.spec.retry?.strategy === 'exponential' ? base * 2 ** (attempt - 1) : base;
  return Math.min(wait, maxBackoffMs);
}

async function waitToRetry(ctx: HttpContext, request: PreparedRequest, ms: number): Promise<void> {
  try {
    await delay(ms, undefined, { signal: ctx.signal });
  } catch {
    throw new TaskFailure(abortMessage(ctx.signal, `${requestLine(request)} (while waiting to retry)`));
  }
}

/**
 * Sends the request once and reads the response, under its own timeout and the task's signal.
 *
 * A 5xx that will be retried has its body discarded; on the last attempt the body is read so
 * the failure's output shows what the server said.
 */
async function attemptOnce(ctx: HttpContext, request: PreparedRequest, isLast: boolean): Promise<Attempt> {
  const timeoutMs = ctx.spec.timeout ?? defaultTimeoutMs;
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    timeout.abort();
  }, timeoutMs);
  const signal = AbortSignal.any([ctx.signal, timeout.signal]);
  const started = performance.now();
  try {
    ctx.log.note(requestLine(request));
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      signal,
    });
    logResponse(ctx, response, performance.now() - started);
    const expected = isExpected(ctx, response.status);
    if (!expected && response.status >= 500 && !isLast) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'failed', error: statusFailure(request, response), retryable: true };
    }
    const received = await receiveBody(response, {
      maxBytes: ctx.spec.maxBodyBytes,
      dir: ctx.staging,
      prefix: `http-${ctx.task.id}`,
    });
    const output = outputOf(ctx, request, response, received, performance.now() - started);
    if (expected) return { kind: 'done', result: { output } };
    return {
      kind: 'failed',
      error: statusFailure(request, response, output),
      retryable: response.status >= 500,
    };
  } catch (err) {
    if (ctx.signal.aborted) throw new TaskFailure(abortMessage(ctx.signal, requestLine(request)));
    if (timeout.signal.aborted) {
      const message = `${requestLine(request)} timed out after ${formatDuration(timeoutMs)}`;
      return { kind: 'failed', error: new TaskFailure(message), retryable: true };
    }
    return networkFailure(request, err);
  } finally {
    clearTimeout(timer);
  }
}

function isExpected(ctx: HttpContext, status: number): boolean {
  const expected = ctx.spec.expectStatus;
  return expected === undefined ? status >= 200 && status <= 299 : expected.includes(status);
}

function statusFailure(request: PreparedRequest, response: Response, output?: HttpOutput): TaskFailure {
  return new TaskFailure(
    `${requestLine(request)} → ${statusLine(response)}`,
    output === undefined ? {} : { output },
  );
}

/**
 * Turns a fetch rejection into a failure: network errors are worth retrying, the rest are not.
 *
 * fetch rejects with a TypeError whose `cause` is the socket or DNS error; a TypeError without a
 * cause is a request fetch refused to send.
 */
function networkFailure(request: PreparedRequest, err: unknown): Attempt {
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause === undefined) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      kind: 'failed',
      error: new TaskFailure(`${requestLine(request)} failed: ${message}`),
      retryable: false,
    };
  }
  return {
    kind: 'failed',
    error: new TaskFailure(`${requestLine(request)} failed: ${explainCause(cause)}`),
    retryable: true,
  };
}

/** A short reason with the system code and what to check, e.g. `connection refused (ECONNREFUSED) — …`. */
function explainCause(cause: unknown): string {
  const code = errorCode(cause);
  const message = cause instanceof Error ? cause.message : String(cause);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED) — is the server running and listening on that port?';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${code}) — check the host name and DNS`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection closed by the server (${code}) before the response was complete`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `could not connect in time (${code}) — check the host, port and firewall`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable (${code}) — check the network`;
    case undefined:
      return message;
    default:
      if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO/.test(code)) return `TLS problem (${code}): ${message}`;
      return `${message} (${code})`;
  }
}

/** The code of an error, or of the first error inside an AggregateError (happy-eyeballs connects). */
function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  if ('code' in err && typeof err.code === 'string') return err.code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  return undefined;
}

/** Writes the status line and headers to the log, curl-style; cookie values are left out. */
function logResponse(ctx: HttpContext, response: Response, ms: number): void {
  ctx.log.note(`${statusLine(response)} in ${formatDuration(ms)}`);
  const lines: string[] = [];
  response.headers.forEach((value, name) => {
    lines.push(`< ${name}: ${name === 'set-cookie' ? '[not logged]' : value}\n`);
  });
  ctx.log.write(lines.join(''));
}

function outputOf(
  ctx: HttpContext,
  request: PreparedRequest,
  response: Response,
  received: ReceivedBody,
  ms: number,
): HttpOutput {
  const base = {
    status: response.status,
    statusText: response.statusText,
    headers: headersOf(response.headers),
    bodyBytes: received.bytes,
    url: response.url === '' ? request.url.href : response.url,
    ms: Math.round(ms),
  };
  if (received.kind === 'file') {
    ctx.log.note(`body: ${received.bytes} bytes saved to ${received.path}`);
    return { ...base, bodyFile: received.path };
  }
  if (received.bytes === 0) return base;
  return { ...base, body: bodyValue(ctx, response, received.data) };
}

function headersOf(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    const existing = record[name];
    record[name] = existing === undefined ? value : `${existing}, ${value}`;
  });
  return record;
}

/**
 * The body as JSON when the response says JSON (or has no type and parses), else as text.
 *
 * A JSON content type with a body that does not parse is kept as text and noted in the log, so a
 * broken server never fails the task by itself.
 */
function bodyValue(ctx: HttpContext, response: Response, data: Buffer): unknown {
  const contentType = response.headers.get('content-type');
  const text = decodeText(data, contentType);
  if (data.length <= logBodyBytes) ctx.log.write(text.endsWith('\n') ? text : `${text}\n`);
  const saysJson = isJsonType(contentType);
  if (!saysJson && contentType !== null) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    if (saysJson) ctx.log.note('the body is not valid JSON despite its content type; kept as text');
    return text;
  }
}

function statusLine(response: Response): string {
  return response.statusText === '' ? String(response.status) : `${response.status} ${response.statusText}`;
}

function requestLine(request: PreparedRequest): string {
  return `${request.method} ${redactedUrl(request.url)}`;
}

/** Query parameters whose values the log never shows (`api_key`, `token`, `X-Amz-Signature`, …). */
const secretParam = /key|token|secret|passw|pwd|auth|sig|credential|session/i;

/**
 * A URL as the log shows it: the password and the values of secret-looking query parameters
 * replaced by `***`. Logs get pasted into chats and issues; the request itself is unchanged.
 */
export function redactedUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  for (const name of new Set(shown.searchParams.keys()))
    if (secretParam.test(name)) shown.searchParams.set(name, '***');
  return shown.href.replaceAll('%2A%2A%2A', '***');
}
