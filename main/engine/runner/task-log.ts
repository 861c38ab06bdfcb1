import { open, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Listener for bytes written to a task log (the API streams these to clients). */
export type LogListener = (chunk: Buffer) => void;

/**
 * Pending bytes at which `write` asks the producer to wait.
 *
 * The batch in flight is released to the file as soon as it is taken, so at most about twice this
 * is held in memory; large batches keep the number of writes low (see docs/benchmarks.md).
 */
const highWaterMark = 1 << 20;
/** Largest read or copy when the log is finished. */
const copyChunk = 1 << 20;
/** How far a cut may move to land on a line break, as a share of the kept part. */
const lineSnapShare = 0.25;
const newline = 0x0a;

/** The line that replaces the middle of a capped log. */
export function omittedMarker(bytes: number): string {
  return `\n… ${bytes} bytes omitted …\n`;
}

type Reader = (position: number, length: number) => Promise<Buffer>;

/**
 * One execution's log file, streamed to disk as output arrives.
 *
 * Writers must respect backpressure: when `write` returns false, stop reading the source until
 * `drained()` resolves, so a task printing gigabytes never piles up in memory.
 *
 * With `maxBytes` (M) the cap is applied while streaming, so a log never takes more than about M
 * bytes of disk and nothing is rewritten: the first H = ⌊M/2⌋ bytes go to the log file in place,
 * every later byte goes to a ring file of M − H bytes next to it (`.<name>.tail`), overwriting the
 * oldest. On close the ring is folded back: the whole of it when nothing was lost, else a
 * `… N bytes omitted …` line and the newest bytes, with head and tail cut at line breaks when one is
 * near. Capping after the fact instead meant writing all of a 1 GiB log to disk, copying the kept
 * part and freeing the rest. If the process dies mid-run, the log file still holds a readable head
 * (the ring is left behind as a hidden file).
 */
export class TaskLog {
  /** M; undefined for no cap. */
  private readonly cap: number | undefined;
  /** H: bytes kept in place at the start of the log file. */
  private readonly headBudget: number;
  /** M − H: size of the ring that holds the newest bytes. */
  private readonly ringSize: number;
  private readonly ringPath: string;
  /** Bytes accepted by `write`, kept or not. */
  private bytes = 0;
  /** Logical position of the next byte handed to the file. */
  private flushed = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waiters: (() => void)[] = [];
  /** The flush loop; at most one runs at a time. */
  private flushing: Promise<void> | undefined;
  private logFile: FileHandle | undefined;
  private ringFile: FileHandle | undefined;
  private failure: { error: unknown } | undefined;
  private closing: Promise<boolean> | undefined;
  /**
   * True once the log holds more than routine notes: output, or a note worth keeping. Until then
   * nothing is written, so a silent success need not create a file at all (see {@link close}).
   */
  private significant = false;

  constructor(
    readonly path: string,
    private readonly listener?: LogListener,
    /** `maxBytes`: a longer log keeps its head and tail with a `… N bytes omitted …` marker. */
    options: { maxBytes?: number } = {},
  ) {
    const max = options.maxBytes;
    this.cap = max !== undefined && Number.isFinite(max) ? Math.max(0, Math.floor(max)) : undefined;
    this.headBudget = this.cap === undefined ? Infinity : Math.floor(this.cap / 2);
    this.ringSize = this.cap === undefined ? 0 : this.cap - this.headBudget;
    this.ringPath = join(dirname(path), `.${basename(path)}.tail`);
  }

  /** Bytes written so far (including any the cap drops). */
  get size(): number {
    return this.bytes;
  }

  /** Writes raw output; returns false when the caller should wait for {@link drained}. */
  write(chunk: Buffer | string): boolean {
    return this.append(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, true);
  }

  /**
   * Writes one line from the engine itself (attempt numbers, retries, timeouts), marked with `»`.
   *
   * `routine` notes only restate what the manifest records (the command, its exit code, the attempt
   * number); a log holding nothing else can be dropped when the execution succeeds.
   */
  note(line: string, options: { routine?: boolean } = {}): void {
    this.append(Buffer.from(`» ${line}\n`), options.routine !== true);
  }

  private append(buf: Buffer, significant: boolean): boolean {
    if (this.closing !== undefined) return true;
    this.bytes += buf.length;
    this.listener?.(buf);
    // After a write error the bytes are dropped: close() reports it, and producers never block.
    if (this.failure !== undefined) return true;
    if (significant) this.significant = true;
    if (buf.length > 0) {
      this.pending.push(buf);
      this.pendingBytes += buf.length;
      if (this.significant) this.flushing ??= this.flush();
    }
    return this.pendingBytes < highWaterMark;
  }

  /** Resolves when the log has room again (at once after a write error; close() reports it). */
  async drained(): Promise<void> {
    if (this.pendingBytes < highWaterMark) return;
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
    });
  }

  /**
   * Flushes, applies the cap and closes the file; rejects with the first write error. Safe to call
   * twice. With `dropRoutine`, a log that holds only routine notes is not written at all. Resolves
   * with whether the log file exists.
   */
  close(options: { dropRoutine?: boolean } = {}): Promise<boolean> {
    this.closing ??= this.finish(options.dropRoutine === true);
    return this.closing;
  }

  /**
   * Writes pending batches until none is left; never rejects (errors are kept for close()).
   *
   * Its first step always awaits, so `flushing` is set before the loop can end, and the writes of
   * the current tick join the first batch.
   */
  private async flush(): Promise<void> {
    try {
      const log = await this.openLog();
      while (this.pending.length > 0 && this.failure === undefined) {
        const batch = this.pending;
        const bytes = this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
        // The producer refills while this batch is on its way to disk.
        this.releaseWaiters();
        await this.writeBatch(log, batch, bytes);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = undefined;
    }
  }

  /** Routes a batch to its place: the log file up to H, then the ring. */
  private async writeBatch(log: FileHandle, batch: Buffer[], bytes: number): Promise<void> {
    const start = this.flushed;
    const end = start + bytes;
    this.flushed = end;
    const head = this.headBudget;
    const ringSize = this.ringSize;
    // The ring needs only the batch's newest ringSize bytes; older ones would be overwritten at once.
    const keepFrom = ringSize === 0 ? Infinity : Math.max(head, end - ringSize);
    const headParts: Buffer[] = [];
    const ringRuns: { position: number; parts: Buffer[] }[] = [];
    let nextRingAt = -1;
    let p = start;
    for (const buf of batch) {
      let offset = 0;
      while (offset < buf.length) {
        const at = p + offset;
        let n: number;
        if (at < head) {
          n = Math.min(buf.length - offset, head - at);
          headParts.push(buf.subarray(offset, offset + n));
        } else if (at < keepFrom) {
          n = Math.min(buf.length - offset, keepFrom - at);
        } else {
          const ringAt = (at - head) % ringSize;
          n = Math.min(buf.length - offset, ringSize - ringAt);
          if (ringAt !== nextRingAt) ringRuns.push({ position: ringAt, parts: [] });
          ringRuns[ringRuns.length - 1]?.parts.push(buf.subarray(offset, offset + n));
          nextRingAt = ringAt + n;
        }
        offset += n;
      }
      p += buf.length;
    }
    if (headParts.length > 0) await this.writeAll(log, headParts, start);
    if (ringRuns.length === 0) return;
    this.ringFile ??= await open(this.ringPath, 'w+');
    for (const run of ringRuns) await this.writeAll(this.ringFile, run.parts, run.position);
  }

  private async finish(dropRoutine: boolean): Promise<boolean> {
    if (!this.significant && dropRoutine && this.failure === undefined) {
      this.pending = [];
      this.pendingBytes = 0;
      this.releaseWaiters();
      return false;
    }
    if (this.pending.length > 0) this.flushing ??= this.flush();
    while (this.flushing !== undefined) await this.flushing;
    if (this.failure === undefined) {
      try {
        // Opens the file even for a log that never got a byte, so every execution has one.
        const log = await this.openLog();
        if (this.cap !== undefined && this.flushed > this.headBudget) await this.fold(log, this.cap);
      } catch (error) {
        this.fail(error);
      }
    }
    if (this.ringFile !== undefined) {
      await this.ringFile.close().catch(() => undefined);
      await rm(this.ringPath, { force: true }).catch((error: unknown) => {
        this.fail(error);
      });
    }
    await this.logFile?.close().catch((error: unknown) => {
      this.fail(error);
    });
    if (this.failure !== undefined) throw this.failure.error;
    return true;
  }

  /** Moves what the ring holds into the log file, with the omitted marker when bytes were lost. */
  private async fold(log: FileHandle, cap: number): Promise<void> {
    const total = this.flushed;
    const head = this.headBudget;
    if (total <= cap) {
      // The ring never wrapped: the log is whole.
      await this.copyFromRing(log, head, total, head);
      return;
    }
    let headEnd = head;
    let headEndsWithBreak = false;
    if (head > 0) {
      const readHead: Reader = (position, length) => readExactly(log, Buffer.allocUnsafe(length), position);
      const snap = Math.max(1, Math.floor(head * lineSnapShare));
      const lastBreak = await findLast(readHead, head - snap, head);
      if (lastBreak >= 0) headEnd = lastBreak + 1;
      headEndsWithBreak = lastBreak >= 0;
    }
    // The marker counts against the cap: sized for `total`, it is at least as long as the real one.
    const tailBudget = Math.max(0, this.ringSize - Buffer.byteLength(omittedMarker(total)));
    let tailStart = total - tailBudget;
    if (tailBudget > 0) {
      const readTail: Reader = (position, length) => this.readRing(position, Buffer.allocUnsafe(length));
      const firstBreak = await findFirst(
        readTail,
        tailStart,
        tailStart + Math.floor(tailBudget * lineSnapShare),
      );
      if (firstBreak >= 0) tailStart = firstBreak + 1;
    }
    const omitted = tailStart - headEnd;
    const marker = Buffer.from(omittedMarker(omitted).slice(headEnd > 0 && headEndsWithBreak ? 1 : 0));
    if (headEnd < head) await log.truncate(headEnd);
    await this.writeAll(log, [marker], headEnd);
    await this.copyFromRing(log, tailStart, total, headEnd + marker.length);
  }

  /** Copies logical bytes [from, to) (all in the ring) to the log file at `to`. */
  private async copyFromRing(log: FileHandle, from: number, to: number, target: number): Promise<void> {
    const buf = Buffer.allocUnsafe(Math.min(copyChunk, to - from));
    for (let p = from; p < to;) {
      const chunk = await this.readRing(p, buf.subarray(0, Math.min(buf.length, to - p)));
      await this.writeAll(log, [chunk], target + p - from);
      p += chunk.length;
    }
  }

  /** Fills `into` with logical bytes from `position` on, which sit in the ring (wrapping at most once). */
  private async readRing(position: number, into: Buffer): Promise<Buffer> {
    const ring = this.ringFile;
    if (ring === undefined) throw new Error(`${this.path}: the log's tail file is missing`);
    const at = (position - this.headBudget) % this.ringSize;
    const first = Math.min(into.length, this.ringSize - at);
    await readExactly(ring, into.subarray(0, first), at);
    if (first < into.length) await readExactly(ring, into.subarray(first), 0);
    return into;
  }

  /** Positional writev of every byte, resuming after a short write. */
  private async writeAll(handle: FileHandle, parts: Buffer[], position: number): Promise<void> {
    let left = parts.reduce((sum, part) => sum + part.length, 0);
    let rest = parts;
    let at = position;
    while (left > 0) {
      const { bytesWritten } = await handle.writev(rest, at);
      if (bytesWritten <= 0) throw new Error(`${this.path}: a write made no progress`);
      left -= bytesWritten;
      at += bytesWritten;
      if (left > 0) rest = dropFront(rest, bytesWritten);
    }
  }

  private async openLog(): Promise<FileHandle> {
    // The log path is unique per execution; all its attempts share this one handle.
    this.logFile ??= await open(this.path, 'w+');
    return this.logFile;
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.pending = [];
    this.pendingBytes = 0;
    this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** `parts` without their first `bytes` bytes. */
function dropFront(parts: Buffer[], bytes: number): Buffer[] {
  let skip = bytes;
  let i = 0;
  while (i < parts.length && skip >= (parts[i]?.length ?? 0)) {
    skip -= parts[i]?.length ?? 0;
    i++;
  }
  const rest = parts.slice(i);
  const first = rest[0];
  if (first !== undefined && skip > 0) rest[0] = first.subarray(skip);
  return rest;
}

async function readExactly(handle: FileHandle, into: Buffer, position: number): Promise<Buffer> {
  for (let done = 0; done < into.length;) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error('a task log file ended early while it was being capped');
    done += bytesRead;
  }
  return into;
}

/** Position of the first line break in [from, to), or -1. */
async function findFirst(read: Reader, from: number, to: number): Promise<number> {
  for (let p = from; p < to;) {
    const chunk = await read(p, Math.min(copyChunk, to - p));
    const i = chunk.indexOf(newline);
    if (i >= 0) return p + i;
    p += chunk.length;
  }
  return -1;
}

/** Position of the last line break in [from, to), or -1. */
async function findLast(read: Reader, from: number, to: number): Promise<number> {
  for (let end = to; end > from;) {
    const length = Math.min(copyChunk, end - from);
    const chunk = await read(end - length, length);
    const i = chunk.lastIndexOf(newline);
    if (i >= 0) return end - length + i;
    end -= length;
  }
  return -1;
}
