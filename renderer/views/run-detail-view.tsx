import { useEffect, useState } from 'react';
import { useStore } from 'zustand';
import type { Manifest } from '../../main/api/contract';
import { routeHref } from '../app/route';
import { useStores } from '../app/stores-context';
import { navigate } from '../app/use-route';
import { LogViewer, type QuietExecution } from '../components/log-viewer';
import { StatusBadge } from '../components/status-badge';
import { Duration, TimeAgo } from '../components/time-text';
import { formatClock, toMillis } from '../format/format-time';
import { formatBytes } from '../format/log-segments';
import type { RunDetail } from '../stores/runs-store';

type TaskRecord = Manifest['tasks'][number];

/** The task whose log to show when none is chosen: the first that failed, else the first that ran. */
export function defaultTask(tasks: readonly TaskRecord[]): TaskRecord | undefined {
  const failed = tasks.find((t) => t.status === 'failure' || t.status === 'timeout');
  return failed ?? tasks.find((t) => t.executions.length > 0 || t.status === 'running') ?? tasks[0];
}

function Facts({ manifest }: { manifest: Manifest }) {
  const params = Object.entries(manifest.params);
  const started = toMillis(manifest.startedAt);
  const ended = toMillis(manifest.endedAt);
  return (
    <dl className="facts">
      <div>
        <dt>Started</dt>
        <dd>
          {started === undefined ? manifest.startedAt : formatClock(started)}{' '}
          <span className="muted">
            (<TimeAgo at={manifest.startedAt} />)
          </span>
        </dd>
      </div>
      <div>
        <dt>Ended</dt>
        <dd>{ended === undefined ? <span className="muted">—</span> : formatClock(ended)}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd>
          <Duration
            startedAt={manifest.startedAt}
            durationMs={manifest.durationMs}
            running={manifest.status === 'running'}
          />
        </dd>
      </div>
      <div>
        <dt>Trigger</dt>
        <dd>
          {manifest.trigger.kind}
          {typeof manifest.trigger['id'] === 'string' && manifest.trigger['id'] !== manifest.trigger.kind ? (
            <span className="muted"> · {manifest.trigger['id']}</span>
          ) : null}
        </dd>
      </div>
      <div>
        <dt>Node</dt>
        <dd>{manifest.node.name}</dd>
      </div>
      {manifest.parent === undefined ? null : (
        <div>
          <dt>Parent run</dt>
          <dd>
            <a href={routeHref({ view: 'run', runId: manifest.parent.runId })}>
              {manifest.parent.operationId}
            </a>
          </dd>
        </div>
      )}
      {params.length === 0 ? null : (
        <div>
          <dt>Params</dt>
          <dd className="mono">
            {params.map(([k, v]) => (
              <div key={k}>
                {k} = {typeof v === 'string' ? v : JSON.stringify(v)}
              </div>
            ))}
          </dd>
        </div>
      )}
    </dl>
  );
}

function TasksTable({
  manifest,
  detail,
  selected,
}: {
  manifest: Manifest;
  detail: RunDetail;
  selected: string | undefined;
}) {
  return (
    <table className="list" aria-label="Tasks">
      <thead>
        <tr>
          <th>Status</th>
          <th>Task</th>
          <th className="num">Attempts</th>
          <th className="num">Duration</th>
          <th>Result</th>
        </tr>
      </thead>
      <tbody>
        {manifest.tasks.map((task) => {
          const progress = detail.progress[task.id];
          const route = { view: 'run', runId: manifest.runId, taskId: task.id } as const;
          return (
            <tr
              key={task.id}
              data-task={task.id}
              data-status={task.status}
              className={`clickable${task.id === selected ? ' selected' : ''}`}
              aria-selected={task.id === selected}
              onClick={(e) => {
                if ((e.target as HTMLElement).closest('a') === null) navigate(route);
              }}
            >
              <td className="nowrap">
                <StatusBadge status={task.status} />
              </td>
              <td>
                <div className="cell-title">
                  <a href={routeHref(route)}>{task.name ?? task.id}</a>{' '}
                  <span className="chip">{task.kind}</span>
                </div>
                {task.name === undefined ? null : <div className="cell-sub mono">{task.id}</div>}
                {progress === undefined || task.status !== 'running' ? null : (
                  <div className="cell-sub">
                    {progress.done} of {progress.total} items done
                  </div>
                )}
              </td>
              <td className="num">{task.attempts}</td>
              <td className="num">
                <Duration
                  startedAt={task.startedAt}
                  durationMs={task.durationMs}
                  running={task.status === 'running'}
                />
              </td>
              <td>
                {task.error === undefined ? null : <div className="task-error">{task.error}</div>}
                {task.skipReason === undefined ? null : <div className="cell-sub">{task.skipReason}</div>}
                {task.exitCode === undefined || task.error !== undefined ? null : (
                  <span className="muted">exit {task.exitCode}</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Outputs({ manifest }: { manifest: Manifest }) {
  const files = manifest.outputs.files;
  const data = manifest.outputs.data;
  const links: [string, string | undefined][] = [
    ['Run folder', manifest.links.run],
    ['Manifest', manifest.links.manifest],
    ['Logs', manifest.links.logs],
    ['Staging', manifest.links.staging],
  ];
  return (
    <section className="card">
      <div className="card-header">
        <h2>Outputs and files</h2>
        <span className="muted">
          {files.length} file{files.length === 1 ? '' : 's'} · {data.length} data record
          {data.length === 1 ? '' : 's'}
        </span>
      </div>
      {files.length === 0 ? null : (
        <table className="list" aria-label="Output files">
          <tbody>
            {files.map((f) => (
              <tr key={f.path}>
                <td className="mono">{f.path}</td>
                <td className="num">{formatBytes(f.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <dl className="links">
        {links.map(([label, path]) =>
          path === undefined ? null : (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{path}</dd>
            </div>
          ),
        )}
      </dl>
    </section>
  );
}

function Actions({ runId, running }: { runId: string; running: boolean }) {
  const { runs } = useStores();
  const pending = useStore(runs, (s) => s.pending[runId]);
  const feedback = useStore(runs, (s) => s.feedback[runId]);
  const { cancel, retry } = runs.getState();
  return (
    <div className="actions-bar">
      {feedback === undefined ? null : (
        <span className={feedback.error ? 'error-text' : 'muted'} role="status">
          {feedback.outcome?.outcome === 'started' ? (
            <a href={routeHref({ view: 'run', runId: feedback.outcome.runId })}>Open the new run</a>
          ) : (
            feedback.message
          )}
        </span>
      )}
      {running ? (
        <button type="button" disabled={pending !== undefined} onClick={() => void cancel(runId)}>
          {pending === 'cancel' ? 'Cancelling…' : 'Cancel'}
        </button>
      ) : (
        <button type="button" disabled={pending !== undefined} onClick={() => void retry(runId)}>
          {pending === 'retry' ? 'Starting…' : 'Run again'}
        </button>
      )}
    </div>
  );
}

/** One run: its manifest (tasks with status, duration and errors; outputs; where things are) and a task's log. */
export function RunDetailView({ runId, taskId }: { runId: string; taskId: string | undefined }) {
  const { runs } = useStores();
  const detail = useStore(runs, (s) => s.details[runId]);
  const [index, setIndex] = useState(0);

  useEffect(() => {
    void runs.getState().loadDetail(runId);
    return () => {
      runs.getState().dropDetail(runId);
    };
  }, [runs, runId]);

  const manifest = detail?.manifest;
  const selectedTask =
    manifest === undefined
      ? undefined
      : ((taskId === undefined ? undefined : manifest.tasks.find((t) => t.id === taskId)) ??
        defaultTask(manifest.tasks));
  const indexes = [...new Set(selectedTask?.executions.map((e) => e.index) ?? [])].sort((a, b) => a - b);
  const shownIndex = indexes.includes(index) ? index : (indexes[0] ?? 0);

  return (
    <>
      <a className="back" href={routeHref({ view: 'runs' })}>
        ← All runs
      </a>
      {manifest === undefined ? (
        <>
          <header className="page-header">
            <h1 className="mono">{runId}</h1>
          </header>
          {detail?.error === undefined ? (
            <p className="muted">Loading…</p>
          ) : (
            <div className="banner error" role="alert">
              {detail.notFound ? `There is no run ${runId} on this node.` : detail.error}
            </div>
          )}
        </>
      ) : (
        <>
          <header className="page-header">
            <div>
              <h1>
                {manifest.operation.name ?? manifest.operation.id} <StatusBadge status={manifest.status} />
              </h1>
              <div className="subtitle mono">{manifest.runId}</div>
            </div>
            <Actions runId={runId} running={manifest.status === 'running'} />
          </header>
          <section className="card" aria-label="Run">
            {manifest.summary === undefined ? null : (
              <div className="summary">
                <strong>{manifest.summary.title}</strong>
                {manifest.summary.text === '' ? null : <p>{manifest.summary.text}</p>}
              </div>
            )}
            {manifest.error === undefined ? null : <pre className="run-error">{manifest.error}</pre>}
            <Facts manifest={manifest} />
          </section>
          <section className="card">
            <div className="card-header">
              <h2>Tasks</h2>
              <span className="muted">
                {manifest.tasks.filter((t) => t.status === 'success').length} of {manifest.tasks.length}{' '}
                succeeded
              </span>
            </div>
            {detail === undefined ? null : (
              <TasksTable manifest={manifest} detail={detail} selected={selectedTask?.id} />
            )}
          </section>
          {selectedTask === undefined ? null : (
            <section className="card" aria-label="Task log">
              <div className="card-header">
                <h2>
                  Log · <span className="mono">{selectedTask.id}</span>
                </h2>
                {indexes.length > 1 ? (
                  <label className="log-toolbar">
                    Item
                    <select value={shownIndex} onChange={(e) => setIndex(Number(e.target.value))}>
                      {indexes.map((i) => (
                        <option key={i} value={i}>
                          {i}
                        </option>
                      ))}
                    </select>
                  </label>
                ) : null}
              </div>
              <div className="log-body">
                {selectedTask.executions.length === 0 && selectedTask.status !== 'running' ? (
                  <div className="empty">
                    {selectedTask.status === 'skipped'
                      ? `Skipped${selectedTask.skipReason === undefined ? '' : `: ${selectedTask.skipReason}`}`
                      : `Not started (${selectedTask.status}): no log yet.`}
                  </div>
                ) : (
                  <LogViewer
                    logKey={{ runId, taskId: selectedTask.id, index: shownIndex }}
                    quiet={quietExecution(selectedTask.executions, shownIndex)}
                  />
                )}
              </div>
            </section>
          )}
          <Outputs manifest={manifest} />
        </>
      )}
    </>
  );
}

type Execution = Manifest['tasks'][number]['executions'][number];

/** The shown execution when it succeeded without a log file (nothing printed), for the log viewer. */
function quietExecution(executions: Execution[], index: number): QuietExecution | undefined {
  const shown = executions.filter((e) => e.index === index).at(-1);
  if (shown === undefined || shown.status !== 'success' || shown.log !== undefined) return undefined;
  return {
    ...(shown.command === undefined ? {} : { command: shown.command }),
    ...(shown.exitCode === undefined ? {} : { exitCode: shown.exitCode }),
    ...(shown.durationMs === undefined ? {} : { durationMs: shown.durationMs }),
  };
}
