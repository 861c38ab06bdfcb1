import { useEffect, useMemo, useRef, useState } from 'react';
import { useStore } from 'zustand';
import { useStores } from '../app/stores-context';
import { formatBytes, logSegments } from '../format/log-segments';
import { formatDuration } from '../format/format-time';
import { logKeyString, type LogKey } from '../stores/logs-store';

/** What the manifest says of a successful execution that printed nothing (it has no log file). */
export interface QuietExecution {
  command?: string;
  exitCode?: number;
  durationMs?: number;
}

/**
 * One task execution's log, read from the start (or the tail of a long one) and followed live.
 *
 * Sticks to the bottom while the reader is at the bottom; scrolling up stops following until they
 * come back down. For a quiet success, which writes no log file, it shows what the log would have
 * said from the manifest.
 */
export function LogViewer({ logKey, quiet }: { logKey: LogKey; quiet?: QuietExecution | undefined }) {
  const { logs } = useStores();
  const { runId, taskId, index } = logKey;
  const id = logKeyString(logKey);
  const view = useStore(logs, (s) => s.logs[id]);
  const pre = useRef<HTMLPreElement>(null);
  const [stick, setStick] = useState(true);

  useEffect(() => logs.getState().open({ runId, taskId, index }), [logs, runId, taskId, index]);

  const text = view?.text ?? '';
  const segments = useMemo(() => logSegments(text), [text]);

  useEffect(() => {
    const el = pre.current;
    if (el !== null && stick) el.scrollTop = el.scrollHeight;
  }, [text, stick]);

  const status =
    view === undefined || view.loading
      ? 'Loading…'
      : view.live
        ? 'Following live output'
        : view.size === 0
          ? 'No output'
          : `Complete · ${formatBytes(view.size)}`;

  return (
    <>
      <div
        className="log-toolbar"
        data-log-state={view?.loading === false ? (view.live ? 'live' : 'done') : 'loading'}
      >
        {view?.live === true && !view.loading ? <span className="badge running">live</span> : null}
        <span>{status}</span>
        {view !== undefined && view.omittedBytes > 0 ? (
          <span title="Only the end of a long log is shown">
            · first {formatBytes(view.omittedBytes)} not shown
          </span>
        ) : null}
        {!stick && view?.live === true ? (
          <button type="button" onClick={() => setStick(true)}>
            Follow
          </button>
        ) : null}
      </div>
      {view?.error === undefined ? null : (
        <div className="banner error" role="alert">
          {view.error}
        </div>
      )}
      <pre
        ref={pre}
        className="log"
        aria-label={`Log of ${taskId}`}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          if (atBottom !== stick) setStick(atBottom);
        }}
      >
        {segments.length === 0 && view?.loading === false ? (
          <>
            {quiet?.command === undefined ? null : <span className="note">{`» $ ${quiet.command}\n`}</span>}
            <span className="note">(no output)</span>
            {quiet?.exitCode === undefined ? null : (
              <span className="note">
                {`\n» exited with code ${quiet.exitCode}${quiet.durationMs === undefined ? '' : ` after ${formatDuration(quiet.durationMs)}`}`}
              </span>
            )}
          </>
        ) : null}
        {segments.map((s, i) =>
          s.kind === 'note' ? (
            <span key={i} className="note">
              {s.text}
            </span>
          ) : (
            <span key={i}>{s.text}</span>
          ),
        )}
      </pre>
    </>
  );
}
