import type { Clock, TimerHandle } from './clock.js';

interface PendingTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to, for deterministic scheduler tests.
 *
 * {@link advance} walks time forward timer by timer, firing each at its own instant and letting
 * promises settle in between, so async work started by a timer finishes before the next one fires.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly timers = new Map<number, PendingTimer>();
  private nextId = 1;
  private seq = 0;

  constructor(start: number | string | Date) {
    this.current = new Date(start).getTime();
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.current + Math.max(0, delayMs), seq: this.seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** How many timers are armed (the scheduler should hold at most one, plus debounce timers). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  /** Moves time forward to an instant (ISO string or epoch ms), firing due timers in order. */
  async advanceTo(target: number | string | Date): Promise<void> {
    const end = new Date(target).getTime();
    for (;;) {
      await settle();
      const due = this.earliest();
      if (due === undefined || due.at > end) break;
      this.timers.delete(due.id);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = Math.max(this.current, end);
    await settle();
  }

  /**
   * Jumps the wall clock without firing timers in between, as when a machine wakes from sleep.
   *
   * Timers keep their absolute instants; the next {@link advance} fires every one now overdue.
   */
  jump(ms: number): void {
    this.current += ms;
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers.values()) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq))
        best = timer;
    }
    return best;
  }
}

/** Lets pending promise callbacks and I/O callbacks run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
