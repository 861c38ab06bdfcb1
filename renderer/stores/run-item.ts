import type { EventPayload, RunRow, RunStatus } from '../../main/api/contract';

/** One run as lists show it: what the run index says, or what events have told us so far. */
export interface RunItem {
  runId: string;
  operationId: string;
  operationName?: string;
  status: RunStatus;
  trigger?: string;
  parentRunId?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  error?: string;
  summaryTitle?: string;
}

/** Copies the fields of `source` that are set (so `undefined` never erases what is known). */
function definedFields<T extends object>(source: T): Partial<T> {
  return Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function runItemFromRow(row: RunRow): RunItem {
  return definedFields({
    runId: row.runId,
    operationId: row.operationId,
    operationName: row.operationName,
    status: row.status,
    trigger: row.trigger,
    parentRunId: row.parentRunId,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    durationMs: row.durationMs,
    error: row.error,
    summaryTitle: row.summaryTitle,
  }) as RunItem;
}

export function runItemFromStarted(e: EventPayload<'run.started'>): RunItem {
  return definedFields({
    runId: e.runId,
    operationId: e.operationId,
    operationName: e.operationName,
    status: 'running' as const,
    trigger: e.trigger,
    parentRunId: e.parentRunId,
    startedAt: e.startedAt,
  }) as RunItem;
}

export function runItemFromEnded(e: EventPayload<'run.ended'>): RunItem {
  return definedFields({
    runId: e.runId,
    operationId: e.operationId,
    status: e.status,
    startedAt: e.startedAt,
    endedAt: e.endedAt,
    durationMs: e.durationMs,
    error: e.error,
    summaryTitle: e.summaryTitle,
  }) as RunItem;
}

export function isFinished(status: RunStatus): boolean {
  return status !== 'running';
}

/**
 * Combines what we knew of a run with newer news of it.
 *
 * A run only ever goes from running to finished, so news that it is running never undoes a known
 * end: a list fetched before the run ended can arrive after the run.ended event.
 */
export function mergeRunItem(known: RunItem | undefined, news: RunItem): RunItem {
  if (known === undefined) return news;
  if (isFinished(known.status) && !isFinished(news.status)) return { ...news, ...definedFields(known) };
  return { ...known, ...definedFields(news) };
}

/** Newest first; ties (same start time) by run id, also newest first. */
export function compareRuns(a: RunItem, b: RunItem): number {
  const at = Date.parse(a.startedAt);
  const bt = Date.parse(b.startedAt);
  if (at !== bt && !Number.isNaN(at) && !Number.isNaN(bt)) return bt - at;
  return a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0;
}
