import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** How far a cut may move to land on a line break, as a share of the kept part. */
const lineSnapShare = 0.25;
const copyChunk = 64 * 1024;

/** The line that replaces the middle of a capped log. */
export function omittedMarker(bytes: number): string {
  return `\n… ${bytes} bytes omitted …\n`;
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

async function copyRange(from: FileHandle, to: FileHandle, start: number, end: number): Promise<void> {
  for (let pos = start; pos < end;) {
    const chunk = await readAt(from, pos, Math.min(copyChunk, end - pos));
    if (chunk.length === 0) break;
    await to.write(chunk);
    pos += chunk.length;
  }
}

/**
 * Caps a closed log file at about `maxBytes`: keeps the head and the tail, with a marker saying how
 * many bytes were dropped between them.
 *
 * Head and tail are cut at line breaks when one is near, so no line (or UTF-8 character) is split.
 * The capped file is streamed to a temp file and renamed over the log, so a crash leaves either
 * the whole log or the capped one. Returns the bytes omitted (0 when the log was within the cap).
 */
export async function capLogFile(path: string, maxBytes: number): Promise<number> {
  const size = (await stat(path)).size;
  if (size <= maxBytes) return 0;
  const source = await open(path, 'r');
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // The marker counts against the cap, so a capped log is never larger than maxBytes.
    const budget = Math.max(2, maxBytes - Buffer.byteLength(omittedMarker(size)));
    const headBudget = Math.floor(budget / 2);
    const tailBudget = budget - headBudget;
    let headEnd = headBudget;
    const snap = Math.floor(headBudget * lineSnapShare);
    const headWindow = await readAt(source, headEnd - snap, snap);
    const lastBreak = headWindow.lastIndexOf(0x0a);
    if (lastBreak >= 0) headEnd = headEnd - snap + lastBreak + 1;
    let tailStart = size - tailBudget;
    const tailWindow = await readAt(source, tailStart, Math.floor(tailBudget * lineSnapShare));
    const firstBreak = tailWindow.indexOf(0x0a);
    if (firstBreak >= 0) tailStart += firstBreak + 1;
    const omitted = tailStart - headEnd;
    const target = await open(tmp, 'wx', 0o644);
    try {
      await copyRange(source, target, 0, headEnd);
      await target.write(
        omittedMarker(omitted).slice(headEnd > 0 && (await endsWithBreak(source, headEnd)) ? 1 : 0),
      );
      await copyRange(source, target, tailStart, size);
      await target.sync();
    } finally {
      await target.close();
    }
    await rename(tmp, path);
    return omitted;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await source.close();
  }
}

async function endsWithBreak(handle: FileHandle, end: number): Promise<boolean> {
  const last = await readAt(handle, end - 1, 1);
  return last[0] === 0x0a;
}
