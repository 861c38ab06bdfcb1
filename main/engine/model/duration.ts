import { z } from 'zod';

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const partPattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Parses a duration such as `250ms`, `10s`, `5m`, `1h30m` or `2d` into milliseconds.
 *
 * Returns undefined when the text is not a duration, so callers can word their own error.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  partPattern.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = partPattern.exec(trimmed); m !== null; m = partPattern.exec(trimmed)) {
    const [whole, amount, unit] = m;
    if (amount === undefined || unit === undefined) return undefined;
    total += Number(amount) * (unitMs[unit] ?? Number.NaN);
    consumed += whole.length;
  }
  if (consumed !== trimmed.length || !Number.isFinite(total)) return undefined;
  return Math.round(total);
}

/** Formats milliseconds as a short human duration (`1.2s`, `3m 4s`, `2h 5m`). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m ${Math.floor((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h ${Math.floor((ms % 3_600_000) / 60_000)}m`;
}

/** A duration in an operation file: `10s`, `5m`, `1h30m`, or a number of milliseconds. Parsed to ms. */
export const durationSchema = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value;
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}" is not a duration: use a number with a unit, e.g. 500ms, 10s, 5m, 1h30m, 2d`,
      });
      return z.NEVER;
    }
    return ms;
  });
