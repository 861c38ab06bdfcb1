import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { capLogFile } from '../store/log-cap.js';

/** Listener for bytes written to a task log (the API streams these to clients). */
export type LogListener = (chunk: Buffer) => void;

/**
 * One execution's log file, streamed to disk as output arrives.
 *
 * Writers must respect backpressure: when `write` returns false, stop reading the source until
 * `drained()` resolves, so a task printing gigabytes never piles up in memory.
 */
export class TaskLog {
  private readonly stream: WriteStream;
  private bytes = 0;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly listener?: LogListener,
    /** `maxBytes`: on close, a longer log keeps its head and tail with a `… N bytes omitted …` marker. */
    private readonly options: { maxBytes?: number } = {},
  ) {
    // A large buffer lets the file stream batch pipe-sized chunks into few writes (see docs/benchmarks.md).
    this.stream = createWriteStream(path, { flags: 'a', highWaterMark: 1 << 20 });
    this.stream.on('error', () => {
      // Surfaced by close(); a full disk must not crash the engine from an unhandled 'error'.
    });
  }

  /** Bytes written so far. */
  get size(): number {
    return this.bytes;
  }

  /** Writes raw output; returns false when the caller should wait for {@link drained}. */
  write(chunk: Buffer | string): boolean {
    if (this.closed) return true;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.bytes += buf.length;
    this.listener?.(buf);
    return this.stream.write(buf);
  }

  /** Writes one line from the engine itself (attempt numbers, retries, timeouts), marked with `»`. */
  note(line: string): void {
    this.write(`» ${line}\n`);
  }

  /** Resolves when the file stream has room again. */
  async drained(): Promise<void> {
    if (!this.stream.writableNeedDrain) return;
    await once(this.stream, 'drain');
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve, reject) => {
      this.stream.end((err?: Error | null) => {
        if (err) reject(err);
        else resolve();
      });
    });
    const max = this.options.maxBytes;
    if (max !== undefined && this.bytes > max) await capLogFile(this.path, max);
  }
}
