import { maxTimerDelayMs, type Clock, type TimerHandle } from './clock.js';

interface Entry {
  key: string;
  at: number;
}

/**
 * One timer for many keys: a min-heap of (key, time) with a single clock timer armed for the earliest.
 *
 * Each key is in the heap at most once, so re-scheduling a key replaces its time. When the timer
 * fires, every entry that is due is popped and handed to `onDue` in one batch, earliest first; the
 * owner dispatches them all and only then schedules the keys again, so next-time computation never
 * delays a firing. Delays longer than `setTimeout` allows are clamped and the timer re-armed.
 */
export class TimerQueue {
  private readonly heap: Entry[] = [];
  private readonly index = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private armedFor: number | undefined;
  private stopped = false;
  private batching = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (due: readonly Entry[], now: number) => void,
    private readonly maxDelayMs: number = maxTimerDelayMs,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** The time a key is scheduled for, if it is. */
  timeOf(key: string): number | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.heap[i]?.at;
  }

  /** Schedules (or re-schedules) a key. */
  schedule(key: string, at: number): void {
    const i = this.index.get(key);
    if (i === undefined) {
      this.heap.push({ key, at });
      this.index.set(key, this.heap.length - 1);
      this.up(this.heap.length - 1);
    } else {
      const entry = this.heap[i];
      if (entry === undefined) return;
      const earlier = at < entry.at;
      entry.at = at;
      if (earlier) this.up(i);
      else this.down(i);
    }
    this.arm();
  }

  /** Removes a key; false when it was not scheduled. */
  cancel(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    this.removeAt(i);
    this.arm();
    return true;
  }

  /** Disarms the timer and forgets every entry. */
  stop(): void {
    this.stopped = true;
    this.disarm();
    this.heap.length = 0;
    this.index.clear();
  }

  /** Arms the timer again after {@link stop}. */
  resume(): void {
    this.stopped = false;
    this.arm();
  }

  /** Every scheduled key and time, earliest first (a copy; for status and tests). */
  entries(): Entry[] {
    return [...this.heap].sort((a, b) => a.at - b.at).map((e) => ({ ...e }));
  }

  /** Pops and delivers everything due at `now`; runs from the timer, and directly in tests. */
  runDue(): void {
    this.disarm();
    if (this.stopped) return;
    const now = this.clock.now();
    const due: Entry[] = [];
    for (let top = this.heap[0]; top !== undefined && top.at <= now; top = this.heap[0]) {
      due.push(top);
      this.removeAt(0);
    }
    if (due.length > 0) {
      // Keys re-scheduled inside onDue must not re-arm one by one: arm once at the end.
      this.batching = true;
      try {
        this.onDue(due, now);
      } finally {
        this.batching = false;
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped || this.batching) return;
    const top = this.heap[0];
    if (top === undefined) {
      this.disarm();
      return;
    }
    if (this.timer !== undefined && this.armedFor === top.at) return;
    this.disarm();
    const delay = Math.min(Math.max(0, top.at - this.clock.now()), this.maxDelayMs);
    this.armedFor = top.at;
    this.timer = this.clock.setTimer(() => {
      this.runDue();
    }, delay);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }

  private removeAt(i: number): void {
    const last = this.heap.pop();
    const removed = this.heap[i];
    if (last === undefined) return;
    if (removed === undefined) {
      // `i` was the last slot.
      this.index.delete(last.key);
      return;
    }
    this.index.delete(removed.key);
    this.heap[i] = last;
    this.index.set(last.key, i);
    this.down(i);
    this.up(i);
  }

  private up(i: number): void {
    const heap = this.heap;
    let child = i;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      const a = heap[child];
      const b = heap[parent];
      if (a === undefined || b === undefined || b.at <= a.at) break;
      this.swap(child, parent);
      child = parent;
    }
  }

  private down(i: number): void {
    const heap = this.heap;
    let parent = i;
    for (;;) {
      const left = 2 * parent + 1;
      const right = left + 1;
      let smallest = parent;
      if ((heap[left]?.at ?? Infinity) < (heap[smallest]?.at ?? Infinity)) smallest = left;
      if ((heap[right]?.at ?? Infinity) < (heap[smallest]?.at ?? Infinity)) smallest = right;
      if (smallest === parent) return;
      this.swap(parent, smallest);
      parent = smallest;
    }
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i];
    const b = this.heap[j];
    if (a === undefined || b === undefined) return;
    this.heap[i] = b;
    this.heap[j] = a;
    this.index.set(b.key, i);
    this.index.set(a.key, j);
  }
}

export type { Entry as TimerQueueEntry };
