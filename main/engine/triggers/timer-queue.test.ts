import { describe, expect, it } from 'vitest';
import { ManualClock } from './manual-clock.js';
import { TimerQueue, type TimerQueueEntry } from './timer-queue.js';

function setup(maxDelayMs?: number) {
  const clock = new ManualClock('2025-01-01T00:00:00Z');
  const batches: { keys: string[]; now: number }[] = [];
  let onBatch: (due: readonly TimerQueueEntry[]) => void = () => undefined;
  const queue = new TimerQueue(
    clock,
    (due, now) => {
      batches.push({ keys: due.map((e) => e.key), now });
      onBatch(due);
    },
    maxDelayMs,
  );
  return {
    clock,
    queue,
    batches,
    setOnBatch: (fn: (due: readonly TimerQueueEntry[]) => void) => (onBatch = fn),
    t0: clock.now(),
  };
}

describe('TimerQueue', () => {
  it('delivers entries in time order, due ones together in one batch', async () => {
    const { clock, queue, batches, t0 } = setup();
    queue.schedule('c', t0 + 3000);
    queue.schedule('a', t0 + 1000);
    queue.schedule('b', t0 + 1000);
    queue.schedule('d', t0 + 2000);
    await clock.advance(3000);
    expect(batches.map((b) => b.keys.sort())).toEqual([['a', 'b'], ['d'], ['c']]);
    expect(batches.map((b) => b.now - t0)).toEqual([1000, 2000, 3000]);
  });

  it('keeps one clock timer for any number of entries', () => {
    const { clock, queue, t0 } = setup();
    for (let i = 0; i < 1000; i++) queue.schedule(`k${i}`, t0 + 1000 + ((i * 7919) % 5000));
    expect(clock.pendingTimers).toBe(1);
    expect(queue.size).toBe(1000);
  });

  it('re-schedules a key instead of adding it twice, and cancels', async () => {
    const { clock, queue, batches, t0 } = setup();
    queue.schedule('a', t0 + 5000);
    queue.schedule('a', t0 + 1000);
    queue.schedule('b', t0 + 2000);
    expect(queue.cancel('b')).toBe(true);
    expect(queue.cancel('b')).toBe(false);
    await clock.advance(10_000);
    expect(batches.map((b) => b.keys)).toEqual([['a']]);
  });

  it('lets the batch callback schedule again and arms once afterwards', async () => {
    const { clock, queue, batches, setOnBatch, t0 } = setup();
    setOnBatch((due) => {
      for (const e of due) queue.schedule(e.key, e.at + 1000);
    });
    queue.schedule('a', t0 + 1000);
    queue.schedule('b', t0 + 1000);
    await clock.advance(3000);
    expect(batches).toHaveLength(3);
    expect(clock.pendingTimers).toBe(1);
  });

  it('clamps long delays and re-arms until the entry is due', async () => {
    const { clock, queue, batches, t0 } = setup(10_000);
    queue.schedule('far', t0 + 35_000);
    await clock.advance(30_000);
    expect(batches).toHaveLength(0);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(5000);
    expect(batches.map((b) => b.now - t0)).toEqual([35_000]);
  });

  it('delivers overdue entries at once after the clock jumps (sleep)', async () => {
    const { clock, queue, batches, t0 } = setup();
    queue.schedule('a', t0 + 1000);
    queue.schedule('b', t0 + 60_000);
    clock.jump(3_600_000);
    await clock.advance(0);
    expect(batches.map((b) => b.keys.sort())).toEqual([['a', 'b']]);
  });

  it('stops: disarms and forgets everything', async () => {
    const { clock, queue, batches, t0 } = setup();
    queue.schedule('a', t0 + 1000);
    queue.stop();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(5000);
    expect(batches).toHaveLength(0);
  });

  it('reports entries in order and the time of a key', () => {
    const { queue, t0 } = setup();
    queue.schedule('b', t0 + 2);
    queue.schedule('a', t0 + 1);
    expect(queue.entries().map((e) => e.key)).toEqual(['a', 'b']);
    expect(queue.timeOf('b')).toBe(t0 + 2);
    expect(queue.timeOf('zz')).toBeUndefined();
  });

  it('keeps heap order under random schedule, re-schedule and cancel', async () => {
    const { clock, queue, batches, t0 } = setup();
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const expected = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const key = `k${Math.floor(random() * 300)}`;
      if (random() < 0.2) {
        queue.cancel(key);
        expected.delete(key);
      } else {
        const time = t0 + 1 + Math.floor(random() * 100_000);
        queue.schedule(key, time);
        expected.set(key, time);
      }
    }
    await clock.advance(100_001);
    const delivered = batches.flatMap((b) => b.keys.map((key) => ({ key, now: b.now })));
    expect(delivered).toHaveLength(expected.size);
    for (const { key, now } of delivered) expect(now).toBe(expected.get(key));
  });
});
