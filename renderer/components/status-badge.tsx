import type { RunStatus, TaskStatus } from '../../main/api/contract';

/** A run's or task's status as a coloured pill; the text is the status itself, so tests and eyes read the same word. */
export function StatusBadge({ status }: { status: RunStatus | TaskStatus }) {
  return <span className={`badge ${status}`}>{status}</span>;
}
