import type { RunHandle } from '../engine.js';
import type { Clock } from './clock.js';
import { triggerRecord, type FireRequest, type Launcher } from './fire-request.js';

/** An operation's overlap policy: what a firing does while a run of it is going. */
export interface OverlapPolicy {
  overlap: 'skip' | 'queue' | 'parallel';
  maxParallel: number;
}

/** What became of one fire request. */
export type GateOutcome =
  | { type: 'started'; request: FireRequest; runId: string; firedAt: number; latenessMs: number }
  | { type: 'queued'; request: FireRequest }
  | { type: 'skipped'; request: FireRequest; reason: string }
  | { type: 'failed'; request: FireRequest; error: string };

interface OperationSlots {
  running: Set<string>;
  /** `overlap: queue` keeps at most one pending firing. */
  pending?: FireRequest;
  /** Catch-up firings of `missed: all`, started one after another. */
  backlog: FireRequest[];
}

/**
 * Applies each operation's overlap policy and starts runs.
 *
 * `skip` (default) drops a firing while a run is going; `queue` keeps one pending and starts it
 * when the run ends (further firings are dropped); `parallel` runs up to `maxParallel` at once and
 * drops the rest. Catch-up runs of `missed: all` wait their turn in a backlog and start one at a
 * time. Manual requests bypass the policy.
 */
export class OverlapGate {
  private readonly slots = new Map<string, OperationSlots>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly launch: Launcher,
    private readonly policyOf: (operationId: string) => OverlapPolicy | undefined,
    private readonly report: (outcome: GateOutcome) => void,
  ) {}

  /**
   * Offers one firing; the outcome is also reported.
   *
   * `firedAt` is when the scheduler fired it (default now); a queued firing fires when it starts.
   */
  offer(request: FireRequest, firedAt?: number): GateOutcome {
    const outcome = this.decide(request, firedAt);
    this.report(outcome);
    return outcome;
  }

  /** Queues catch-up firings to run one after another, oldest first. */
  backlog(operationId: string, requests: readonly FireRequest[]): void {
    if (this.stopped || requests.length === 0) return;
    const slots = this.slotsOf(operationId);
    slots.backlog.push(...requests);
    this.pump(operationId);
  }

  /** Runs of an operation started through this gate and still going. */
  running(operationId: string): number {
    return this.slots.get(operationId)?.running.size ?? 0;
  }

  /** Whether an operation has a queued firing or catch-up runs waiting. */
  waiting(operationId: string): number {
    const slots = this.slots.get(operationId);
    return slots === undefined ? 0 : slots.backlog.length + (slots.pending === undefined ? 0 : 1);
  }

  /** Drops pending and backlog firings of one operation (it was removed or paused). */
  drop(operationId: string): number {
    const slots = this.slots.get(operationId);
    if (slots === undefined) return 0;
    const dropped = slots.backlog.length + (slots.pending === undefined ? 0 : 1);
    slots.backlog = [];
    delete slots.pending;
    return dropped;
  }

  /** Stops starting runs; pending and backlog firings are dropped. Returns how many were. */
  stop(): number {
    this.stopped = true;
    let dropped = 0;
    for (const id of this.slots.keys()) dropped += this.drop(id);
    return dropped;
  }

  private decide(request: FireRequest, firedAt: number | undefined): GateOutcome {
    if (this.stopped) return { type: 'skipped', request, reason: 'the node is stopping' };
    if (request.force === true) return this.start(request, firedAt);
    const policy = this.policyOf(request.operationId);
    if (policy === undefined) return { type: 'skipped', request, reason: 'the operation is gone' };
    const slots = this.slotsOf(request.operationId);
    const limit = policy.overlap === 'parallel' ? policy.maxParallel : 1;
    if (slots.running.size < limit && slots.backlog.length === 0) return this.start(request, firedAt);
    switch (policy.overlap) {
      case 'skip':
        return { type: 'skipped', request, reason: 'a run is still going (overlap: skip)' };
      case 'parallel':
        return {
          type: 'skipped',
          request,
          reason: `${slots.running.size} runs going (maxParallel: ${limit})`,
        };
      case 'queue':
        if (slots.pending !== undefined) {
          return { type: 'skipped', request, reason: 'a run is going and one is queued (overlap: queue)' };
        }
        slots.pending = request;
        return { type: 'queued', request };
      default:
        return policy.overlap satisfies never;
    }
  }

  private start(request: FireRequest, firedAt = this.clock.now()): GateOutcome {
    const record = triggerRecord(request, firedAt);
    let handle: RunHandle;
    try {
      handle = this.launch(request.operationId, record, request.params ?? {});
    } catch (err) {
      return { type: 'failed', request, error: err instanceof Error ? err.message : String(err) };
    }
    const slots = this.slotsOf(request.operationId);
    slots.running.add(handle.runId);
    const ended = (): void => {
      slots.running.delete(handle.runId);
      this.pump(request.operationId);
    };
    handle.done.then(ended, ended);
    return { type: 'started', request, runId: handle.runId, firedAt, latenessMs: record.latenessMs ?? 0 };
  }

  /** Starts waiting firings while the policy has room: catch-ups first (they are older), then the queued one. */
  private pump(operationId: string): void {
    const slots = this.slots.get(operationId);
    if (slots === undefined || this.stopped) return;
    const policy = this.policyOf(operationId);
    if (policy === undefined) {
      this.drop(operationId);
      return;
    }
    const limit = policy.overlap === 'parallel' ? policy.maxParallel : 1;
    while (slots.running.size < limit) {
      const next = slots.backlog.shift() ?? slots.pending;
      if (next === undefined) break;
      if (next === slots.pending) delete slots.pending;
      const outcome = this.start(next);
      this.report(outcome);
    }
    if (slots.running.size === 0 && slots.backlog.length === 0 && slots.pending === undefined) {
      this.slots.delete(operationId);
    }
  }

  private slotsOf(operationId: string): OperationSlots {
    let slots = this.slots.get(operationId);
    if (slots === undefined) {
      slots = { running: new Set(), backlog: [] };
      this.slots.set(operationId, slots);
    }
    return slots;
  }
}
