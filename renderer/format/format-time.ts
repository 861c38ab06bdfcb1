/** How long something took, short and readable: `850 ms`, `4.2 s`, `3 m 07 s`, `2 h 05 m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9_950) return `${(Math.round(ms / 100) / 10).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds} s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) return `${totalMinutes} m ${pad(totalSeconds % 60)} s`;
  const hours = Math.floor(totalMinutes / 60);
  if (hours < 48) return `${hours} h ${pad(totalMinutes % 60)} m`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `just now`, `5 min ago`, `in 3 h`, falling back to the date beyond a week. */
export function formatRelative(at: number, now: number): string {
  const diff = at - now;
  const abs = Math.abs(diff);
  const phrase = (n: number, unit: string): string => (diff < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`);
  if (abs < 45_000) return diff < 0 ? 'just now' : 'in a moment';
  if (abs < 60 * 60_000) return phrase(Math.max(1, Math.round(abs / 60_000)), 'min');
  if (abs < 24 * 60 * 60_000) return phrase(Math.round(abs / (60 * 60_000)), 'h');
  if (abs < 7 * 24 * 60 * 60_000) return phrase(Math.round(abs / (24 * 60 * 60_000)), 'd');
  return formatClock(at);
}

/** A local date and time, `2025-11-25 14:03:07`, the same in every locale (it is compared and copied). */
export function formatClock(at: number): string {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Milliseconds since the epoch from an ISO string or a number; undefined when absent or unreadable. */
export function toMillis(value: string | number | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
