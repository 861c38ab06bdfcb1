import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { Manifest, RunStatus, TaskRecord, TaskStatus } from '../model/manifest.js';
import type { OperationDef } from '../model/operation.js';
import { triggerIds, type MissedPolicy, type TriggerSpec } from '../model/trigger-spec.js';
import type { RunEvent } from '../runner/run-events.js';
import type { StateStores } from '../state/state-stores.js';
import type { Clock, TimerHandle } from './clock.js';
import { runCheck, type CheckOutcome, type CheckRunner, type CpuSample } from './condition-checks.js';
import type { ConditionMemory, CursorStore } from './cursor-store.js';
import { describeTrigger } from './describe-trigger.js';
import type { FireRequest, Launcher, UpstreamSummary } from './fire-request.js';
import { fireRule, isTimedTrigger, missedTimes, type FireRule, type TimedTriggerSpec } from './fire-times.js';
import { OverlapGate, type GateOutcome } from './overlap-gate.js';
import { TimerQueue, type TimerQueueEntry } from './timer-queue.js';
import { upcomingFires, type UpcomingFire } from './upcoming.js';
import {
  chokidarWatch,
  resolveWatchPaths,
  type WatchEvent,
  type WatchFactory,
  type WatchHandle,
} from './watch-source.js';

/** An operation as the scheduler sees it: its definition and the folder its relative paths resolve against. */
export interface ScheduledOperation {
  operation: OperationDef;
  baseDir: string;
}

/** Node-wide and per-operation pause state. */
export interface PauseState {
  paused: boolean;
  pausedOperations: ReadonlySet<string>;
}

export interface SchedulerOptions {
  clock: Clock;
  logger: Logger;
  cursors: CursorStore;
  /** Starts a run; the node passes one that looks the operation up and calls the engine. */
  launch: Launcher;
  /** State documents for `condition: { check: state }`. */
  state?: StateStores;
  /** Condition checks; tests inject their own. */
  checks?: CheckRunner;
  /** File watching for `watch` triggers; tests inject their own. */
  watch?: WatchFactory;
  /** Most catch-up runs `missed: all` starts for one trigger (default 100). */
  missedCap?: number;
  /**
   * The latest `limit` finished runs of an operation that ended after `since` (epoch ms), oldest
   * first: what `after` triggers replay at daemon start, so a run that ended while the node was
   * down still counts.
   */
  history?: (operationId: string, since: number, limit: number) => Promise<Manifest[]>;
}

/** What the scheduler reports: firings, skips and errors, one event each. */
export type SchedulerEvent =
  | {
      type: 'fired';
      operationId: string;
      triggerId: string;
      kind: string;
      runId: string;
      dueAt: number;
      firedAt: number;
      latenessMs: number;
    }
  | { type: 'queued'; operationId: string; triggerId: string; kind: string; dueAt: number }
  | { type: 'skipped'; operationId: string; triggerId: string; kind: string; reason: string; count: number }
  | { type: 'error'; operationId: string; triggerId: string; kind: string; error: string };

/** Counters and times of one trigger, for status views. */
export interface TriggerStats {
  fired: number;
  skipped: number;
  errors: number;
  checks: number;
  lastError?: string;
  lastErrorAt?: number;
  lastFiredAt?: number;
  lastDueAt?: number;
  lastLatenessMs?: number;
  lastRunId?: string;
  lastValue?: boolean;
}

export interface TriggerStatus extends TriggerStats {
  triggerId: string;
  kind: TriggerSpec['kind'];
  description: string;
  enabled: boolean;
  armed: boolean;
  /** Next fire time (timed triggers) or next check (conditions), epoch ms. */
  nextAt?: number;
}

export interface OperationStatus {
  id: string;
  paused: boolean;
  running: number;
  waiting: number;
  triggers: TriggerStatus[];
}

export interface SchedulerStatus {
  paused: boolean;
  operations: OperationStatus[];
}

interface ArmedCommon {
  key: string;
  operationId: string;
  triggerId: string;
  fingerprint: string;
}

interface TimedArmed extends ArmedCommon {
  type: 'timed';
  spec: TimedTriggerSpec;
  rule: FireRule;
  /** The fire time after the one in the queue, computed ahead so dispatch can tell it fell behind. */
  following: number | undefined;
}

interface ConditionArmed extends ArmedCommon {
  type: 'condition';
  spec: Extract<TriggerSpec, { kind: 'condition' }>;
  baseDir: string;
  memory: ConditionMemory;
  cpu?: CpuSample;
  checking?: AbortController;
}

interface AfterArmed extends ArmedCommon {
  type: 'after';
  spec: Extract<TriggerSpec, { kind: 'after' }>;
}

interface WatchArmed extends ArmedCommon {
  type: 'watch';
  spec: Extract<TriggerSpec, { kind: 'watch' }>;
  handle: WatchHandle;
  changes: { event: WatchEvent; path: string }[];
  changeCount: number;
  debounce?: TimerHandle;
}

type Armed = TimedArmed | ConditionArmed | AfterArmed | WatchArmed;

/** How arming treats a trigger's cursor. */
type ArmMode =
  /** Daemon start: fire times missed since the cursor follow the missed policy. */
  | 'start'
  /** New, edited or resumed: start from now, nothing was missed. */
  | 'fresh';

const maxWatchChanges = 50;
/** Upper bound for a check without its own timeout. */
const defaultCheckTimeoutMs = 30_000;

function keyOf(operationId: string, triggerId: string): string {
  return `${operationId}/${triggerId}`;
}

/** JSON with sorted keys, so the same spec written in another key order has the same fingerprint. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** What decides when a trigger fires; params, missed policy and cooldown can change without re-arming. */
export function triggerFingerprint(spec: TriggerSpec): string {
  const { params: _params, missed: _missed, enabled: _enabled, id: _id, ...timing } = spec;
  if (timing.kind === 'condition') {
    const { cooldown: _cooldown, ...rest } = timing;
    return stableJson(rest);
  }
  return stableJson(timing);
}

function runStatusMatches(wanted: 'success' | 'failure' | 'any', status: RunStatus | TaskStatus): boolean {
  switch (wanted) {
    case 'any':
      return true;
    case 'success':
      return status === 'success';
    case 'failure':
      return (
        status === 'failure' || status === 'timeout' || status === 'cancelled' || status === 'interrupted'
      );
    default:
      return wanted satisfies never;
  }
}

function upstreamOf(manifest: Manifest): UpstreamSummary {
  return {
    runId: manifest.runId,
    operationId: manifest.operation.id,
    status: manifest.status,
    startedAt: manifest.startedAt,
    ...(manifest.endedAt === undefined ? {} : { endedAt: manifest.endedAt }),
    outputs: manifest.outputs,
    links: manifest.links,
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Arms every trigger of the node's operations and fires them.
 *
 * Timed triggers (schedule, every, at) and condition checks share one {@link TimerQueue}: when it
 * wakes, every due trigger is dispatched first and next fire times are computed afterwards, so
 * calendar math never delays a firing. `after` triggers react to the engine's run events; `watch`
 * triggers to the file system. Cursors (the last fire time handled, per trigger) are persisted so
 * a restart applies each trigger's missed policy to exactly what it missed.
 */
export class Scheduler extends EventEmitter<{ event: [SchedulerEvent] }> {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly cursors: CursorStore;
  private readonly checks: CheckRunner;
  private readonly watchFactory: WatchFactory;
  private readonly missedCap: number;
  private readonly history: SchedulerOptions['history'];
  private readonly queue: TimerQueue;
  private readonly gate: OverlapGate;
  private readonly operations = new Map<string, ScheduledOperation>();
  private readonly armed = new Map<string, Armed>();
  private readonly stats = new Map<string, TriggerStats>();
  /** `after` triggers by the operation they wait for. */
  private readonly afterIndex = new Map<string, Set<string>>();
  /** Runs in progress by id, so `task-ended` events can be matched to their operation. */
  private readonly runs = new Map<string, { operationId: string; manifest: Manifest }>();
  private readonly inflight = new Set<Promise<void>>();
  private pause: PauseState = { paused: false, pausedOperations: new Set() };
  private started = false;
  private stopped = false;

  constructor(private readonly options: SchedulerOptions) {
    super();
    this.clock = options.clock;
    this.logger = options.logger;
    this.cursors = options.cursors;
    this.checks = options.checks ?? runCheck;
    this.watchFactory = options.watch ?? chokidarWatch;
    this.missedCap = options.missedCap ?? 100;
    this.history = options.history;
    this.queue = new TimerQueue(this.clock, (due, now) => {
      this.dispatch(due, now);
    });
    this.gate = new OverlapGate(
      this.clock,
      options.launch,
      (id) => this.operations.get(id)?.operation,
      (outcome) => {
        this.onGateOutcome(outcome);
      },
    );
  }

  /**
   * Arms the operations' triggers, applying each timed trigger's missed policy to the fire times
   * that passed since its cursor, and forgets cursors of triggers that no longer exist.
   *
   * `firedHints` (from manifests, see fired-hints.ts) move a cursor forward when the daemon died
   * between starting a run and saving the cursor, so that firing is not repeated.
   */
  start(
    operations: readonly ScheduledOperation[],
    pause: PauseState,
    firedHints: ReadonlyMap<string, number> = new Map(),
  ): void {
    if (this.started) throw new Error('the scheduler is already started');
    this.started = true;
    this.pause = { paused: pause.paused, pausedOperations: new Set(pause.pausedOperations) };
    for (const op of operations) this.operations.set(op.operation.id, op);
    const live = new Set<string>();
    for (const op of operations) {
      for (const id of triggerIds(op.operation.triggers)) live.add(keyOf(op.operation.id, id));
    }
    for (const key of this.cursors.keys()) if (!live.has(key)) this.cursors.delete(key);
    for (const [key, due] of firedHints) {
      const cursor = this.cursors.get(key);
      if (cursor !== undefined && due > cursor.handledUntil)
        this.cursors.advance(key, due, cursor.fingerprint);
    }
    if (this.pause.paused) return;
    for (const op of operations) {
      if (!this.pause.pausedOperations.has(op.operation.id)) this.armOperation(op, 'start');
    }
  }

  /**
   * Adds or replaces an operation, atomically for its triggers: a trigger whose timing did not
   * change keeps its place in the queue (so an edit can neither drop nor repeat a firing); a new
   * or changed one starts from now; a removed one is disarmed and its cursor dropped.
   */
  setOperation(op: ScheduledOperation): void {
    const id = op.operation.id;
    const previous = this.operations.get(id);
    this.operations.set(id, op);
    const ids = triggerIds(op.operation.triggers);
    const keys = new Set(ids.map((t) => keyOf(id, t)));
    if (previous !== undefined) {
      for (const oldId of triggerIds(previous.operation.triggers)) {
        const key = keyOf(id, oldId);
        if (!keys.has(key)) {
          this.disarm(key);
          this.cursors.delete(key);
          this.stats.delete(key);
        }
      }
    }
    if (!this.isActive(id)) return;
    op.operation.triggers.forEach((spec, i) => {
      const key = keyOf(id, ids[i] ?? spec.kind);
      const current = this.armed.get(key);
      if (current !== undefined && spec.enabled && current.fingerprint === triggerFingerprint(spec)) {
        // Same timing: keep the queue entry; later firings read params and policies from the new spec.
        (current as { spec: TriggerSpec }).spec = spec;
        if (current.type === 'condition') current.baseDir = op.baseDir;
        return;
      }
      this.disarm(key);
      if (spec.enabled) this.armTrigger(op, spec, ids[i] ?? spec.kind, 'fresh');
    });
  }

  /** Removes an operation: disarms its triggers, drops queued firings and forgets its cursors. */
  removeOperation(id: string): void {
    const op = this.operations.get(id);
    if (op === undefined) return;
    for (const triggerId of triggerIds(op.operation.triggers)) {
      const key = keyOf(id, triggerId);
      this.disarm(key);
      this.cursors.delete(key);
      this.stats.delete(key);
    }
    this.gate.drop(id);
    this.operations.delete(id);
  }

  /**
   * Applies a new pause state. Pausing disarms (nothing fires, queued firings are dropped);
   * resuming arms from now, so time spent paused is not caught up.
   */
  setPause(pause: PauseState): void {
    const before = new Set([...this.operations.keys()].filter((id) => this.isActive(id)));
    this.pause = { paused: pause.paused, pausedOperations: new Set(pause.pausedOperations) };
    for (const [id, op] of this.operations) {
      const active = this.isActive(id);
      if (before.has(id) && !active) {
        for (const triggerId of triggerIds(op.operation.triggers)) this.disarm(keyOf(id, triggerId));
        this.gate.drop(id);
        this.logger.info({ operationId: id }, 'operation paused');
      } else if (!before.has(id) && active) {
        this.armOperation(op, 'fresh');
        this.logger.info({ operationId: id }, 'operation resumed');
      }
    }
  }

  get paused(): PauseState {
    return { paused: this.pause.paused, pausedOperations: new Set(this.pause.pausedOperations) };
  }

  /**
   * Fires an operation now (CLI `trigger`, later the API). Runs even when paused or busy.
   *
   * `dueAt` is when the request was made, so lateness shows how long it took to be picked up.
   */
  fireManual(
    operationId: string,
    params: Record<string, unknown> = {},
    dueAt = this.clock.now(),
    detail?: Record<string, unknown>,
  ): GateOutcome {
    return this.gate.offer({
      operationId,
      triggerId: 'manual',
      kind: 'manual',
      dueAt,
      params,
      force: true,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  /** Feeds the engine's run events to `after` triggers. */
  handleRunEvent(event: RunEvent): void {
    switch (event.type) {
      case 'run-started':
        this.runs.set(event.runId, { operationId: event.operationId, manifest: event.manifest });
        break;
      case 'task-ended': {
        const run = this.runs.get(event.runId);
        if (run !== undefined) this.fireAfter(run.operationId, run.manifest, event);
        break;
      }
      case 'run-ended':
        this.runs.delete(event.runId);
        this.fireAfter(event.operationId, event.manifest, undefined);
        break;
      case 'task-started':
      case 'execution-ended':
      case 'task-log':
        break;
      default:
        event satisfies never;
    }
  }

  /** The next `count` fire times of an operation's timed triggers, from now. */
  upcoming(operationId: string, count: number): UpcomingFire[] {
    const op = this.operations.get(operationId);
    return op === undefined ? [] : upcomingFires(op.operation, this.clock.now(), count);
  }

  status(): SchedulerStatus {
    const operations: OperationStatus[] = [...this.operations.values()].map(({ operation }) => {
      const ids = triggerIds(operation.triggers);
      return {
        id: operation.id,
        paused: this.pause.pausedOperations.has(operation.id),
        running: this.gate.running(operation.id),
        waiting: this.gate.waiting(operation.id),
        triggers: operation.triggers.map((spec, i) => {
          const key = keyOf(operation.id, ids[i] ?? spec.kind);
          const nextAt = this.queue.timeOf(key);
          return {
            triggerId: ids[i] ?? spec.kind,
            kind: spec.kind,
            description: describeTrigger(spec),
            enabled: spec.enabled,
            armed: this.armed.has(key),
            ...(nextAt === undefined ? {} : { nextAt }),
            ...this.statsOf(key),
          };
        }),
      };
    });
    return { paused: this.pause.paused, operations };
  }

  /** Resolves when condition checks in progress have finished and cursors are on disk. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.cursors.flush();
  }

  /** Stops firing: disarms everything, stops watchers and checks, drops queued firings, saves cursors. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.queue.stop();
    const dropped = this.gate.stop();
    if (dropped > 0) this.logger.warn({ dropped }, 'queued firings dropped: the node is stopping');
    const closing: Promise<void>[] = [];
    for (const armed of this.armed.values()) closing.push(this.release(armed));
    this.armed.clear();
    this.afterIndex.clear();
    await Promise.allSettled(closing);
    await this.idle();
  }

  /** Resolves when every `watch` trigger has finished its initial scan. */
  async watchersReady(): Promise<void> {
    const ready = [...this.armed.values()].flatMap((a) => (a.type === 'watch' ? [a.handle.ready] : []));
    await Promise.all(ready);
  }

  private isActive(operationId: string): boolean {
    return !this.stopped && !this.pause.paused && !this.pause.pausedOperations.has(operationId);
  }

  private statsOf(key: string): TriggerStats {
    let stats = this.stats.get(key);
    if (stats === undefined) {
      stats = { fired: 0, skipped: 0, errors: 0, checks: 0 };
      this.stats.set(key, stats);
    }
    return stats;
  }

  private armOperation(op: ScheduledOperation, mode: ArmMode): void {
    const ids = triggerIds(op.operation.triggers);
    op.operation.triggers.forEach((spec, i) => {
      if (spec.enabled) this.armTrigger(op, spec, ids[i] ?? spec.kind, mode);
    });
  }

  private armTrigger(op: ScheduledOperation, spec: TriggerSpec, triggerId: string, mode: ArmMode): void {
    const operationId = op.operation.id;
    const key = keyOf(operationId, triggerId);
    const fingerprint = triggerFingerprint(spec);
    const common: ArmedCommon = { key, operationId, triggerId, fingerprint };
    const now = this.clock.now();
    const cursor = this.cursors.get(key);
    const known = mode === 'start' && cursor?.fingerprint === fingerprint ? cursor : undefined;
    if (isTimedTrigger(spec)) {
      const rule = fireRule(spec);
      const armed: TimedArmed = { ...common, type: 'timed', spec, rule, following: undefined };
      this.armed.set(key, armed);
      if (known === undefined) {
        this.cursors.set(key, { handledUntil: now, fingerprint });
      } else {
        const missed = missedTimes(rule, known.handledUntil, now, this.missedCap);
        if (missed.times.length > 0)
          this.applyMissed(armed, missed.times, missed.more, 'while the node was down');
      }
      this.scheduleTimed(armed, rule.next(now));
      return;
    }
    switch (spec.kind) {
      case 'condition': {
        const memory = known?.condition ?? {};
        const armed: ConditionArmed = { ...common, type: 'condition', spec, baseDir: op.baseDir, memory };
        this.armed.set(key, armed);
        this.cursors.set(key, { handledUntil: now, fingerprint, condition: memory });
        // The first check runs at once, so a condition already true is seen without waiting `every`.
        this.queue.schedule(key, now);
        return;
      }
      case 'after': {
        const armed: AfterArmed = { ...common, type: 'after', spec };
        this.armed.set(key, armed);
        if (known === undefined) this.cursors.set(key, { handledUntil: now, fingerprint });
        else void this.replayAfter(armed, known.handledUntil);
        let keys = this.afterIndex.get(spec.after.operation);
        if (keys === undefined) {
          keys = new Set();
          this.afterIndex.set(spec.after.operation, keys);
        }
        keys.add(key);
        if (!this.operations.has(spec.after.operation)) {
          this.logger.warn(
            { operationId, triggerId, upstream: spec.after.operation },
            `after: no operation "${spec.after.operation}" on this node yet; the trigger waits for it`,
          );
        }
        return;
      }
      case 'watch': {
        const paths = resolveWatchPaths(spec.watch.paths, op.baseDir);
        const armed: WatchArmed = {
          ...common,
          type: 'watch',
          spec,
          changes: [],
          changeCount: 0,
          handle: this.watchFactory(
            paths,
            (event, path) => {
              this.onWatchEvent(key, event, path);
            },
            (err) => {
              this.recordError(key, `watch: ${err.message}`);
            },
          ),
        };
        this.armed.set(key, armed);
        return;
      }
      default:
        return spec satisfies never;
    }
  }

  private scheduleTimed(armed: TimedArmed, due: number | undefined): void {
    if (due === undefined) {
      this.queue.cancel(armed.key);
      armed.following = undefined;
      return;
    }
    armed.following = armed.rule.next(due);
    this.queue.schedule(armed.key, due);
  }

  private disarm(key: string): void {
    const armed = this.armed.get(key);
    this.queue.cancel(key);
    if (armed === undefined) return;
    this.armed.delete(key);
    const release = this.release(armed);
    this.track(release);
  }

  private async release(armed: Armed): Promise<void> {
    this.queue.cancel(armed.key);
    switch (armed.type) {
      case 'timed':
        return;
      case 'condition':
        armed.checking?.abort(new Error('trigger disarmed'));
        return;
      case 'after':
        this.afterIndex.get(armed.spec.after.operation)?.delete(armed.key);
        return;
      case 'watch':
        if (armed.debounce !== undefined) this.clock.clearTimer(armed.debounce);
        await armed.handle.close();
        return;
      default:
        return armed satisfies never;
    }
  }

  /**
   * The timer queue's callback: fire every due trigger first, then compute what comes next.
   *
   * Firing is stamped for every due trigger before any run is started, so a thousand triggers due
   * at one instant all fire at that instant; starting their runs (the engine's work) follows, and
   * each manifest shows both (`trigger.firedAt`, then `startedAt`). A timed trigger whose following
   * fire time has also passed fell behind (the machine slept, the clock jumped, the loop stalled);
   * it is left to the last phase, where its missed policy decides what runs.
   */
  private dispatch(due: readonly TimerQueueEntry[], now: number): void {
    const behind: { armed: TimedArmed; at: number }[] = [];
    const onTime: { armed: TimedArmed; at: number }[] = [];
    const requests: FireRequest[] = [];
    const firedAt: number[] = [];
    for (const entry of due) {
      const armed = this.armed.get(entry.key);
      if (armed === undefined) continue;
      if (armed.type === 'timed') {
        if (armed.following !== undefined && armed.following <= now) {
          behind.push({ armed, at: entry.at });
          continue;
        }
        const request: FireRequest = {
          operationId: armed.operationId,
          triggerId: armed.triggerId,
          kind: armed.spec.kind,
          dueAt: entry.at,
        };
        if (armed.spec.params !== undefined) request.params = armed.spec.params;
        requests.push(request);
        firedAt.push(this.clock.now());
        onTime.push({ armed, at: entry.at });
      } else if (armed.type === 'condition') {
        this.startCheck(armed, entry.at);
      }
    }
    // Then start the runs (overlap policy, engine).
    requests.forEach((request, i) => {
      this.gate.offer(request, firedAt[i]);
    });
    // Last: cursors and next fire times (croner), off the firing path.
    for (const { armed, at } of onTime) {
      this.cursors.advance(armed.key, at, armed.fingerprint);
      this.scheduleTimed(armed, armed.following);
    }
    for (const { armed, at } of behind) {
      const missed = missedTimes(armed.rule, at - 1, now, this.missedCap);
      this.applyMissed(armed, missed.times, missed.more, 'the node was late (asleep, clock jump or stall)');
      this.scheduleTimed(armed, armed.rule.next(now));
    }
    for (const entry of due) {
      const armed = this.armed.get(entry.key);
      if (armed?.type !== 'condition') continue;
      let next = entry.at + armed.spec.every;
      if (next <= now) next = now + armed.spec.every;
      this.queue.schedule(armed.key, next);
    }
  }

  /** Applies a timed trigger's missed policy to fire times that passed without firing. */
  private applyMissed(armed: TimedArmed, times: readonly number[], more: boolean, why: string): void {
    const last = times[times.length - 1];
    const first = times[0];
    if (last === undefined || first === undefined) return;
    const policy: MissedPolicy = armed.spec.missed ?? 'once';
    const count = more ? `more than ${times.length}` : String(times.length);
    const base = {
      operationId: armed.operationId,
      triggerId: armed.triggerId,
      kind: armed.spec.kind,
      ...(armed.spec.params === undefined ? {} : { params: armed.spec.params }),
    };
    const detail = {
      catchUp: true,
      missed: times.length,
      missedMore: more,
      missedFrom: new Date(first).toISOString(),
    };
    switch (policy) {
      case 'skip':
        this.statsOf(armed.key).skipped += times.length;
        this.emit('event', {
          ...base,
          type: 'skipped',
          reason: `missed ${why} (missed: skip)`,
          count: times.length,
        });
        this.logger.info(
          { operationId: armed.operationId, triggerId: armed.triggerId, missed: count },
          `missed ${why}; skipped`,
        );
        break;
      case 'once':
        this.logger.info(
          { operationId: armed.operationId, triggerId: armed.triggerId, missed: count },
          `missed ${why}; one catch-up run`,
        );
        this.gate.offer({ ...base, dueAt: last, detail });
        break;
      case 'all':
        if (more) {
          this.logger.warn(
            { operationId: armed.operationId, triggerId: armed.triggerId, cap: this.missedCap },
            `missed ${why}: more than ${this.missedCap} fire times; catching up the latest ${this.missedCap}`,
          );
        }
        this.gate.backlog(
          armed.operationId,
          times.map((t, i) => ({ ...base, dueAt: t, detail: { ...detail, catchUpIndex: i + 1 } })),
        );
        break;
      default:
        policy satisfies never;
    }
    this.cursors.advance(armed.key, last, armed.fingerprint);
  }

  private startCheck(armed: ConditionArmed, dueAt: number): void {
    if (armed.checking !== undefined) {
      this.statsOf(armed.key).skipped++;
      this.logger.debug(
        { operationId: armed.operationId, triggerId: armed.triggerId },
        'previous check still running; this one skipped',
      );
      return;
    }
    const controller = new AbortController();
    armed.checking = controller;
    const spec = armed.spec;
    const timeoutMs = Math.min(spec.every, defaultCheckTimeoutMs);
    const check = this.checks(spec.condition, {
      signal: controller.signal,
      baseDir: armed.baseDir,
      ...(this.options.state === undefined ? {} : { state: this.options.state }),
      ...(armed.memory.signature === undefined ? {} : { previousSignature: armed.memory.signature }),
      ...(armed.cpu === undefined ? {} : { previousCpu: armed.cpu }),
      timeoutMs,
    });
    // Checks with their own timeout (shell, http) enforce it; this bounds the others (a hung mount).
    const hardLimit = ('timeout' in spec.condition ? spec.condition.timeout : undefined) ?? timeoutMs;
    let limitTimer: TimerHandle | undefined;
    const limit = new Promise<never>((_, reject) => {
      limitTimer = this.clock.setTimer(() => {
        controller.abort(new Error('timed out'));
        reject(new Error(`check timed out after ${hardLimit + 1000} ms`));
      }, hardLimit + 1000);
      // Disarming or stopping aborts: give up at once instead of waiting for a check that may hang.
      controller.signal.addEventListener('abort', () => {
        reject(
          controller.signal.reason instanceof Error ? controller.signal.reason : new Error('check cancelled'),
        );
      });
    });
    const work = Promise.race([check, limit])
      .then(
        (outcome) => {
          this.onCheck(armed, dueAt, outcome);
        },
        (err: unknown) => {
          if (this.armed.get(armed.key) === armed)
            this.recordError(armed.key, `check failed: ${errorText(err)}`);
        },
      )
      .finally(() => {
        if (limitTimer !== undefined) this.clock.clearTimer(limitTimer);
        if (armed.checking === controller) delete armed.checking;
      });
    this.track(work);
  }

  private onCheck(armed: ConditionArmed, dueAt: number, outcome: CheckOutcome): void {
    // Re-armed or disarmed while the check ran: its result belongs to nobody.
    if (this.armed.get(armed.key) !== armed) return;
    const stats = this.statsOf(armed.key);
    stats.checks++;
    stats.lastValue = outcome.value;
    const previous = armed.memory.value ?? false;
    if (outcome.cpu !== undefined) armed.cpu = outcome.cpu;
    const memory: ConditionMemory = { ...armed.memory, value: outcome.value };
    if (outcome.signature !== undefined) memory.signature = outcome.signature;
    const spec = armed.spec;
    let fire = outcome.value && (spec.mode === 'level' || !previous);
    const now = this.clock.now();
    if (
      fire &&
      spec.cooldown !== undefined &&
      memory.firedAt !== undefined &&
      now - memory.firedAt < spec.cooldown
    ) {
      fire = false;
      stats.skipped++;
      this.emit('event', {
        type: 'skipped',
        operationId: armed.operationId,
        triggerId: armed.triggerId,
        kind: 'condition',
        reason: 'cooldown',
        count: 1,
      });
    }
    if (fire) {
      const result = this.gate.offer({
        operationId: armed.operationId,
        triggerId: armed.triggerId,
        kind: 'condition',
        dueAt,
        detail: { mode: spec.mode, ...outcome.detail },
        ...(spec.params === undefined ? {} : { params: spec.params }),
      });
      if (result.type === 'started' || result.type === 'queued') memory.firedAt = now;
    }
    const changed =
      memory.value !== armed.memory.value ||
      memory.signature !== armed.memory.signature ||
      memory.firedAt !== armed.memory.firedAt;
    armed.memory = memory;
    if (changed)
      this.cursors.set(armed.key, { handledUntil: now, fingerprint: armed.fingerprint, condition: memory });
  }

  private fireAfter(
    upstreamId: string,
    manifest: Manifest,
    task: Extract<RunEvent, { type: 'task-ended' }> | undefined,
  ): void {
    const keys = this.afterIndex.get(upstreamId);
    if (keys === undefined || keys.size === 0) return;
    for (const key of keys) {
      const armed = this.armed.get(key);
      if (armed?.type !== 'after') continue;
      const after = armed.spec.after;
      if ((after.task === undefined) !== (task === undefined)) continue;
      if (task !== undefined && after.task !== task.taskId) continue;
      const record = task === undefined ? undefined : manifest.tasks.find((t) => t.id === task.taskId);
      this.offerAfter(
        armed,
        manifest,
        task === undefined
          ? undefined
          : (record ?? {
              id: task.taskId,
              status: task.status,
              ...(task.error === undefined ? {} : { error: task.error }),
            }),
      );
    }
  }

  /**
   * Offers one `after` firing for an upstream run (or one of its tasks) that ended, and moves the
   * trigger's cursor past that end so a restart does not replay it.
   */
  private offerAfter(
    armed: AfterArmed,
    manifest: Manifest,
    task: Pick<TaskRecord, 'id' | 'status' | 'endedAt' | 'output' | 'error'> | undefined,
  ): void {
    const now = this.clock.now();
    const ended = task === undefined ? manifest.endedAt : task.endedAt;
    const endedAt = ended === undefined ? now : Date.parse(ended);
    const cursor = this.cursors.get(armed.key);
    if (cursor === undefined || cursor.handledUntil < endedAt)
      this.cursors.set(armed.key, { handledUntil: endedAt, fingerprint: armed.fingerprint });
    const status = task === undefined ? manifest.status : task.status;
    if (!runStatusMatches(armed.spec.after.status, status)) return;
    const upstream = upstreamOf(manifest);
    if (task !== undefined) {
      upstream.task = {
        id: task.id,
        status: task.status,
        ...(task.output === undefined ? {} : { output: task.output }),
        ...(task.error === undefined ? {} : { error: task.error }),
      };
    }
    this.gate.offer({
      operationId: armed.operationId,
      triggerId: armed.triggerId,
      kind: 'after',
      dueAt: Math.min(endedAt, now),
      upstream,
      detail: { upstreamRunId: manifest.runId, upstreamStatus: status },
      ...(armed.spec.params === undefined ? {} : { params: armed.spec.params }),
    });
  }

  /**
   * Daemon start: offers what the upstream runs that ended since the cursor would have fired,
   * oldest first (at most `missedCap`), as if the node had been up.
   */
  private async replayAfter(armed: AfterArmed, since: number): Promise<void> {
    if (this.history === undefined) return;
    const after = armed.spec.after;
    let manifests: Manifest[];
    try {
      // One more than the cap, so a longer backlog is noticed and said.
      manifests = await this.history(after.operation, since, this.missedCap + 1);
    } catch (err) {
      this.recordError(armed.key, `after: cannot read the runs of ${after.operation}: ${errorText(err)}`);
      return;
    }
    const ends: { manifest: Manifest; task?: TaskRecord; at: number }[] = [];
    for (const manifest of manifests) {
      const task = after.task === undefined ? undefined : manifest.tasks.find((t) => t.id === after.task);
      if (after.task !== undefined && (task?.endedAt === undefined || task.status === 'running')) continue;
      const at = Date.parse((task === undefined ? manifest.endedAt : task.endedAt) ?? '');
      if (!Number.isNaN(at) && at > since)
        ends.push({ manifest, ...(task === undefined ? {} : { task }), at });
    }
    ends.sort((a, b) => a.at - b.at);
    const replayed = ends.slice(-this.missedCap);
    if (replayed.length < ends.length) {
      this.logger.warn(
        { operationId: armed.operationId, triggerId: armed.triggerId, cap: this.missedCap },
        `after: more than ${this.missedCap} upstream runs ended while the node was down; replaying the latest ${this.missedCap}`,
      );
    }
    for (const { manifest, task } of replayed) {
      if (this.armed.get(armed.key) !== armed) return; // Disarmed or edited meanwhile.
      this.offerAfter(armed, manifest, task);
    }
  }

  private onWatchEvent(key: string, event: WatchEvent, path: string): void {
    const armed = this.armed.get(key);
    if (armed?.type !== 'watch') return;
    const wanted = armed.spec.watch.events;
    if (wanted !== undefined && !wanted.includes(event)) return;
    armed.changeCount++;
    if (armed.changes.length < maxWatchChanges) armed.changes.push({ event, path });
    if (armed.debounce !== undefined) this.clock.clearTimer(armed.debounce);
    const debounceMs = armed.spec.watch.debounce;
    const dueAt = this.clock.now() + debounceMs;
    armed.debounce = this.clock.setTimer(() => {
      delete armed.debounce;
      if (this.armed.get(key) !== armed) return;
      const changes = armed.changes;
      const count = armed.changeCount;
      armed.changes = [];
      armed.changeCount = 0;
      this.gate.offer({
        operationId: armed.operationId,
        triggerId: armed.triggerId,
        kind: 'watch',
        dueAt,
        detail: { changes, changeCount: count },
        ...(armed.spec.params === undefined ? {} : { params: armed.spec.params }),
      });
    }, debounceMs);
  }

  private onGateOutcome(outcome: GateOutcome): void {
    const { request } = outcome;
    if (request.kind === 'manual' && request.triggerId === 'manual') {
      this.reportManual(outcome);
      return;
    }
    const key = keyOf(request.operationId, request.triggerId);
    const stats = this.statsOf(key);
    const base = { operationId: request.operationId, triggerId: request.triggerId, kind: request.kind };
    switch (outcome.type) {
      case 'started':
        stats.fired++;
        stats.lastFiredAt = outcome.firedAt;
        stats.lastDueAt = request.dueAt;
        stats.lastLatenessMs = outcome.latenessMs;
        stats.lastRunId = outcome.runId;
        this.emit('event', {
          ...base,
          type: 'fired',
          runId: outcome.runId,
          dueAt: request.dueAt,
          firedAt: outcome.firedAt,
          latenessMs: outcome.latenessMs,
        });
        break;
      case 'queued':
        this.emit('event', { ...base, type: 'queued', dueAt: request.dueAt });
        break;
      case 'skipped':
        stats.skipped++;
        this.logger.info({ ...base, reason: outcome.reason }, 'firing skipped');
        this.emit('event', { ...base, type: 'skipped', reason: outcome.reason, count: 1 });
        break;
      case 'failed':
        this.recordError(key, `could not start a run: ${outcome.error}`);
        break;
      default:
        outcome satisfies never;
    }
  }

  private reportManual(outcome: GateOutcome): void {
    const base = { operationId: outcome.request.operationId, triggerId: 'manual', kind: 'manual' };
    if (outcome.type === 'started') {
      this.emit('event', {
        ...base,
        type: 'fired',
        runId: outcome.runId,
        dueAt: outcome.request.dueAt,
        firedAt: outcome.firedAt,
        latenessMs: outcome.latenessMs,
      });
    } else if (outcome.type === 'failed') {
      this.emit('event', { ...base, type: 'error', error: outcome.error });
    }
  }

  /** Counts and logs a trigger error; it never fires anything. */
  private recordError(key: string, error: string): void {
    const stats = this.statsOf(key);
    stats.errors++;
    stats.lastError = error;
    stats.lastErrorAt = this.clock.now();
    const [operationId = '', triggerId = ''] = key.split('/');
    const kind = this.armed.get(key)?.spec.kind ?? 'unknown';
    this.logger.warn({ operationId, triggerId, error }, 'trigger error');
    this.emit('event', { type: 'error', operationId, triggerId, kind, error });
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch((err: unknown) => {
      this.logger.error({ err }, 'scheduler task failed');
    });
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }
}
