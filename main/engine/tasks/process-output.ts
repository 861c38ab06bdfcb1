import type { Readable } from 'node:stream';
import type { TaskLog } from '../runner/task-log.js';

/**
 * The last `limit` bytes of a stream, kept as a short list of chunks.
 *
 * Output can be gigabytes; only the tail is worth keeping for the manifest. Chunks are kept as
 * they came (views, never copies) and dropped whole once newer ones cover the limit, so keeping the
 * tail costs no copying and no garbage however the stream happens to be cut.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  /** Bytes held in `chunks`. */
  private held = 0;
  private total = 0;

  constructor(readonly limit: number) {}

  /** Bytes seen in total, kept or not. */
  get size(): number {
    return this.total;
  }

  /** True when earlier bytes were dropped to stay within the limit. */
  get truncated(): boolean {
    return this.total > this.limit;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.held += chunk.length;
    for (let first = this.chunks[0]; first !== undefined && this.held - first.length >= this.limit;) {
      this.chunks.shift();
      this.held -= first.length;
      first = this.chunks[0];
    }
  }

  /** The kept bytes (the last `limit` seen) as one buffer. */
  toBuffer(): Buffer {
    const all = Buffer.concat(this.chunks, this.held);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }

  /**
   * The kept bytes decoded as UTF-8, invalid sequences replaced by U+FFFD.
   *
   * When the front was cut, the partial character it may start with is skipped rather than shown
   * as a replacement character.
   */
  text(): string {
    const buf = this.toBuffer();
    let start = 0;
    if (this.truncated) while (start < 3 && start < buf.length && isContinuationByte(buf[start])) start++;
    return buf.toString('utf8', start);
  }
}

function isContinuationByte(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/** A running copy of one output stream into a task log. */
export interface LogPipe {
  /** Resolves once the stream has closed (ended or destroyed). Never rejects. */
  readonly done: Promise<void>;
  /** True while the stream is paused because the log asked to wait for a drain. */
  readonly waitingForDrain: boolean;
  /** Stops reading and closes the stream (its remaining data is dropped). */
  destroy(): void;
}

/**
 * Copies a stream into a task log as bytes arrive, pausing it while the log file catches up.
 *
 * Bytes go to the log unchanged (binary output and broken UTF-8 included); `onChunk` sees every
 * chunk too, e.g. to keep a tail.
 */
export function pipeToLog(stream: Readable, log: TaskLog, onChunk?: (chunk: Buffer) => void): LogPipe {
  let waiting = false;
  const onData = (data: Buffer | string): void => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    onChunk?.(chunk);
    if (log.write(chunk) || waiting) return;
    waiting = true;
    stream.pause();
    void log
      .drained()
      .catch(() => undefined) // A failing log file is reported by TaskLog.close(); keep the child unblocked.
      .finally(() => {
        waiting = false;
        stream.resume();
      });
  };
  const done = new Promise<void>((resolve) => {
    // A stream with nothing in it can have ended and closed before it was handed over.
    if (stream.closed) {
      resolve();
      return;
    }
    stream.on('data', onData);
    stream.once('close', () => {
      resolve();
    });
    // A read error (EIO) ends the stream; 'close' follows and the exit status tells the story.
    stream.on('error', () => undefined);
  });
  return {
    done,
    get waitingForDrain() {
      return waiting;
    },
    destroy: () => {
      stream.destroy();
    },
  };
}
