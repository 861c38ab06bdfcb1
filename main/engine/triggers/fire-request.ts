import type { RunHandle } from '../engine.js';
import type { TriggerRecord } from '../model/manifest.js';

/** What an `after` trigger passes to the run it starts, as `trigger.upstream`. */
export interface UpstreamSummary {
  runId: string;
  operationId: string;
  status: string;
  startedAt: string;
  endedAt?: string;
  outputs: unknown;
  links: unknown;
  /** The upstream task, for `after: { task }`. */
  task?: { id: string; status: string; output?: unknown; error?: string };
}

/** A trigger that fired and wants a run of its operation. */
export interface FireRequest {
  operationId: string;
  /** The trigger's id within the operation; `manual` for CLI and API requests. */
  triggerId: string;
  /** The trigger kind as recorded in the manifest: schedule, every, at, condition, after, watch, manual. */
  kind: string;
  /** When it was due (epoch ms); lateness is measured from here. */
  dueAt: number;
  params?: Record<string, unknown>;
  detail?: Record<string, unknown>;
  upstream?: UpstreamSummary;
  /** Manual requests run even when the operation is paused or a run is going. */
  force?: boolean;
}

/** Starts a run for a fire request; throws when it cannot (unknown operation, bad params). */
export type Launcher = (
  operationId: string,
  trigger: TriggerRecord,
  params: Record<string, unknown>,
) => RunHandle;

/** The manifest's record of a firing: kind, id, when it was due, when it fired and how late. */
export function triggerRecord(request: FireRequest, firedAt: number): TriggerRecord {
  return {
    kind: request.kind,
    id: request.triggerId,
    dueAt: new Date(request.dueAt).toISOString(),
    firedAt: new Date(firedAt).toISOString(),
    latenessMs: Math.max(0, firedAt - request.dueAt),
    ...(request.detail === undefined ? {} : { detail: request.detail }),
    ...(request.upstream === undefined ? {} : { upstream: request.upstream }),
  };
}
