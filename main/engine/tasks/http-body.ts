import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadableStream } from 'node:stream/web';

/** A response body as received: small ones in memory, large or binary ones in a file. */
export type ReceivedBody =
  { kind: 'memory'; data: Buffer; bytes: number } | { kind: 'file'; path: string; bytes: number };

export interface ReceiveOptions {
  /** Bodies larger than this (declared or actual) go to a file. */
  maxBytes: number;
  /** Folder for body files (created when missing). */
  dir: string;
  /** File names are `<prefix>-<n>.body`, with the first free n. */
  prefix: string;
}

/**
 * Reads a response body without ever holding more than `maxBytes` of it in memory.
 *
 * A body goes straight to a file when its declared length is over the limit or it is not text;
 * otherwise it is buffered until it turns out larger than declared, and then moved to a file.
 */
export async function receiveBody(response: Response, options: ReceiveOptions): Promise<ReceivedBody> {
  const body = response.body as ReadableStream<Uint8Array> | null;
  if (body === null) return { kind: 'memory', data: Buffer.alloc(0), bytes: 0 };
  const chunks = body[Symbol.asyncIterator]();
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const contentType = response.headers.get('content-type');
  if (declared > options.maxBytes || !isTextual(contentType)) return saveToFile([], chunks, options);
  const buffered: Buffer[] = [];
  let size = 0;
  for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    buffered.push(chunk);
    size += chunk.length;
    if (size > options.maxBytes) return saveToFile(buffered, chunks, options);
  }
  return { kind: 'memory', data: Buffer.concat(buffered, size), bytes: size };
}

/** Writes what was already read, then the rest of the stream, into a new file. Removes it on failure. */
async function saveToFile(
  first: Buffer[],
  rest: AsyncIterator<Uint8Array>,
  options: ReceiveOptions,
): Promise<ReceivedBody> {
  const { path, handle } = await createUniqueFile(options.dir, options.prefix);
  let bytes = 0;
  try {
    for (const chunk of first) bytes += (await handle.write(chunk)).bytesWritten;
    for (let next = await rest.next(); next.done !== true; next = await rest.next())
      bytes += (await handle.write(next.value)).bytesWritten;
    await handle.close();
    return { kind: 'file', path, bytes };
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    await rest.return?.();
    throw err;
  }
}

/** Creates `<dir>/<prefix>-<n>.body` with the first n not taken, exclusively, so parallel runs never share one. */
async function createUniqueFile(dir: string, prefix: string): Promise<{ path: string; handle: FileHandle }> {
  await mkdir(dir, { recursive: true });
  for (let n = 1; ; n++) {
    const path = join(dir, `${prefix}-${n}.body`);
    try {
      return { path, handle: await open(path, 'wx') };
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
    }
  }
}

/**
 * Whether a content type is text that belongs in a JSON output (no type at all counts as text).
 *
 * Anything else (images, archives, octet-stream) would turn into mojibake there, so it goes to a file.
 */
export function isTextual(contentType: string | null): boolean {
  if (contentType === null || contentType.trim() === '') return true;
  const type = mediaType(contentType);
  return (
    type.startsWith('text/') ||
    /[/+](json|xml)$/.test(type) ||
    /^application\/(javascript|ecmascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson|csv|sql)$/.test(
      type,
    )
  );
}

/** Whether a content type says JSON (`application/json`, `application/problem+json`, …). */
export function isJsonType(contentType: string | null): boolean {
  return contentType !== null && /[/+]json$/.test(mediaType(contentType));
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** Decodes text in the charset the content type names, falling back to UTF-8 for unknown ones. */
export function decodeText(data: Buffer, contentType: string | null): string {
  const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(data);
  } catch {
    return new TextDecoder('utf-8').decode(data);
  }
}
