/** An opaque handle for a timer armed through a {@link Clock}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * Wall-clock time and one-shot timers, behind an interface so tests can drive time.
 *
 * The scheduler reads `now()` for every due and fire time and arms at most one timer at a time, so
 * a manual clock makes cron math, DST and missed-run tests deterministic.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `delayMs` (clamped to what the platform allows). */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The longest delay `setTimeout` accepts; longer ones fire at once, so we clamp and re-arm. */
export const maxTimerDelayMs = 2 ** 31 - 1;

/** The real clock: `Date.now()` and `setTimeout`. */
export function systemClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => Date.now(),
    setTimer(fn, delayMs) {
      const id = next++;
      const timer = setTimeout(
        () => {
          timers.delete(id);
          fn();
        },
        Math.min(Math.max(0, delayMs), maxTimerDelayMs),
      );
      timers.set(id, timer);
      return { id };
    },
    clearTimer(handle) {
      const timer = timers.get(handle.id);
      if (timer !== undefined) clearTimeout(timer);
      timers.delete(handle.id);
    },
  };
}
