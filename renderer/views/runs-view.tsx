import { useEffect } from 'react';
import { useStore } from 'zustand';
import { routeHref } from '../app/route';
import { useStores } from '../app/stores-context';
import { navigate } from '../app/use-route';
import { StatusBadge } from '../components/status-badge';
import { Duration, TimeAgo } from '../components/time-text';
import type { RunItem } from '../stores/run-item';

function RunRow({ run }: { run: RunItem }) {
  const href = routeHref({ view: 'run', runId: run.runId });
  const headline = run.summaryTitle ?? run.error;
  return (
    <tr
      className="clickable"
      data-run={run.runId}
      data-status={run.status}
      onClick={(e) => {
        // Let real links (and modified clicks) do their own thing.
        if ((e.target as HTMLElement).closest('a') !== null || e.metaKey || e.ctrlKey) return;
        navigate({ view: 'run', runId: run.runId });
      }}
    >
      <td className="nowrap">
        <StatusBadge status={run.status} />
      </td>
      <td>
        <div className="cell-title">
          <a href={href}>{run.operationName ?? run.operationId}</a>
        </div>
        <div className="cell-sub mono">{run.operationId}</div>
      </td>
      <td>
        {headline === undefined ? (
          <span className="muted">{run.status === 'running' ? 'running…' : '—'}</span>
        ) : (
          <div className={`truncate${run.summaryTitle === undefined ? ' error-text' : ''}`} title={headline}>
            {headline}
          </div>
        )}
        {run.summaryTitle !== undefined && run.error !== undefined ? (
          <div className="cell-sub error-text truncate" title={run.error}>
            {run.error}
          </div>
        ) : null}
      </td>
      <td className="nowrap">
        <TimeAgo at={run.startedAt} />
      </td>
      <td className="num">
        <Duration startedAt={run.startedAt} durationMs={run.durationMs} running={run.status === 'running'} />
      </td>
      <td className="nowrap hide-narrow">
        <span className="chip">{run.parentRunId === undefined ? (run.trigger ?? '—') : 'child run'}</span>
      </td>
    </tr>
  );
}

/** Recent runs, newest first, live: a run appears when it starts and its badge changes when it ends. */
export function RunsView({ operationId }: { operationId: string | undefined }) {
  const { runs, operations } = useStores();
  const list = useStore(runs, (s) => s.runs);
  const loaded = useStore(runs, (s) => s.loaded);
  const error = useStore(runs, (s) => s.error);
  const nextCursor = useStore(runs, (s) => s.nextCursor);
  const loadingMore = useStore(runs, (s) => s.loadingMore);
  const knownOperations = useStore(operations, (s) => s.operations);

  useEffect(() => {
    void runs.getState().setFilter(operationId === undefined ? {} : { operationId });
  }, [runs, operationId]);

  const running = list.filter((r) => r.status === 'running').length;
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Runs</h1>
          <div className="subtitle">
            {!loaded ? 'Loading…' : running > 0 ? `${running} running now` : 'Newest first, live'}
          </div>
        </div>
        <label className="log-toolbar">
          Operation
          <select
            value={operationId ?? ''}
            onChange={(e) => {
              const value = e.target.value;
              navigate(value === '' ? { view: 'runs' } : { view: 'runs', operationId: value });
            }}
          >
            <option value="">All operations</option>
            {knownOperations.map((op) => (
              <option key={op.id} value={op.id}>
                {op.name ?? op.id}
              </option>
            ))}
            {operationId !== undefined && !knownOperations.some((op) => op.id === operationId) ? (
              <option value={operationId}>{operationId}</option>
            ) : null}
          </select>
        </label>
      </header>
      {error === undefined ? null : (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      <section className="card">
        {loaded && list.length === 0 ? (
          <div className="empty">
            {operationId === undefined ? 'No runs yet.' : 'No runs of this operation yet.'} Start one with
            “Run now” on the <a href={routeHref({ view: 'operations' })}>Operations</a> page.
          </div>
        ) : (
          <table className="list" aria-label="Runs">
            <thead>
              <tr>
                <th>Status</th>
                <th>Operation</th>
                <th>Summary</th>
                <th>Started</th>
                <th className="num">Duration</th>
                <th className="hide-narrow">Trigger</th>
              </tr>
            </thead>
            <tbody>
              {list.map((run) => (
                <RunRow key={run.runId} run={run} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      {nextCursor === undefined ? null : (
        <p>
          <button type="button" disabled={loadingMore} onClick={() => void runs.getState().loadMore()}>
            {loadingMore ? 'Loading…' : 'Show older runs'}
          </button>
        </p>
      )}
    </>
  );
}
