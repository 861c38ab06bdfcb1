import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle } from '../engine.js';
import { silentLogger } from '../logger.js';
import { parseOperation } from '../model/load-operation.js';
import type { Manifest, TriggerRecord } from '../model/manifest.js';
import type { OperationDef } from '../model/operation.js';
import type { CheckRunner } from './condition-checks.js';
import { CursorStore } from './cursor-store.js';
import { ManualClock } from './manual-clock.js';
import { Scheduler, type PauseState, type ScheduledOperation, type SchedulerEvent } from './scheduler.js';
import type { WatchFactory } from './watch-source.js';

/** A run the fake launcher started; `finish()` ends it. */
export interface FakeRun {
  runId: string;
  operationId: string;
  trigger: TriggerRecord;
  params: Record<string, unknown>;
  finish(): void;
  finished: boolean;
}

export interface HarnessOptions {
  start?: string;
  dataDir?: string;
  checks?: CheckRunner;
  watch?: WatchFactory;
  missedCap?: number;
  /** Runs end on their own right after starting (default true); false keeps them going until `finish()`. */
  autoFinish?: boolean;
}

/** An operation from YAML; every test operation has one no-op task. */
export function op(yaml: string): OperationDef {
  return parseOperation(`${yaml.trim()}\ntasks: [{ id: noop, state: { set: x, value: 1 } }]\n`, 'test.yaml');
}

export function scheduledOp(yaml: string): ScheduledOperation {
  return { operation: op(yaml), baseDir: tmpdir() };
}

export const noPause: PauseState = { paused: false, pausedOperations: new Set() };

/**
 * A scheduler on a manual clock with a fake launcher, its own data dir and cursors, for unit tests.
 *
 * `restart()` builds a new scheduler over the same data dir, as a daemon restart would.
 */
export class SchedulerHarness {
  readonly runs: FakeRun[] = [];
  readonly events: SchedulerEvent[] = [];
  scheduler!: Scheduler;
  cursors!: CursorStore;
  private nextRun = 1;
  private launchError: string | undefined;

  private constructor(
    readonly clock: ManualClock,
    readonly dataDir: string,
    private readonly options: HarnessOptions,
  ) {}

  static async create(options: HarnessOptions = {}): Promise<SchedulerHarness> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'uv-sched-')));
    const harness = new SchedulerHarness(
      new ManualClock(options.start ?? '2025-01-01T00:00:00Z'),
      dataDir,
      options,
    );
    await harness.build();
    return harness;
  }

  /** Makes the next launches throw, as a launcher does for bad params. */
  failLaunches(error: string | undefined): void {
    this.launchError = error;
  }

  runsOf(operationId: string): FakeRun[] {
    return this.runs.filter((r) => r.operationId === operationId);
  }

  /** Due times (ISO) of an operation's runs, in start order. */
  dueTimes(operationId: string): string[] {
    return this.runsOf(operationId).map((r) => r.trigger.dueAt ?? '');
  }

  eventsOf(type: SchedulerEvent['type']): SchedulerEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Stops this scheduler (saving cursors) and starts a new one on the same data dir at the clock's time. */
  async restart(operations: readonly ScheduledOperation[], pause: PauseState = noPause): Promise<void> {
    await this.scheduler.stop();
    await this.build();
    this.scheduler.start(operations, pause);
  }

  async cleanup(): Promise<void> {
    await this.scheduler.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private async build(): Promise<void> {
    this.cursors = await CursorStore.open(this.dataDir, silentLogger());
    this.scheduler = new Scheduler({
      clock: this.clock,
      logger: silentLogger(),
      cursors: this.cursors,
      launch: (operationId, trigger, params) => this.launch(operationId, trigger, params),
      ...(this.options.checks === undefined ? {} : { checks: this.options.checks }),
      ...(this.options.watch === undefined ? {} : { watch: this.options.watch }),
      ...(this.options.missedCap === undefined ? {} : { missedCap: this.options.missedCap }),
    });
    this.scheduler.on('event', (event) => this.events.push(event));
  }

  private launch(operationId: string, trigger: TriggerRecord, params: Record<string, unknown>): RunHandle {
    if (this.launchError !== undefined) throw new Error(this.launchError);
    const runId = `run-${this.nextRun++}`;
    let resolve: (m: Manifest) => void = () => undefined;
    const done = new Promise<Manifest>((r) => (resolve = r));
    const run: FakeRun = {
      runId,
      operationId,
      trigger,
      params,
      finished: false,
      finish: () => {
        if (run.finished) return;
        run.finished = true;
        resolve({} as Manifest);
      },
    };
    this.runs.push(run);
    if (this.options.autoFinish !== false) run.finish();
    return { runId, dir: '', cancel: () => undefined, done };
  }
}
