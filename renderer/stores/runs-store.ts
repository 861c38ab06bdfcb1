import { createStore, type StoreApi } from 'zustand/vanilla';
import { ApiError, type ApiClient } from '../../main/api/contract-client';
import type { EventPayload, Manifest, RunRow, TriggerOutcome } from '../../main/api/contract';
import { errorMessage } from '../api/api-error';
import { assertNever } from '../app/assert-never';
import { withoutKey } from './records';
import { refreshGate } from './refresh-gate';
import {
  compareRuns,
  isFinished,
  mergeRunItem,
  runItemFromEnded,
  runItemFromRow,
  runItemFromStarted,
  type RunItem,
} from './run-item';

/** One run opened in the detail view. */
export interface RunDetail {
  manifest: Manifest | undefined;
  row: RunRow | undefined;
  loading: boolean;
  /** The last fetch failed (the run may not exist); the previous manifest, if any, stays shown. */
  error: string | undefined;
  notFound: boolean;
  /** forEach progress of running tasks, by task id. */
  progress: Record<string, { done: number; total: number } | undefined>;
}

export interface RunsFilter {
  operationId?: string;
}

export interface RunsState {
  /** The runs shown, newest first. */
  runs: RunItem[];
  filter: RunsFilter;
  loaded: boolean;
  loadingMore: boolean;
  error: string | undefined;
  nextCursor: string | undefined;
  details: Record<string, RunDetail | undefined>;
  /** An action on a run in flight (cancel, retry), by run id. */
  pending: Record<string, 'cancel' | 'retry' | undefined>;
  /** What the last retry or cancel did, by run id. */
  feedback: Record<string, { message: string; error: boolean; outcome?: TriggerOutcome } | undefined>;
  refresh: () => Promise<void>;
  setFilter: (filter: RunsFilter) => Promise<void>;
  loadMore: () => Promise<void>;
  loadDetail: (runId: string) => Promise<void>;
  /** Forgets a run's detail when its view closes (it is fetched again when reopened). */
  dropDetail: (runId: string) => void;
  cancel: (runId: string) => Promise<void>;
  retry: (runId: string) => Promise<void>;
}

export type RunsStore = StoreApi<RunsState>;

const pageSize = 50;
/** Details kept for runs whose view is closed, so going back and forth does not refetch. */
const keptDetails = 20;

const emptyDetail: RunDetail = {
  manifest: undefined,
  row: undefined,
  loading: false,
  error: undefined,
  notFound: false,
  progress: {},
};

function matches(filter: RunsFilter, run: RunItem): boolean {
  return filter.operationId === undefined || filter.operationId === run.operationId;
}

/** Applies one run.progress event to a manifest's task list. */
export function applyProgress(manifest: Manifest, e: EventPayload<'run.progress'>, nowIso: string): Manifest {
  if (!manifest.tasks.some((task) => task.id === e.taskId)) return manifest;
  const tasks = manifest.tasks.map((task) => {
    if (task.id !== e.taskId) return task;
    switch (e.phase) {
      case 'task-started':
        return { ...task, status: 'running' as const, startedAt: task.startedAt ?? nowIso };
      case 'execution-ended':
        return task;
      case 'task-ended':
        return {
          ...task,
          status: e.status ?? task.status,
          ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }),
          ...(e.error === undefined ? {} : { error: e.error }),
          endedAt: task.endedAt ?? nowIso,
        };
      default:
        return assertNever(e.phase, 'progress phase');
    }
  });
  return { ...manifest, tasks };
}

/**
 * Recent runs, newest first, kept live by run.started and run.ended events; and the runs opened in
 * the detail view, kept live by run.progress and re-read when they end.
 */
export function createRunsStore(client: ApiClient, now: () => number = Date.now): RunsStore {
  /** Runs that events touched while a list request was in flight: merged over its (older) answer. */
  let touchedDuringFetch: Map<string, RunItem> | undefined;
  /** Bumped by each filter change, so a late answer for the old filter is ignored. */
  let generation = 0;

  const store = createStore<RunsState>()((set, get) => {
    const upsert = (news: RunItem): void => {
      touchedDuringFetch?.set(news.runId, mergeRunItem(touchedDuringFetch.get(news.runId), news));
      const state = get();
      if (!matches(state.filter, news)) return;
      const known = state.runs.find((r) => r.runId === news.runId);
      const merged = mergeRunItem(known, news);
      const runs =
        known === undefined
          ? [...state.runs, merged].sort(compareRuns)
          : state.runs.map((r) => (r.runId === news.runId ? merged : r));
      set({ runs });
    };

    const updateDetail = (runId: string, update: (detail: RunDetail) => RunDetail): void => {
      const detail = get().details[runId];
      if (detail === undefined) return;
      set({ details: { ...get().details, [runId]: update(detail) } });
    };

    const fetchFirstPage = async (): Promise<void> => {
      const mine = generation;
      const filter = get().filter;
      touchedDuringFetch = new Map();
      try {
        const page = await client.call('runs.list', {
          limit: pageSize,
          ...(filter.operationId === undefined ? {} : { operationId: filter.operationId }),
        });
        if (mine !== generation) return;
        const byId = new Map(page.runs.map((row) => [row.runId, runItemFromRow(row)]));
        for (const [runId, news] of touchedDuringFetch) {
          if (matches(filter, news)) byId.set(runId, mergeRunItem(byId.get(runId), news));
        }
        set({
          runs: [...byId.values()].sort(compareRuns),
          nextCursor: page.nextCursor,
          loaded: true,
          error: undefined,
        });
      } catch (err) {
        if (mine === generation) set({ error: errorMessage(err), loaded: true });
      } finally {
        if (mine === generation) touchedDuringFetch = undefined;
      }
    };
    const refresh = refreshGate(fetchFirstPage);

    const loadDetail = async (runId: string): Promise<void> => {
      const known = get().details[runId];
      // Keep the map small: drop the oldest other details.
      const others = Object.entries(get().details).filter(([id]) => id !== runId);
      const kept = others.slice(Math.max(0, others.length - keptDetails));
      set({
        details: { ...Object.fromEntries(kept), [runId]: { ...(known ?? emptyDetail), loading: true } },
      });
      try {
        const { run, manifest } = await client.call('runs.get', { runId });
        updateDetail(runId, (d) => ({
          ...d,
          manifest,
          row: run,
          loading: false,
          error: undefined,
          notFound: false,
        }));
        upsert(runItemFromRow(run));
      } catch (err) {
        const notFound = err instanceof ApiError && err.code === 'not-found';
        updateDetail(runId, (d) => ({ ...d, loading: false, error: errorMessage(err), notFound }));
      }
    };

    const setFeedback = (runId: string, message: string, error: boolean, outcome?: TriggerOutcome): void => {
      set({
        feedback: {
          ...get().feedback,
          [runId]: { message, error, ...(outcome === undefined ? {} : { outcome }) },
        },
      });
    };
    const setPending = (runId: string, action: 'cancel' | 'retry' | undefined): void => {
      set({ pending: { ...get().pending, [runId]: action } });
    };

    client.on('run.started', (e) => {
      upsert(runItemFromStarted(e));
    });
    client.on('run.progress', (e) => {
      updateDetail(e.runId, (d) => {
        const progress =
          e.phase === 'execution-ended' && e.done !== undefined && e.total !== undefined
            ? { ...d.progress, [e.taskId]: { done: e.done, total: e.total } }
            : e.phase === 'task-started' && e.items !== undefined
              ? { ...d.progress, [e.taskId]: { done: 0, total: e.items } }
              : d.progress;
        const manifest =
          d.manifest === undefined ? undefined : applyProgress(d.manifest, e, new Date(now()).toISOString());
        return { ...d, manifest, progress };
      });
      // A task we have no record of (the manifest was read before the run wrote it): read again.
      const detail = get().details[e.runId];
      if (
        detail?.manifest !== undefined &&
        !detail.loading &&
        !detail.manifest.tasks.some((t) => t.id === e.taskId)
      ) {
        void loadDetail(e.runId);
      }
    });
    client.on('run.ended', (e) => {
      upsert(runItemFromEnded(e));
      const detail = get().details[e.runId];
      if (detail === undefined) return;
      updateDetail(e.runId, (d) =>
        d.manifest === undefined
          ? d
          : {
              ...d,
              manifest: {
                ...d.manifest,
                status: e.status,
                ...(e.endedAt === undefined ? {} : { endedAt: e.endedAt }),
                ...(e.durationMs === undefined ? {} : { durationMs: e.durationMs }),
                ...(e.error === undefined ? {} : { error: e.error }),
              },
            },
      );
      // The manifest on disk now has the final task records, outputs and summary.
      void loadDetail(e.runId);
    });
    // The LLM's friendly summary comes after the run ended (it never holds the run up).
    client.on('run.summary', (e) => {
      const known = get().runs.find((r) => r.runId === e.runId);
      if (known !== undefined) upsert({ ...known, summaryTitle: e.summary.title });
      updateDetail(e.runId, (d) =>
        d.manifest === undefined ? d : { ...d, manifest: { ...d.manifest, summary: e.summary } },
      );
    });

    return {
      runs: [],
      filter: {},
      loaded: false,
      loadingMore: false,
      error: undefined,
      nextCursor: undefined,
      details: {},
      pending: {},
      feedback: {},
      refresh,
      async setFilter(filter) {
        const current = get().filter;
        if (current.operationId === filter.operationId) return;
        generation += 1;
        set({ filter: { ...filter }, runs: [], loaded: false, nextCursor: undefined, error: undefined });
        await fetchFirstPage();
      },
      async loadMore() {
        const { nextCursor, filter, loadingMore } = get();
        if (nextCursor === undefined || loadingMore) return;
        const mine = generation;
        set({ loadingMore: true });
        try {
          const page = await client.call('runs.list', {
            limit: pageSize,
            cursor: nextCursor,
            ...(filter.operationId === undefined ? {} : { operationId: filter.operationId }),
          });
          if (mine !== generation) return;
          const known = new Map(get().runs.map((r) => [r.runId, r]));
          for (const row of page.runs)
            known.set(row.runId, mergeRunItem(known.get(row.runId), runItemFromRow(row)));
          set({ runs: [...known.values()].sort(compareRuns), nextCursor: page.nextCursor, error: undefined });
        } catch (err) {
          if (mine === generation) set({ error: errorMessage(err) });
        } finally {
          if (mine === generation) set({ loadingMore: false });
        }
      },
      loadDetail,
      dropDetail(runId) {
        const detail = get().details[runId];
        if (detail === undefined) return;
        // Keep a finished run for a quick return; a running one must be fetched fresh when reopened.
        if (detail.manifest === undefined || !isFinished(detail.manifest.status)) {
          set({ details: withoutKey(get().details, runId) });
        }
      },
      async cancel(runId) {
        if (get().pending[runId] !== undefined) return;
        setPending(runId, 'cancel');
        try {
          const result = await client.call('runs.cancel', { runId, reason: 'cancelled from the web UI' });
          setFeedback(
            runId,
            result.cancelled ? 'Cancelling…' : 'The run is not running on this node any more.',
            !result.cancelled,
          );
        } catch (err) {
          setFeedback(runId, errorMessage(err), true);
        } finally {
          setPending(runId, undefined);
        }
      },
      async retry(runId) {
        if (get().pending[runId] !== undefined) return;
        setPending(runId, 'retry');
        try {
          const outcome = await client.call('runs.retry', { runId });
          setFeedback(runId, describeOutcome(outcome), outcome.outcome === 'failed', outcome);
        } catch (err) {
          setFeedback(runId, errorMessage(err), true);
        } finally {
          setPending(runId, undefined);
        }
      },
    };
  });

  return store;
}

/** A trigger outcome as one sentence. */
export function describeOutcome(outcome: TriggerOutcome): string {
  switch (outcome.outcome) {
    case 'started':
      return `Started run ${outcome.runId}.`;
    case 'queued':
      return 'Queued: it starts when the run in progress ends.';
    case 'skipped':
      return `Skipped: ${outcome.reason}`;
    case 'failed':
      return `Could not start: ${outcome.error}`;
    default:
      return assertNever(outcome, 'trigger outcome');
  }
}
