import { useNow } from '../app/clock';
import { formatClock, formatDuration, formatRelative, toMillis } from '../format/format-time';

/** A moment as "5 min ago", with the exact local time on hover. */
export function TimeAgo({ at }: { at: string | undefined }) {
  const now = useNow();
  const ms = toMillis(at);
  if (at === undefined || ms === undefined) return <span className="muted">—</span>;
  return (
    <time dateTime={at} title={formatClock(ms)}>
      {formatRelative(ms, now)}
    </time>
  );
}

/** How long something took, or has been taking so far while it runs. */
export function Duration({
  startedAt,
  durationMs,
  running,
}: {
  startedAt: string | undefined;
  durationMs: number | undefined;
  running: boolean;
}) {
  const now = useNow();
  if (durationMs !== undefined) return <span>{formatDuration(durationMs)}</span>;
  const start = toMillis(startedAt);
  if (running && start !== undefined) {
    return <span title="still running">{formatDuration(Math.max(0, now - start))}…</span>;
  }
  return <span className="muted">—</span>;
}
