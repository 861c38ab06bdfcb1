import { EventEmitter } from 'node:events';

/** Why a job never ran. */
export type QueueDropReason = 'superseded' | 'queue-full' | 'aborted' | 'closed';

/** What a caller gets back: the job's value, or why it was dropped (callers record this). */
export type QueueResult<T> =
  | { dropped: false; value: T; waitedMs: number }
  | { dropped: true; reason: QueueDropReason; waitedMs: number; supersededBy?: string };

/** One unit of work for a provider. */
export interface QueueJob<T> {
  /** Does the work; `signal` aborts when the job's own signal does or the queue closes. */
  run(signal: AbortSignal): Promise<T>;
  /**
   * `foreground` jobs (an `llm` task a run waits on) are never dropped and start before any
   * background job. `background` jobs (summaries, the default) may be superseded or dropped.
   */
  priority?: 'foreground' | 'background';
  /**
   * Background jobs with the same key replace each other while pending: the newer job takes the
   * older one's place in line, and the older one resolves as dropped (`superseded`).
   */
  coalesceKey?: string;
  /** Aborting it while the job waits drops the job (`aborted`); while it runs, aborts `run`. */
  signal?: AbortSignal;
  /** Shown in logs and in `supersededBy`, e.g. the run id. */
  label?: string;
}

export interface LlmQueueOptions {
  /** Jobs running at once (default 1: a local model serves one request well). */
  concurrency?: number;
  /** Background jobs waiting at most; past it the oldest waiting one is dropped (`queue-full`). */
  maxPending?: number;
}

/** A snapshot of the queue, sent with every change. */
export interface QueueState {
  running: number;
  /** Background jobs waiting. */
  pending: number;
  /** Foreground jobs waiting. */
  foreground: number;
  completed: number;
  dropped: number;
}

interface Entry {
  key: string | undefined;
  label: string | undefined;
  enqueuedAt: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  execute(signal: AbortSignal): Promise<void>;
  drop(reason: QueueDropReason, supersededBy?: string): void;
}

/**
 * A bounded request queue for one provider endpoint.
 *
 * Scheduled operations can finish faster than a local model summarises them. Waiting background
 * jobs are bounded by `maxPending`, and a newer job for the same operation replaces an older one,
 * so calls never pile up; every caller still gets an answer (a value, or why it was dropped).
 */
export class LlmQueue {
  readonly concurrency: number;
  readonly maxPending: number;
  private readonly background: Entry[] = [];
  private readonly foregroundJobs: Entry[] = [];
  private readonly running = new Set<AbortController>();
  private readonly events = new EventEmitter();
  private completed = 0;
  private droppedCount = 0;
  private closed = false;

  constructor(options: LlmQueueOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.maxPending = Math.max(1, options.maxPending ?? 16);
  }

  /** The current counts. */
  get state(): QueueState {
    return {
      running: this.running.size,
      pending: this.background.length,
      foreground: this.foregroundJobs.length,
      completed: this.completed,
      dropped: this.droppedCount,
    };
  }

  /** Listens to every change of {@link state}; returns the function that stops listening. */
  onChange(listener: (state: QueueState) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Adds a job; resolves with its value or with why it was dropped, rejects when `run` throws. */
  enqueue<T>(job: QueueJob<T>): Promise<QueueResult<T>> {
    return new Promise<QueueResult<T>>((resolve, reject) => {
      const enqueuedAt = performance.now();
      const waited = (): number => Math.round(performance.now() - enqueuedAt);
      let settled = false;
      const entry: Entry = {
        key: job.coalesceKey,
        label: job.label,
        enqueuedAt,
        signal: job.signal,
        onAbort: undefined,
        execute: async (signal) => {
          const waitedMs = waited();
          try {
            const value = await job.run(signal);
            settled = true;
            resolve({ dropped: false, value, waitedMs });
          } catch (err) {
            settled = true;
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        drop: (reason, supersededBy) => {
          if (settled) return;
          settled = true;
          this.droppedCount++;
          resolve({
            dropped: true,
            reason,
            waitedMs: waited(),
            ...(supersededBy === undefined ? {} : { supersededBy }),
          });
        },
      };
      if (this.closed || job.signal?.aborted === true) {
        entry.drop(this.closed ? 'closed' : 'aborted');
        return;
      }
      if (job.signal !== undefined) {
        const signal = job.signal;
        entry.onAbort = () => {
          if (this.remove(entry)) {
            entry.drop('aborted');
            this.changed();
          }
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      if ((job.priority ?? 'background') === 'foreground') {
        this.foregroundJobs.push(entry);
      } else {
        this.addBackground(entry);
      }
      this.pump();
      this.changed();
    });
  }

  private addBackground(entry: Entry): void {
    if (entry.key !== undefined) {
      const index = this.background.findIndex((e) => e.key === entry.key);
      const older = this.background[index];
      if (older !== undefined) {
        this.background[index] = entry;
        this.detach(older);
        older.drop('superseded', entry.label);
        return;
      }
    }
    while (this.background.length >= this.maxPending) {
      const oldest = this.background.shift();
      if (oldest === undefined) break;
      this.detach(oldest);
      oldest.drop('queue-full', entry.label);
    }
    this.background.push(entry);
  }

  private remove(entry: Entry): boolean {
    for (const list of [this.foregroundJobs, this.background]) {
      const index = list.indexOf(entry);
      if (index >= 0) {
        list.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  private detach(entry: Entry): void {
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort);
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency) {
      const entry = this.foregroundJobs.shift() ?? this.background.shift();
      if (entry === undefined) return;
      this.detach(entry);
      const controller = new AbortController();
      const signal =
        entry.signal === undefined ? controller.signal : AbortSignal.any([controller.signal, entry.signal]);
      this.running.add(controller);
      void entry.execute(signal).finally(() => {
        this.running.delete(controller);
        this.completed++;
        this.pump();
        this.changed();
      });
    }
  }

  private changed(): void {
    this.events.emit('change', this.state);
  }

  /** Resolves when nothing runs and nothing waits. */
  async onIdle(): Promise<void> {
    while (this.running.size > 0 || this.background.length > 0 || this.foregroundJobs.length > 0) {
      await new Promise<void>((resolve) => {
        const stop = this.onChange(() => {
          stop();
          resolve();
        });
      });
    }
  }

  /** Drops every waiting job (`closed`) and aborts the running ones. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.foregroundJobs.splice(0), ...this.background.splice(0)]) {
      this.detach(entry);
      entry.drop('closed');
    }
    for (const controller of this.running) controller.abort(new Error('the LLM queue closed'));
    this.changed();
  }
}
