import type { Manifest, RunStatus, TaskStatus } from '../model/manifest.js';

/** JSON with object keys sorted, so equal values give equal text whatever the key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const record = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((k) => [k, record[k]]),
    );
  });
}

/** How one task differs from the same task in the previous run. */
export interface TaskChange {
  id: string;
  /** Status in the previous run; undefined when the task is new. */
  from?: TaskStatus;
  /** Status in this run; undefined when the task is gone. */
  to?: TaskStatus;
  statusChanged: boolean;
  outputChanged: boolean;
}

/** What differs between a run and the previous run of the same operation. */
export interface RunDiff {
  /** No previous run to compare with. */
  first: boolean;
  previousRunId?: string;
  status?: { from: RunStatus; to: RunStatus };
  /** Only the tasks that differ. */
  tasks: TaskChange[];
  filesChanged: boolean;
  dataChanged: boolean;
  /** Same status, task statuses and outputs as the previous run. */
  unchanged: boolean;
}

function filesKey(manifest: Manifest): string {
  return stableStringify(
    manifest.outputs.files
      .map((f) => [f.path, f.size, f.sha256 ?? null])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );
}

/**
 * Compares a run with the previous one: run status, each task's status and output, output files
 * (path, size, hash) and data records.
 *
 * Outputs are compared as whole JSON values; a task whose output holds a timestamp differs every
 * run, which is right for "did anything change" from the output's point of view.
 */
export function diffRuns(current: Manifest, previous?: Manifest): RunDiff {
  if (previous === undefined) {
    return { first: true, tasks: [], filesChanged: false, dataChanged: false, unchanged: false };
  }
  const before = new Map(previous.tasks.map((t) => [t.id, t]));
  const tasks: TaskChange[] = [];
  for (const task of current.tasks) {
    const old = before.get(task.id);
    before.delete(task.id);
    const statusChanged = old?.status !== task.status;
    const outputChanged = old === undefined || stableStringify(old.output) !== stableStringify(task.output);
    if (statusChanged || outputChanged) {
      tasks.push({
        id: task.id,
        ...(old === undefined ? {} : { from: old.status }),
        to: task.status,
        statusChanged,
        outputChanged,
      });
    }
  }
  for (const gone of before.values()) {
    tasks.push({ id: gone.id, from: gone.status, statusChanged: true, outputChanged: true });
  }
  const filesChanged = filesKey(current) !== filesKey(previous);
  const dataChanged = stableStringify(current.outputs.data) !== stableStringify(previous.outputs.data);
  const statusChanged = current.status !== previous.status;
  return {
    first: false,
    previousRunId: previous.runId,
    ...(statusChanged ? { status: { from: previous.status, to: current.status } } : {}),
    tasks,
    filesChanged,
    dataChanged,
    unchanged: !statusChanged && tasks.length === 0 && !filesChanged && !dataChanged,
  };
}

/** True when a run ended the same way as the previous one and produced the same outputs. */
export function sameOutcome(current: Manifest, previous?: Manifest): boolean {
  return diffRuns(current, previous).unchanged;
}
