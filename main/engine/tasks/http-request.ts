import { TaskFailure, type TaskRunContext } from './task-kind.js';

/** A request ready to send, built once and reused by every attempt. */
export interface PreparedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body?: string | URLSearchParams;
}

type HttpContext = TaskRunContext<'http'>;

/**
 * Renders the spec into a request: URL with merged query, headers, and at most one body.
 *
 * Bad input (not an http(s) URL, a body on GET, an invalid header) becomes a TaskFailure that
 * says what to change, before anything is sent.
 */
export function prepareRequest(ctx: HttpContext): PreparedRequest {
  const { spec } = ctx;
  const url = parseUrl(ctx.renderString(spec.url));
  for (const [name, value] of Object.entries(spec.query))
    url.searchParams.append(name, typeof value === 'string' ? ctx.renderString(value) : String(value));
  const headers = renderHeaders(ctx);
  const body = renderBody(ctx, headers);
  if (body !== undefined && (spec.method === 'GET' || spec.method === 'HEAD'))
    throw new TaskFailure(
      `${spec.method} requests cannot carry a body: remove json/text/form, or use POST, PUT or PATCH`,
    );
  return { method: spec.method, url, headers, ...(body === undefined ? {} : { body }) };
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TaskFailure(`invalid URL "${text}": use an absolute http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TaskFailure(
      `unsupported URL scheme "${url.protocol}" in ${url.href}: only http and https URLs work`,
    );
  if (url.username !== '' || url.password !== '')
    throw new TaskFailure(
      `the URL ${url.host} carries credentials: send them in an Authorization header instead (e.g. from an env value)`,
    );
  return url;
}

function renderHeaders(ctx: HttpContext): Headers {
  const headers = new Headers();
  for (const [name, template] of Object.entries(ctx.spec.headers)) {
    const value = ctx.renderString(template);
    try {
      headers.append(name, value);
    } catch {
      throw new TaskFailure(
        `invalid header ${JSON.stringify(name)}: names are tokens and values cannot hold line breaks`,
      );
    }
  }
  return headers;
}

/** The body and, unless the spec set one, its content type. */
function renderBody(ctx: HttpContext, headers: Headers): string | URLSearchParams | undefined {
  const { spec } = ctx;
  if (spec.json !== undefined) {
    setDefault(headers, 'content-type', 'application/json');
    return serialiseJson(ctx.renderDeep(spec.json));
  }
  if (spec.text !== undefined) {
    setDefault(headers, 'content-type', 'text/plain;charset=utf-8');
    return ctx.renderString(spec.text);
  }
  if (spec.form !== undefined) {
    // fetch sets application/x-www-form-urlencoded;charset=UTF-8 for URLSearchParams.
    const form = new URLSearchParams();
    for (const [name, template] of Object.entries(spec.form)) form.append(name, ctx.renderString(template));
    return form;
  }
  return undefined;
}

function serialiseJson(value: unknown): string {
  try {
    // JSON.stringify(undefined) is undefined, not a JSON text; a template rendering to nothing sends null.
    return value === undefined ? 'null' : JSON.stringify(value);
  } catch (err) {
    throw new TaskFailure(
      `the json body cannot be sent as JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function setDefault(headers: Headers, name: string, value: string): void {
  if (!headers.has(name)) headers.set(name, value);
}
