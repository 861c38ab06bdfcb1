import { Cron } from 'croner';
import type { TriggerSpec } from '../model/trigger-spec.js';

/** The triggers that fire at computed instants: cron schedules, intervals and times of day. */
export type TimedTriggerSpec = Extract<TriggerSpec, { kind: 'schedule' | 'every' | 'at' }>;

/**
 * When a timed trigger fires: the calendar math for one trigger, compiled once.
 *
 * Croner does cron, time zones and DST; `every` is plain arithmetic aligned to the epoch.
 */
export interface FireRule {
  /** The first fire time strictly after `after` (epoch ms), or undefined when there is none. */
  next(after: number): number | undefined;
  /** Up to `n` fire times strictly before `before`, latest first. */
  previous(before: number, n: number): number[];
  /** Human description, e.g. `cron "0 17 * * MON-FRI" (Europe/Oslo)`. */
  describe(): string;
}

export function isTimedTrigger(spec: TriggerSpec): spec is TimedTriggerSpec {
  return spec.kind === 'schedule' || spec.kind === 'every' || spec.kind === 'at';
}

const dayNumbers: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** The 6-field cron pattern for `at: "HH:MM[:SS]"` with optional `days`. */
export function atToCron(at: string, days: readonly string[] | undefined): string {
  const [h = '0', m = '0', s = '0'] = at.split(':');
  const dow =
    days === undefined || days.length === 0
      ? '*'
      : [...new Set(days.map((d) => dayNumbers[d] ?? 0))].sort((a, b) => a - b).join(',');
  return `${Number(s)} ${Number(m)} ${Number(h)} * * ${dow}`;
}

/** Compiled patterns shared by every trigger that uses them, held weakly so unused ones are collected. */
const cronCache = new Map<string, WeakRef<Cron>>();
const cronCleanup = new FinalizationRegistry<string>((key) => {
  if (cronCache.get(key)?.deref() === undefined) cronCache.delete(key);
});

/**
 * A paused croner job for a pattern and time zone, shared.
 *
 * A compiled pattern costs about 80 KB (croner keeps a table per field, years included); a thousand
 * operations on `* * * * * *` need one, not a thousand. A paused job never runs, and `nextRun(date)`
 * and `previousRuns(n, date)` depend only on their arguments, so sharing is safe.
 */
function sharedCron(pattern: string, timezone: string | undefined): Cron {
  const key = `${timezone ?? ''}\u0000${pattern}`;
  const cached = cronCache.get(key)?.deref();
  if (cached !== undefined) return cached;
  const cron = new Cron(pattern, { paused: true, ...(timezone === undefined ? {} : { timezone }) });
  cronCache.set(key, new WeakRef(cron));
  cronCleanup.register(cron, key);
  return cron;
}

function cronRule(pattern: string, timezone: string | undefined, label: string): FireRule {
  const cron = sharedCron(pattern, timezone);
  return {
    next(after) {
      // Croner works in whole seconds and returns the first match strictly after the reference.
      return cron.nextRun(new Date(after))?.getTime() ?? undefined;
    },
    previous: (before, n) => cron.previousRuns(n, new Date(before)).map((d) => d.getTime()),
    describe: () => `${label}${timezone === undefined ? '' : ` (${timezone})`}`,
  };
}

/** The first `offset + k·every` (epoch-aligned) strictly after `after`. */
export function nextInterval(after: number, every: number, offset = 0): number {
  return Math.floor((after - offset) / every) * every + offset + every;
}

/** Compiles a timed trigger into its {@link FireRule}. */
export function fireRule(spec: TimedTriggerSpec): FireRule {
  switch (spec.kind) {
    case 'schedule':
      return cronRule(spec.schedule.trim(), spec.timezone, `cron "${spec.schedule.trim()}"`);
    case 'at':
      return cronRule(
        atToCron(spec.at, spec.days),
        spec.timezone,
        `at ${spec.at}${spec.days === undefined ? ' daily' : ` on ${spec.days.join(', ')}`}`,
      );
    case 'every': {
      const offset = spec.offset ?? 0;
      return {
        next: (after) => nextInterval(after, spec.every, offset),
        previous(before, n) {
          const out: number[] = [];
          for (
            let t = nextInterval(before - 1, spec.every, offset) - spec.every;
            out.length < n;
            t -= spec.every
          ) {
            out.push(t);
          }
          return out;
        },
        describe: () =>
          `every ${formatInterval(spec.every)}${offset === 0 ? '' : ` + ${formatInterval(offset)}`}`,
      };
    }
    default:
      return spec satisfies never;
  }
}

/** The fire times in a window, capped: what a restart or a clock jump skipped over. */
export interface MissedTimes {
  /** The latest missed fire times, oldest first, at most the cap. */
  times: number[];
  /** True when more fire times were missed than `times` holds. */
  more: boolean;
}

/**
 * The fire times in `(after, until]`, the latest `cap` of them.
 *
 * Walks backwards from `until`, so a daily trigger missed for years or a per-second one missed for
 * a week costs `cap` steps, not one per missed time.
 */
export function missedTimes(rule: FireRule, after: number, until: number, cap: number): MissedTimes {
  if (until <= after) return { times: [], more: false };
  const latest = rule.previous(until + 1, cap + 1).filter((t) => t > after);
  const more = latest.length > cap;
  return { times: latest.slice(0, cap).reverse(), more };
}

/** A whole-unit interval as written in operation files: `5m`, `1h`, `1500ms`. */
export function formatInterval(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
