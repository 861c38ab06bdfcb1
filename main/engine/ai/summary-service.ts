import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../atomic-write.js';
import type { Engine } from '../engine.js';
import type { Logger } from '../logger.js';
import type { Manifest } from '../model/manifest.js';
import type { NotifyPolicy, OperationDef } from '../model/operation.js';
import type { LlmOverride, SummaryPolicy } from '../model/task-specs/llm-spec.js';
import type { NodeService, UltravisorNode } from '../node.js';
import type { RunEvent } from '../runner/run-events.js';
import { findRunManifest, readManifest } from '../store/manifest-files.js';
import type { Stores } from '../store/stores.js';
import type { Clock, TimerHandle } from '../triggers/clock.js';
import { resolveLlmSettings } from './llm-settings.js';
import { NotificationFeed, type AddRunResult, type DigestPolicy } from './notification-feed.js';
import { fallbackSummary, shouldSummarize, summarizeRun, type RunSummaryRecord } from './run-summary.js';

/** Bytes read from the end of a log for a digest: far more than the lines it keeps. */
const logTailBytes = 16 * 1024;

/** Added to the provider's timeout when a one-shot run waits for its summary (queue, digest, write). */
export const summaryWaitMarginMs = 5_000;

export interface RunSummaryServiceOptions {
  /** The engine whose runs get summaries; its `llm` (pool and settings) answers them. */
  engine: Engine;
  /** Where notifications go; by default a feed over the engine's stores database. */
  feed?: NotificationFeed;
  /** The operation's current definition, for {@link RunSummaryService.retry} of stored runs. */
  findOperation?: (id: string) => OperationDef | undefined;
  logger?: Logger;
}

/** What became of one finished run. */
export interface SummaryOutcome {
  runId: string;
  /** Undefined when the policy asked for none (the manifest keeps the runner's summary). */
  summary?: RunSummaryRecord;
  notification?: AddRunResult;
}

/** A manifest's summary was (re)written: after a run ended, or by {@link RunSummaryService.retry}. */
export interface SummaryWritten {
  runId: string;
  operationId: string;
  summary: RunSummaryRecord;
}

interface Job {
  controller: AbortController;
  done: Promise<SummaryOutcome>;
}

/** Reads the last bytes of a run's log, given its path relative to the run folder. */
async function readTail(runFolder: string, relPath: string): Promise<string> {
  const handle = await open(join(runFolder, relPath), 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, logTailBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

function digestPolicy(notify: NotifyPolicy | undefined): DigestPolicy | undefined {
  const digest = notify?.digest;
  if (digest === undefined) return undefined;
  return {
    ...(digest.every === undefined ? {} : { every: digest.every }),
    ...(digest.interval === undefined ? {} : { intervalMs: digest.interval }),
    ...(digest.key === undefined ? {} : { key: digest.key }),
  };
}

/**
 * Run summaries and notifications: after a run ends, a friendly summary replaces the runner's
 * plain one in the manifest, and the notifications feed gets an entry.
 *
 * It listens to the engine's `run-ended`, which the runner emits only after the manifest with
 * the final status and end time is on disk, and works in the background: a run never waits for,
 * or fails because of, the LLM. Per operation, `summary:` decides which runs get a summary
 * (default: failures and changes). `source` in the stored summary says who wrote it:
 *
 * - `llm`: the model answered;
 * - `fallback`: an LLM is configured but did not answer in time, failed, replied off the schema or
 *   was superseded by a newer run of the same operation (`fallbackReason` says which);
 * - `engine`: no LLM is configured (no `llm` in settings.json, no `OLLAMA_HOST`, no operation
 *   `llm:`), so the deterministic text is written without asking anyone. Runs the policy skips
 *   keep the runner's own `engine` summary and make no notification.
 *
 * Child runs (of `operation` tasks) are covered by their parent's summary and get none of their own.
 */
export class RunSummaryService implements NodeService {
  readonly name = 'run-summaries';
  private readonly jobs = new Map<string, Job>();
  private readonly summaryListeners = new Set<(written: SummaryWritten) => void>();
  private readonly logger: Logger | undefined;
  private feedValue: NotificationFeed | undefined;
  private clock: Clock | undefined;
  private digestTimer: TimerHandle | undefined;
  private attached = false;

  constructor(private readonly options: RunSummaryServiceOptions) {
    this.logger = options.logger?.child({ component: 'summaries' });
    this.feedValue = options.feed;
  }

  /** The notifications feed (opened on the engine's stores on first use); undefined without stores. */
  get feed(): NotificationFeed | undefined {
    if (this.feedValue === undefined) {
      const stores = this.options.engine.stores;
      if (stores !== undefined) this.feedValue = new NotificationFeed(stores.db);
    }
    return this.feedValue;
  }

  private readonly onEvent = (event: RunEvent): void => {
    if (event.type !== 'run-ended' || event.manifest.parent !== undefined) return;
    // Inside the engine's emit: nothing here may throw into the run or block it.
    try {
      this.begin(event.manifest, event.operation);
    } catch (err) {
      this.logger?.error({ err, runId: event.runId }, 'run summary not started');
    }
  };

  /**
   * Calls `listener` each time a manifest's summary is rewritten (on disk and in the run index);
   * returns the function that stops it. A listener that throws is logged and does not stop others.
   */
  onSummary(listener: (written: SummaryWritten) => void): () => void {
    this.summaryListeners.add(listener);
    return () => {
      this.summaryListeners.delete(listener);
    };
  }

  /** Starts summarising the engine's runs as they end. Idempotent. */
  attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.options.engine.on('event', this.onEvent);
  }

  /** Stops listening; summaries in progress go on. */
  detach(): void {
    this.attached = false;
    this.options.engine.off('event', this.onEvent);
  }

  /** As a node service: listens to runs and flushes digests when their interval passes. */
  start(node: UltravisorNode): Promise<void> {
    this.clock = node.clock;
    this.attach();
    this.armDigestTimer();
    return Promise.resolve();
  }

  /**
   * Stops listening and cuts summaries in progress short: each writes its fallback and its
   * notification, so a shutdown never waits on a slow model. Runs ending after this keep the
   * runner's summary.
   */
  async stop(): Promise<void> {
    this.detach();
    if (this.digestTimer !== undefined) this.clock?.clearTimer(this.digestTimer);
    this.digestTimer = undefined;
    const jobs = [...this.jobs.values()];
    for (const job of jobs) job.controller.abort(new Error('the node is stopping'));
    await Promise.allSettled(jobs.map((job) => job.done));
  }

  /** Run ids whose summary is still being made. */
  pending(): string[] {
    return [...this.jobs.keys()];
  }

  /**
   * Resolves once a run's summary is written (at once when none is being made for it).
   *
   * With `abortAfterMs`, a summary still waiting then is cut short and the fallback written, so
   * the wait is bounded; see {@link summaryWaitMs}.
   */
  async settled(runId: string, options: { abortAfterMs?: number } = {}): Promise<SummaryOutcome | undefined> {
    const job = this.jobs.get(runId);
    if (job === undefined) return undefined;
    const timer =
      options.abortAfterMs === undefined
        ? undefined
        : setTimeout(() => {
            job.controller.abort(new Error(`no summary within ${options.abortAfterMs} ms`));
          }, options.abortAfterMs);
    try {
      return await job.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** How long a one-shot run waits for its summary: the provider's timeout plus a margin. */
  summaryWaitMs(operation?: { llm?: LlmOverride }): number {
    const { settings } = this.options.engine.llm.snapshot();
    return resolveLlmSettings(settings, operation?.llm).timeout + summaryWaitMarginMs;
  }

  /**
   * Makes a stored run's summary again (e.g. the LLM was down when it ended) whatever the policy,
   * and rewrites its manifest and index row. No new notification is added.
   */
  async retry(runId: string, options: { signal?: AbortSignal } = {}): Promise<RunSummaryRecord> {
    const { engine } = this.options;
    const stores = engine.stores;
    const path = stores?.runs.get(runId)?.manifest ?? (await findRunManifest(engine.dataDir, runId));
    if (path === undefined)
      throw new Error(`no run "${runId}" on this node: check the id with \`ultravisor runs\``);
    const manifest = await readManifest(path);
    if (manifest.status === 'running')
      throw new Error(`run ${manifest.runId} is still running: retry once it ends`);
    const operation = this.options.findOperation?.(manifest.operation.id);
    const previous = await this.previousRun(stores, manifest);
    const signal = options.signal ?? new AbortController().signal;
    const summary = await this.produce(manifest, previous, operation?.llm, signal);
    await this.record(manifest.links.manifest, summary);
    return summary;
  }

  /** Adds the digests whose interval has passed. */
  flushDigests(): void {
    const feed = this.feed;
    if (feed === undefined) return;
    const now = new Date(this.clock?.now() ?? Date.now());
    for (const n of feed.flushDue(now)) this.logger?.info({ id: n.id, title: n.title }, 'digest added');
  }

  private armDigestTimer(): void {
    const clock = this.clock;
    if (clock === undefined || !this.attached) return;
    if (this.digestTimer !== undefined) clock.clearTimer(this.digestTimer);
    this.digestTimer = undefined;
    let due: Date | undefined;
    try {
      due = this.feed?.nextDigestDue();
    } catch (err) {
      this.logger?.error({ err }, 'cannot read pending digests');
      return;
    }
    if (due === undefined) return;
    this.digestTimer = clock.setTimer(
      () => {
        this.digestTimer = undefined;
        try {
          this.flushDigests();
        } catch (err) {
          this.logger?.error({ err }, 'digest flush failed');
        }
        this.armDigestTimer();
      },
      Math.max(0, due.getTime() - clock.now()),
    );
  }

  private begin(manifest: Manifest, operation: OperationDef | undefined): void {
    const controller = new AbortController();
    const done = this.run(manifest, operation, controller.signal)
      .catch((err: unknown): SummaryOutcome => {
        this.logger?.error(
          { err, runId: manifest.runId },
          'run summary failed; the manifest keeps the runner’s',
        );
        return { runId: manifest.runId };
      })
      .finally(() => {
        this.jobs.delete(manifest.runId);
      });
    this.jobs.set(manifest.runId, { controller, done });
  }

  private async run(
    manifest: Manifest,
    operation: OperationDef | undefined,
    signal: AbortSignal,
  ): Promise<SummaryOutcome> {
    // Leave the engine's emit first: the index query and file reads below are not the run's business.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const stores = this.options.engine.stores;
    const def = operation ?? this.options.findOperation?.(manifest.operation.id);
    const previous = await this.previousRun(stores, manifest);
    const policy: SummaryPolicy | undefined = def?.summary;
    if (!shouldSummarize(policy, manifest, previous)) return { runId: manifest.runId };

    const summary = await this.produce(manifest, previous, def?.llm, signal);
    const written = await this.record(manifest.links.manifest, summary);
    if (written === undefined) return { runId: manifest.runId, summary };

    const feed = this.feed;
    if (feed === undefined) return { runId: manifest.runId, summary };
    const digest = digestPolicy(def?.notify);
    const notification = feed.addRun({
      manifest: written,
      summary,
      ...(previous === undefined ? {} : { previous }),
      force: def?.notify?.unchanged === true,
      ...(digest === undefined ? {} : { digest }),
    });
    if (notification.kind === 'pending') this.armDigestTimer();
    return { runId: manifest.runId, summary, notification };
  }

  /** The LLM summary when an LLM is configured (its fallback when it does not answer), else the engine's. */
  private async produce(
    manifest: Manifest,
    previous: Manifest | undefined,
    override: LlmOverride | undefined,
    signal: AbortSignal,
  ): Promise<RunSummaryRecord> {
    const { settings, configured } = this.options.engine.llm.snapshot();
    if (!configured && override === undefined) {
      return { ...fallbackSummary(manifest, previous === undefined ? {} : { previous }), source: 'engine' };
    }
    const resolved = resolveLlmSettings(settings, override);
    return summarizeRun({
      manifest,
      ...(previous === undefined ? {} : { previous }),
      readLogTail: (rel) => readTail(manifest.links.run, rel),
      llm: this.options.engine.llm.pool.handle(resolved),
      model: resolved.model,
      signal,
      ...(this.logger === undefined ? {} : { logger: this.logger }),
    });
  }

  /**
   * Sets the manifest's `summary` (re-read from disk, written atomically) and updates the run
   * index; undefined when the run folder is gone (pruned meanwhile).
   */
  private async record(path: string, summary: RunSummaryRecord): Promise<Manifest | undefined> {
    let current: Manifest;
    try {
      current = await readManifest(path);
    } catch (err) {
      this.logger?.warn({ err, path }, 'manifest gone before its summary was written');
      return undefined;
    }
    current.summary = summary;
    await writeJsonAtomic(path, current);
    try {
      this.options.engine.stores?.runs.recordManifest(current);
    } catch (err) {
      this.logger?.error({ err, runId: current.runId }, 'run index not updated with the summary');
    }
    const written: SummaryWritten = { runId: current.runId, operationId: current.operation.id, summary };
    for (const listener of this.summaryListeners) {
      try {
        listener(written);
      } catch (err) {
        this.logger?.error({ err, runId: current.runId }, 'summary listener failed');
      }
    }
    return current;
  }

  /** The run of the same operation that started before this one, from the index. */
  private async previousRun(stores: Stores | undefined, manifest: Manifest): Promise<Manifest | undefined> {
    if (stores === undefined) return undefined;
    const startedMs = Date.parse(manifest.startedAt);
    const rows = stores.runs.list({ operationId: manifest.operation.id, to: startedMs + 1, limit: 10 }).runs;
    const row = rows.find(
      (r) => r.runId !== manifest.runId && r.status !== 'running' && r.parentRunId === undefined,
    );
    if (row === undefined) return undefined;
    try {
      return await readManifest(row.manifest);
    } catch {
      return undefined;
    }
  }
}
