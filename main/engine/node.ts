import { dirname, join } from 'node:path';
import { runDir } from './data-dir.js';
import type { Engine, RunHandle } from './engine.js';
import type { Logger } from './logger.js';
import type { TriggerRecord } from './model/manifest.js';
import { openEngine } from './open-engine.js';
import { OperationStore, type OperationChange, type SavedOperation } from './operations/operation-store.js';
import type { RunEvent } from './runner/run-events.js';
import type { TaskKindRegistry } from './tasks/registry.js';
import { systemClock, type Clock, type TimerHandle } from './triggers/clock.js';
import type { CheckRunner } from './triggers/condition-checks.js';
import {
  readControl,
  setNodePaused,
  setOperationPaused,
  type ControlState,
} from './triggers/control-file.js';
import { CursorStore } from './triggers/cursor-store.js';
import { DataDirWatcher, type DataDirChange } from './triggers/data-dir-watcher.js';
import { lastFiredDueTimes } from './triggers/fired-hints.js';
import type { GateOutcome } from './triggers/overlap-gate.js';
import { Scheduler, type PauseState, type ScheduledOperation } from './triggers/scheduler.js';
import { SchedulerLock } from './triggers/scheduler-lock.js';
import { finishedRunsSince } from './triggers/run-history.js';
import {
  requestsDir,
  TriggerRequestInbox,
  type TriggerReply,
  type TriggerRequest,
} from './triggers/trigger-requests.js';
import type { WatchFactory } from './triggers/watch-source.js';

export interface NodeOptions {
  dataDir: string;
  logger: Logger;
  /** The scheduler's clock; the system clock by default, a manual one in tests. */
  clock?: Clock;
  kinds?: TaskKindRegistry;
  /** Condition checks and file watching, injectable for tests. */
  checks?: CheckRunner;
  watch?: WatchFactory;
  /** Most catch-up runs per trigger for `missed: all` (default 100). */
  missedCap?: number;
  /**
   * Watch the data dir for changes by other processes (CLI `ops`, `trigger`). Default true; tests
   * that drive the node in-process can turn it off.
   */
  watchDataDir?: boolean;
}

/**
 * Something that runs with the node: started after the scheduler, stopped before it.
 *
 * The API server, stores with background work (retention) and cluster links attach this way.
 */
export interface NodeService {
  readonly name: string;
  start?(node: UltravisorNode): Promise<void>;
  stop?(node: UltravisorNode): Promise<void>;
}

export interface StopOptions {
  /** How long running runs may take to finish before they are cancelled (default 30 s). */
  graceMs?: number;
}

export interface StopReport {
  /** Runs that were still going when the node stopped firing. */
  running: number;
  /** Of those, how many were cancelled when the grace period ran out. */
  cancelled: number;
}

function toPause(control: ControlState): PauseState {
  return { paused: control.paused, pausedOperations: new Set(Object.keys(control.pausedOperations)) };
}

function scheduled(saved: SavedOperation): ScheduledOperation {
  return { operation: saved.operation, baseDir: dirname(saved.file) };
}

/**
 * One running Ultravisor node: the engine, the saved operations and the scheduler, composed.
 *
 * {@link open} builds the parts without firing anything (a CLI can use `operations` alone);
 * {@link start} takes the data dir's scheduler lock, arms every trigger, applies missed-run
 * policies and starts watching the data dir; {@link stop} stops firing, lets runs finish within a
 * grace period and cancels the rest.
 */
export class UltravisorNode {
  readonly scheduler: Scheduler;
  private readonly services: NodeService[] = [];
  /** Runs in progress: added when launched (before the engine's run-started) or seen starting. */
  private readonly activeRuns = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private lock: SchedulerLock | undefined;
  private watcher: DataDirWatcher | undefined;
  private inbox: TriggerRequestInbox | undefined;
  private stopping: Promise<StopReport> | undefined;
  private state: 'open' | 'started' | 'stopped' = 'open';

  private constructor(
    readonly dataDir: string,
    readonly engine: Engine,
    readonly operations: OperationStore,
    private readonly cursors: CursorStore,
    readonly clock: Clock,
    readonly logger: Logger,
    private readonly options: NodeOptions,
  ) {
    this.scheduler = new Scheduler({
      clock,
      logger: logger.child({ component: 'scheduler' }),
      cursors,
      launch: (operationId, trigger, params) => this.launch(operationId, trigger, params),
      state: engine.state,
      ...(options.checks === undefined ? {} : { checks: options.checks }),
      ...(options.watch === undefined ? {} : { watch: options.watch }),
      ...(options.missedCap === undefined ? {} : { missedCap: options.missedCap }),
      history: (operationId, since, limit) => {
        const stores = engine.stores;
        return stores === undefined
          ? Promise.resolve([])
          : finishedRunsSince(stores.runs, operationId, since, limit);
      },
    });
    engine.on('event', (event) => {
      this.onRunEvent(event);
    });
  }

  /** Opens the data dir: engine, operation store and trigger cursors. Nothing fires until {@link start}. */
  static async open(options: NodeOptions): Promise<UltravisorNode> {
    const { dataDir, logger } = options;
    // The engine resolves child operations by id through the store, which is opened right after it.
    const holder: { store?: OperationStore } = {};
    const engine = await openEngine(dataDir, logger, {
      findOperation: (id) => Promise.resolve(holder.store?.find(id)),
      ...(options.kinds === undefined ? {} : { kinds: options.kinds }),
    });
    const store = await OperationStore.open(dataDir, logger.child({ component: 'operations' }));
    holder.store = store;
    const cursors = await CursorStore.open(dataDir, logger);
    return new UltravisorNode(
      dataDir,
      engine,
      store,
      cursors,
      options.clock ?? systemClock(),
      logger,
      options,
    );
  }

  /** Attaches a service; started with the node (or at once if it is running), stopped before it. */
  async use(service: NodeService): Promise<void> {
    this.services.push(service);
    if (this.state === 'started') await service.start?.(this);
  }

  /**
   * Starts the node: takes the scheduler lock, arms triggers (catching up what was missed) and
   * starts watching the data dir. Throws when another node serves the same data dir.
   *
   * Aborting `signal` stops the node as {@link stop} does, with `graceMs`.
   */
  async start(options: { signal?: AbortSignal; graceMs?: number } = {}): Promise<void> {
    if (this.state !== 'open') throw new Error(`the node is ${this.state}`);
    const { signal } = options;
    if (signal?.aborted === true) throw new Error('the node was asked to stop before it started');
    this.lock = await SchedulerLock.acquire(this.dataDir);
    try {
      const control = await readControl(this.dataDir);
      for (const problem of this.operations.listProblems()) {
        this.logger.error({ file: problem.file }, `operation not loaded: ${problem.error}`);
      }
      const saved = this.operations.list();
      const hints = await lastFiredDueTimes(
        this.dataDir,
        saved.map((s) => s.id),
      );
      this.scheduler.start(saved.map(scheduled), toPause(control), hints);
      this.operations.on('change', (change) => {
        this.onOperationChange(change);
      });
      this.inbox = new TriggerRequestInbox(
        requestsDir(this.dataDir),
        (request) => this.answerRequest(request),
        this.logger.child({ component: 'requests' }),
      );
      if (this.options.watchDataDir !== false) {
        this.watcher = new DataDirWatcher({
          dataDir: this.dataDir,
          logger: this.logger,
          onChange: (change) => this.onDataDirChange(change),
        });
        await this.watcher.start();
      }
      this.state = 'started';
      signal?.addEventListener(
        'abort',
        () => {
          void this.stop(options.graceMs === undefined ? {} : { graceMs: options.graceMs });
        },
        { once: true },
      );
      // Requests dropped while no daemon ran (or before the watcher was ready).
      await this.inbox.process();
      for (const service of this.services) await service.start?.(this);
    } catch (err) {
      await this.watcher?.close();
      await this.scheduler.stop();
      await this.lock.release();
      this.state = 'stopped';
      throw err;
    }
  }

  /**
   * Stops firing, waits up to `graceMs` for runs in progress, then cancels what is left (its
   * manifest says the grace period ran out), saves cursors and releases the lock.
   */
  stop(options: StopOptions = {}): Promise<StopReport> {
    this.stopping ??= this.doStop(options.graceMs ?? 30_000);
    return this.stopping;
  }

  /** Runs an operation now, as `ultravisor trigger` does; it runs even when paused or busy. */
  trigger(operationId: string, params: Record<string, unknown> = {}): GateOutcome {
    return this.scheduler.fireManual(operationId, params);
  }

  /** Validates and saves an operation, and re-arms it when the node is running. */
  async addOperation(
    text: string,
    source: string,
  ): Promise<{ saved: SavedOperation; replaced: boolean; warnings: string[] }> {
    return this.operations.add(text, source);
  }

  async removeOperation(id: string): Promise<boolean> {
    return this.operations.remove(id);
  }

  /** Pauses or resumes one operation (persisted). */
  async setOperationPaused(id: string, paused: boolean): Promise<void> {
    const control = await setOperationPaused(this.dataDir, id, paused);
    this.scheduler.setPause(toPause(control));
  }

  /** Pauses or resumes the whole node (persisted). */
  async setPaused(paused: boolean): Promise<void> {
    const control = await setNodePaused(this.dataDir, paused);
    this.scheduler.setPause(toPause(control));
  }

  /** Ids of runs in progress on this node's engine. */
  runningRuns(): string[] {
    return [...this.activeRuns];
  }

  /** Resolves when no run is in progress. */
  whenIdle(): Promise<void> {
    if (this.activeRuns.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private launch(operationId: string, trigger: TriggerRecord, params: Record<string, unknown>): RunHandle {
    const saved = this.operations.get(operationId);
    if (saved === undefined) throw new Error(`no operation "${operationId}" is saved on this node`);
    const handle = this.engine.start({ operation: saved.operation, file: saved.file, params, trigger });
    this.activeRuns.add(handle.runId);
    const ended = (): void => {
      this.runEnded(handle.runId);
    };
    handle.done.then(ended, ended);
    return handle;
  }

  private onRunEvent(event: RunEvent): void {
    if (event.type === 'run-started') this.activeRuns.add(event.runId);
    this.scheduler.handleRunEvent(event);
    if (event.type === 'run-ended') this.runEnded(event.runId);
  }

  private runEnded(runId: string): void {
    if (!this.activeRuns.delete(runId) || this.activeRuns.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private onOperationChange(change: OperationChange): void {
    if (this.state !== 'started') return;
    switch (change.type) {
      case 'saved':
        this.scheduler.setOperation(scheduled(change.operation));
        this.logger.info({ operationId: change.id, replaced: change.replaced }, 'operation armed');
        break;
      case 'removed':
        this.scheduler.removeOperation(change.id);
        this.logger.info({ operationId: change.id }, 'operation removed');
        break;
      default:
        change satisfies never;
    }
  }

  private async onDataDirChange(change: DataDirChange): Promise<void> {
    if (this.state !== 'started') return;
    switch (change) {
      case 'operations':
        await this.operations.reload();
        break;
      case 'control':
        try {
          this.scheduler.setPause(toPause(await readControl(this.dataDir)));
        } catch (err) {
          this.logger.error({ err }, 'control file unreadable; pause state unchanged');
        }
        break;
      case 'requests':
        await this.inbox?.process();
        break;
      default:
        change satisfies never;
    }
  }

  private answerRequest(request: TriggerRequest): TriggerReply {
    const outcome = this.scheduler.fireManual(
      request.operationId,
      request.params,
      Date.parse(request.requestedAt),
      {
        requestId: request.id,
      },
    );
    switch (outcome.type) {
      case 'started':
        return {
          ok: true,
          runId: outcome.runId,
          manifest: join(runDir(this.dataDir, request.operationId, outcome.runId), 'manifest.json'),
        };
      case 'failed':
        return { ok: false, error: outcome.error };
      case 'queued':
      case 'skipped':
        return { ok: false, error: `not started: ${outcome.type}` };
      default:
        return outcome satisfies never;
    }
  }

  private async doStop(graceMs: number): Promise<StopReport> {
    const wasStarted = this.state === 'started';
    this.state = 'stopped';
    await this.watcher?.close();
    for (const service of [...this.services].reverse()) {
      try {
        await service.stop?.(this);
      } catch (err) {
        this.logger.error({ err, service: service.name }, 'service did not stop cleanly');
      }
    }
    await this.scheduler.stop();
    const running = this.activeRuns.size;
    let cancelled = 0;
    if (running > 0) {
      let timer: TimerHandle | undefined;
      const graceOver = new Promise<'grace-over'>((resolve) => {
        timer = this.clock.setTimer(() => {
          resolve('grace-over');
        }, graceMs);
      });
      const result = await Promise.race([this.whenIdle().then(() => 'idle' as const), graceOver]);
      if (timer !== undefined) this.clock.clearTimer(timer);
      if (result === 'grace-over') {
        cancelled = this.activeRuns.size;
        await this.engine.cancelAll(`node stopping: the ${Math.round(graceMs / 1000)}s grace period ran out`);
      }
    }
    await this.cursors.flush();
    if (wasStarted) await this.lock?.release();
    return { running, cancelled };
  }
}
