/** A run of log text: plain output, or lines the engine itself wrote (they start with `» `). */
export interface LogSegment {
  kind: 'output' | 'note';
  text: string;
}

/**
 * Splits log text into segments so engine notes (attempt numbers, retries, timeouts) can be told
 * apart from the task's own output, while consecutive output lines stay one text node (a log of
 * thousands of lines renders as a handful of nodes, not thousands).
 */
export function logSegments(text: string): LogSegment[] {
  const segments: LogSegment[] = [];
  let start = 0;
  let kind: LogSegment['kind'] | undefined;
  let pos = 0;
  while (pos < text.length) {
    const newline = text.indexOf('\n', pos);
    const end = newline === -1 ? text.length : newline + 1;
    const lineKind: LogSegment['kind'] = text.startsWith('» ', pos) ? 'note' : 'output';
    if (kind !== undefined && lineKind !== kind) {
      segments.push({ kind, text: text.slice(start, pos) });
      start = pos;
    }
    kind = lineKind;
    pos = end;
  }
  if (kind !== undefined && start < text.length) segments.push({ kind, text: text.slice(start) });
  return segments;
}

/** A byte count as `812 B`, `4.1 KiB`, `2.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit] ?? 'TiB'}`;
}
