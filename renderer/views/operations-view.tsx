import { useStore } from 'zustand';
import type { OperationSummary } from '../../main/api/contract';
import { routeHref } from '../app/route';
import { useStores } from '../app/stores-context';
import { TimeAgo } from '../components/time-text';
import type { ActionFeedback } from '../stores/operations-store';
import { describeOutcome } from '../stores/runs-store';

function Triggers({ operation }: { operation: OperationSummary }) {
  if (operation.triggers.length === 0) return <span className="muted">manual only</span>;
  return (
    <div className="chips">
      {operation.triggers.map((t) => (
        <span key={t.id} className="chip" title={`${t.id} (${t.kind})${t.enabled ? '' : ': disabled'}`}>
          {t.description}
          {t.enabled ? '' : ' · off'}
        </span>
      ))}
    </div>
  );
}

function Feedback({ feedback }: { feedback: ActionFeedback | undefined }) {
  if (feedback === undefined) return null;
  if (feedback.kind === 'error') {
    return (
      <div className="cell-sub error-text" role="alert">
        {feedback.message}
      </div>
    );
  }
  const { outcome } = feedback;
  if (outcome.outcome === 'started') {
    return (
      <div className="cell-sub" role="status">
        Started — <a href={routeHref({ view: 'run', runId: outcome.runId })}>view the run</a>
      </div>
    );
  }
  return (
    <div className={`cell-sub${outcome.outcome === 'failed' ? ' error-text' : ''}`} role="status">
      {describeOutcome(outcome)}
    </div>
  );
}

function OperationRow({ operation }: { operation: OperationSummary }) {
  const { operations } = useStores();
  const pending = useStore(operations, (s) => s.pending[operation.id]);
  const feedback = useStore(operations, (s) => s.feedback[operation.id]);
  const nodePaused = useStore(operations, (s) => s.nodePaused);
  const { trigger, setPaused } = operations.getState();
  return (
    <tr data-operation={operation.id}>
      <td>
        <div className="cell-title">
          <a href={routeHref({ view: 'runs', operationId: operation.id })} title="Runs of this operation">
            {operation.name ?? operation.id}
          </a>
        </div>
        <div className="cell-sub mono">{operation.id}</div>
        {operation.description === undefined ? null : (
          <div className="cell-sub truncate" title={operation.description}>
            {operation.description}
          </div>
        )}
        <Feedback feedback={feedback} />
      </td>
      <td>
        <Triggers operation={operation} />
      </td>
      <td className="nowrap">
        {operation.next === undefined ? (
          <span className="muted">—</span>
        ) : (
          <span title={`trigger ${operation.next.trigger}`}>
            <TimeAgo at={operation.next.at} />
            {operation.paused || nodePaused ? <span className="muted"> (paused)</span> : null}
          </span>
        )}
      </td>
      <td className="nowrap">
        {operation.running > 0 ? <span className="badge running">{operation.running} running</span> : null}{' '}
        {operation.paused ? (
          <span className="badge paused">paused</span>
        ) : operation.running > 0 ? null : (
          <span className="badge plain">active</span>
        )}
      </td>
      <td className="actions">
        <button
          type="button"
          className="primary"
          disabled={pending !== undefined}
          onClick={() => void trigger(operation.id)}
          title="Run it now, even if paused"
        >
          {pending === 'trigger' ? 'Starting…' : 'Run now'}
        </button>
        <button
          type="button"
          disabled={pending !== undefined}
          onClick={() => void setPaused(operation.id, !operation.paused)}
          title={operation.paused ? 'Fire on its triggers again, from now on' : 'Stop firing on its triggers'}
        >
          {operation.paused
            ? pending === 'resume'
              ? 'Resuming…'
              : 'Resume'
            : pending === 'pause'
              ? 'Pausing…'
              : 'Pause'}
        </button>
      </td>
    </tr>
  );
}

/** Saved operations: what they are, when they fire next, and buttons to run, pause and resume them. */
export function OperationsView() {
  const { operations } = useStores();
  const list = useStore(operations, (s) => s.operations);
  const problems = useStore(operations, (s) => s.problems);
  const loaded = useStore(operations, (s) => s.loaded);
  const error = useStore(operations, (s) => s.error);
  const nodePaused = useStore(operations, (s) => s.nodePaused);
  const nodeError = useStore(operations, (s) => s.nodeError);
  const { setNodePaused } = operations.getState();
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Operations</h1>
          <div className="subtitle">{loaded ? `${list.length} saved on this node` : 'Loading…'}</div>
        </div>
      </header>
      {nodePaused ? (
        <div className="banner warning" role="status">
          <span className="grow">
            <strong>The node is paused:</strong> nothing fires on its triggers. “Run now” still works.
          </span>
          <button type="button" onClick={() => void setNodePaused(false)}>
            Resume the node
          </button>
        </div>
      ) : null}
      {error === undefined && nodeError === undefined ? null : (
        <div className="banner error" role="alert">
          {error ?? nodeError}
        </div>
      )}
      <section className="card">
        {loaded && list.length === 0 ? (
          <div className="empty">
            No operations yet. Add one with <code>ultravisor ops add &lt;file&gt;</code>.
          </div>
        ) : (
          <table className="list" aria-label="Operations">
            <thead>
              <tr>
                <th>Operation</th>
                <th>Triggers</th>
                <th>Next</th>
                <th>State</th>
                <th className="num">
                  <span className="hide-narrow">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((op) => (
                <OperationRow key={op.id} operation={op} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      {problems.length === 0 ? null : (
        <section className="card">
          <div className="card-header">
            <h2>Files that did not load</h2>
          </div>
          <ul>
            {problems.map((p) => (
              <li key={p.file}>
                <code>{p.file}</code>: <span className="error-text">{p.error}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
