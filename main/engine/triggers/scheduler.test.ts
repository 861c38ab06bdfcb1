import { afterEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../model/manifest.js';
import type { RunEvent } from '../runner/run-events.js';
import type { CheckOutcome, CheckRunner } from './condition-checks.js';
import { noPause, scheduledOp, SchedulerHarness } from './scheduler-test-harness.js';
import type { WatchEvent, WatchFactory } from './watch-source.js';

const harnesses: SchedulerHarness[] = [];

async function harness(
  options: Parameters<typeof SchedulerHarness.create>[0] = {},
): Promise<SchedulerHarness> {
  const h = await SchedulerHarness.create(options);
  harnesses.push(h);
  return h;
}

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.cleanup()));
});

const iso = (s: string): string => new Date(s).toISOString();

describe('timed triggers', () => {
  it('fires a 1-second schedule every second, on time, and records the trigger', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: tick\ntriggers: [{ schedule: "* * * * * *" }]')], noPause);
    await h.clock.advance(3000);
    expect(h.dueTimes('tick')).toEqual([
      iso('2025-01-01T00:00:01Z'),
      iso('2025-01-01T00:00:02Z'),
      iso('2025-01-01T00:00:03Z'),
    ]);
    const first = h.runsOf('tick')[0];
    expect(first?.trigger).toEqual({
      kind: 'schedule',
      id: 'schedule-1',
      dueAt: iso('2025-01-01T00:00:01Z'),
      firedAt: iso('2025-01-01T00:00:01Z'),
      latenessMs: 0,
    });
  });

  it('arms one clock timer for a thousand triggers', async () => {
    const h = await harness();
    const ops = Array.from({ length: 1000 }, (_, i) =>
      scheduledOp(`id: op-${i}\ntriggers: [{ every: ${1 + (i % 7)}s }]`),
    );
    h.scheduler.start(ops, noPause);
    expect(h.clock.pendingTimers).toBe(1);
    await h.clock.advance(7000);
    expect(h.clock.pendingTimers).toBe(1);
    // op-0 every 1s: 7 firings; op-6 every 7s: 1.
    expect(h.runsOf('op-0')).toHaveLength(7);
    expect(h.runsOf('op-6')).toHaveLength(1);
  });

  it('passes trigger params to the run', async () => {
    const h = await harness();
    h.scheduler.start(
      [scheduledOp('id: p\nparams: { who: {} }\ntriggers: [{ every: 1s, params: { who: cron } }]')],
      noPause,
    );
    await h.clock.advance(1000);
    expect(h.runsOf('p')[0]?.params).toEqual({ who: 'cron' });
  });

  it('aligns every + offset to the epoch', async () => {
    const h = await harness({ start: '2025-01-01T10:03:27Z' });
    h.scheduler.start([scheduledOp('id: e\ntriggers: [{ every: 5m, offset: 30s }]')], noPause);
    await h.clock.advanceTo('2025-01-01T10:16:00Z');
    expect(h.dueTimes('e')).toEqual([
      iso('2025-01-01T10:05:30Z'),
      iso('2025-01-01T10:10:30Z'),
      iso('2025-01-01T10:15:30Z'),
    ]);
  });

  it('fires `at` only on its days', async () => {
    // 2025-01-01 is a Wednesday.
    const h = await harness({ start: '2025-01-01T00:00:00Z' });
    h.scheduler.start(
      [scheduledOp('id: a\ntriggers: [{ at: "17:00", days: [mon, fri], timezone: UTC }]')],
      noPause,
    );
    await h.clock.advanceTo('2025-01-08T00:00:00Z');
    expect(h.dueTimes('a')).toEqual([iso('2025-01-03T17:00:00Z'), iso('2025-01-06T17:00:00Z')]);
  });

  it('runs a 02:30 job once on spring-forward and once on fall-back days', async () => {
    const h = await harness({ start: '2025-03-29T12:00:00Z' });
    const job = scheduledOp('id: dst\ntriggers: [{ schedule: "30 2 * * *", timezone: Europe/Oslo }]');
    h.scheduler.start([job], noPause);
    await h.clock.advanceTo('2025-03-31T12:00:00Z');
    expect(h.dueTimes('dst')).toEqual([iso('2025-03-30T01:00:00Z'), iso('2025-03-31T00:30:00Z')]);

    const fall = await harness({ start: '2025-10-25T12:00:00Z' });
    fall.scheduler.start([job], noPause);
    await fall.clock.advanceTo('2025-10-27T12:00:00Z');
    expect(fall.dueTimes('dst')).toEqual([iso('2025-10-26T00:30:00Z'), iso('2025-10-27T01:30:00Z')]);
  });

  it('runs an every-30-minutes job on both passes of the repeated hour at fall-back', async () => {
    const h = await harness({ start: '2025-10-25T23:45:00Z' });
    h.scheduler.start(
      [scheduledOp('id: half\ntriggers: [{ schedule: "*/30 * * * *", timezone: Europe/Oslo }]')],
      noPause,
    );
    await h.clock.advanceTo('2025-10-26T02:10:00Z');
    // 02:00 and 02:30 local happen twice (00:00Z/00:30Z in summer time, 01:00Z/01:30Z after).
    expect(h.dueTimes('half')).toEqual([
      iso('2025-10-26T00:00:00Z'),
      iso('2025-10-26T00:30:00Z'),
      iso('2025-10-26T01:00:00Z'),
      iso('2025-10-26T01:30:00Z'),
      iso('2025-10-26T02:00:00Z'),
    ]);
  });

  it('ignores disabled triggers', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: d\ntriggers: [{ every: 1s, enabled: false }]')], noPause);
    await h.clock.advance(5000);
    expect(h.runsOf('d')).toHaveLength(0);
  });

  it('counts a run that cannot start as an error of the trigger', async () => {
    const h = await harness();
    h.failLaunches('param "x" is required');
    h.scheduler.start([scheduledOp('id: f\ntriggers: [{ every: 1s }]')], noPause);
    await h.clock.advance(2000);
    const status = h.scheduler.status().operations[0]?.triggers[0];
    expect(status?.errors).toBe(2);
    expect(status?.lastError).toMatch(/param "x" is required/);
    expect(h.eventsOf('error')).toHaveLength(2);
  });
});

describe('missed runs across a restart', () => {
  const policies = (missed: string) => scheduledOp(`id: m\ntriggers: [{ every: 1m, missed: ${missed} }]`);

  async function downFor(missed: string, downMs: number, missedCap?: number) {
    const h = await harness(missedCap === undefined ? {} : { missedCap });
    const ops = [policies(missed)];
    h.scheduler.start(ops, noPause);
    await h.clock.advance(2 * 60_000); // fires at 00:01 and 00:02
    await h.scheduler.idle();
    h.clock.jump(downMs); // the daemon is down; nothing fires
    await h.restart(ops);
    await h.clock.advance(0);
    await h.scheduler.idle();
    return h;
  }

  it('once (default): one catch-up run for the latest missed time', async () => {
    const h = await downFor('once', 5 * 60_000 + 30_000); // down 00:02 → 00:07:30, missed 00:03..00:07
    const runs = h.runsOf('m');
    expect(runs).toHaveLength(3);
    expect(runs[2]?.trigger.dueAt).toBe(iso('2025-01-01T00:07:00Z'));
    expect(runs[2]?.trigger.latenessMs).toBe(30_000);
    expect(runs[2]?.trigger.detail).toMatchObject({
      catchUp: true,
      missed: 5,
      missedFrom: iso('2025-01-01T00:03:00Z'),
    });
    // And then back on schedule.
    await h.clock.advance(60_000);
    expect(h.dueTimes('m').at(-1)).toBe(iso('2025-01-01T00:08:00Z'));
  });

  it('skip: no catch-up, back on schedule', async () => {
    const h = await downFor('skip', 5 * 60_000 + 30_000);
    expect(h.runsOf('m')).toHaveLength(2);
    expect(h.eventsOf('skipped')[0]).toMatchObject({ count: 5 });
    await h.clock.advance(60_000);
    expect(h.runsOf('m')).toHaveLength(3);
  });

  it('all: one run per missed time, oldest first, one after another', async () => {
    const h = await downFor('all', 5 * 60_000 + 30_000);
    expect(h.dueTimes('m').slice(2)).toEqual([
      iso('2025-01-01T00:03:00Z'),
      iso('2025-01-01T00:04:00Z'),
      iso('2025-01-01T00:05:00Z'),
      iso('2025-01-01T00:06:00Z'),
      iso('2025-01-01T00:07:00Z'),
    ]);
  });

  it('all: capped, keeping the latest', async () => {
    const h = await downFor('all', 60 * 60_000, 10);
    const catchUps = h.runsOf('m').slice(2);
    expect(catchUps).toHaveLength(10);
    expect(catchUps.at(-1)?.trigger.dueAt).toBe(iso('2025-01-01T01:02:00Z'));
    expect(catchUps[0]?.trigger.detail).toMatchObject({ missedMore: true });
  });

  it('nothing is missed when the daemon comes back before the next fire time', async () => {
    const h = await downFor('once', 30_000);
    expect(h.runsOf('m')).toHaveLength(2);
  });

  it('an edited trigger (new timing) starts afresh instead of catching up', async () => {
    const h = await harness();
    h.scheduler.start([policies('once')], noPause);
    await h.clock.advance(60_000);
    await h.scheduler.idle();
    h.clock.jump(10 * 60_000);
    await h.restart([scheduledOp('id: m\ntriggers: [{ every: 2m }]')]);
    await h.clock.advance(0);
    expect(h.runsOf('m')).toHaveLength(1);
  });

  it('a trigger that never fired still knows when it was armed', async () => {
    const h = await harness();
    const ops = [scheduledOp('id: daily\ntriggers: [{ at: "12:00", timezone: UTC }]')];
    h.scheduler.start(ops, noPause);
    await h.scheduler.idle();
    h.clock.jump(13 * 3_600_000);
    await h.restart(ops);
    await h.clock.advance(0);
    expect(h.dueTimes('daily')).toEqual([iso('2025-01-01T12:00:00Z')]);
  });
});

describe('missed runs while running (sleep, clock jump)', () => {
  it('applies the missed policy instead of firing every missed time', async () => {
    const h = await harness();
    h.scheduler.start(
      [
        scheduledOp('id: once\ntriggers: [{ every: 1m }]'),
        scheduledOp('id: skip\ntriggers: [{ every: 1m, missed: skip }]'),
        scheduledOp('id: all\ntriggers: [{ every: 1m, missed: all }]'),
      ],
      noPause,
    );
    await h.clock.advance(60_000);
    h.clock.jump(10 * 60_000 + 5000); // asleep from 00:01:00 to 00:11:05
    await h.clock.advance(0);
    expect(h.runsOf('once')).toHaveLength(2);
    expect(h.runsOf('once')[1]?.trigger.dueAt).toBe(iso('2025-01-01T00:11:00Z'));
    expect(h.runsOf('skip')).toHaveLength(1);
    expect(h.runsOf('all')).toHaveLength(11);
    await h.clock.advance(55_000);
    expect(h.dueTimes('once').at(-1)).toBe(iso('2025-01-01T00:12:00Z'));
    expect(h.dueTimes('skip').at(-1)).toBe(iso('2025-01-01T00:12:00Z'));
  });

  it('fires a late trigger normally when it did not fall a whole period behind', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: late\ntriggers: [{ every: 10s }]')], noPause);
    h.clock.jump(10_000 + 300);
    await h.clock.advance(0);
    expect(h.runsOf('late')[0]?.trigger).toMatchObject({ latenessMs: 300 });
    expect(h.runsOf('late')[0]?.trigger.detail).toBeUndefined();
  });
});

describe('overlap', () => {
  async function busy(overlap: string) {
    const h = await harness({ autoFinish: false });
    h.scheduler.start(
      [scheduledOp(`id: o\noverlap: ${overlap}\nmaxParallel: 2\ntriggers: [{ every: 1s }]`)],
      noPause,
    );
    await h.clock.advance(3000);
    return h;
  }

  it('skip (default): no second run while one is going', async () => {
    const h = await busy('skip');
    expect(h.runsOf('o')).toHaveLength(1);
    expect(h.eventsOf('skipped')).toHaveLength(2);
    h.runsOf('o')[0]?.finish();
    await h.clock.advance(1000);
    expect(h.runsOf('o')).toHaveLength(2);
  });

  it('queue: one pending firing starts when the run ends', async () => {
    const h = await busy('queue');
    expect(h.runsOf('o')).toHaveLength(1);
    expect(h.eventsOf('queued')).toHaveLength(1);
    expect(h.eventsOf('skipped')).toHaveLength(1);
    h.runsOf('o')[0]?.finish();
    await h.clock.advance(0);
    const runs = h.runsOf('o');
    expect(runs).toHaveLength(2);
    // The queued firing keeps its due time; its lateness is the wait.
    expect(runs[1]?.trigger).toMatchObject({ dueAt: iso('2025-01-01T00:00:02Z'), latenessMs: 1000 });
  });

  it('parallel: up to maxParallel at once', async () => {
    const h = await busy('parallel');
    expect(h.runsOf('o')).toHaveLength(2);
    expect(h.eventsOf('skipped')).toHaveLength(1);
  });

  it('manual firings bypass the policy', async () => {
    const h = await busy('skip');
    const outcome = h.scheduler.fireManual('o', {});
    expect(outcome.type).toBe('started');
    expect(h.runsOf('o')).toHaveLength(2);
    expect(h.runsOf('o')[1]?.trigger).toMatchObject({ kind: 'manual', id: 'manual' });
  });

  it('missed: all catch-ups run one at a time', async () => {
    const h = await harness({ autoFinish: false });
    const ops = [scheduledOp('id: o\ntriggers: [{ every: 1m, missed: all }]')];
    h.scheduler.start(ops, noPause);
    await h.scheduler.idle();
    h.clock.jump(3 * 60_000 + 1000);
    await h.restart(ops);
    await h.clock.advance(0);
    expect(h.runsOf('o')).toHaveLength(1);
    h.runsOf('o')[0]?.finish();
    await h.clock.advance(0);
    expect(h.runsOf('o')).toHaveLength(2);
    h.runsOf('o')[1]?.finish();
    await h.clock.advance(0);
    expect(h.dueTimes('o')).toEqual([
      iso('2025-01-01T00:01:00Z'),
      iso('2025-01-01T00:02:00Z'),
      iso('2025-01-01T00:03:00Z'),
    ]);
  });
});

describe('pause and resume', () => {
  it('a paused operation does not fire, and resuming does not catch up', async () => {
    const h = await harness();
    h.scheduler.start(
      [scheduledOp('id: p\ntriggers: [{ every: 1s }]'), scheduledOp('id: q\ntriggers: [{ every: 1s }]')],
      noPause,
    );
    await h.clock.advance(2000);
    h.scheduler.setPause({ paused: false, pausedOperations: new Set(['p']) });
    await h.clock.advance(5000);
    expect(h.runsOf('p')).toHaveLength(2);
    expect(h.runsOf('q')).toHaveLength(7);
    h.scheduler.setPause(noPause);
    await h.clock.advance(1000);
    expect(h.dueTimes('p')).toEqual([
      iso('2025-01-01T00:00:01Z'),
      iso('2025-01-01T00:00:02Z'),
      iso('2025-01-01T00:00:08Z'),
    ]);
  });

  it('pausing the node stops everything; its pause survives a restart', async () => {
    const h = await harness();
    const ops = [scheduledOp('id: p\ntriggers: [{ every: 1s }]')];
    h.scheduler.start(ops, noPause);
    await h.clock.advance(1000);
    const paused = { paused: true, pausedOperations: new Set<string>() };
    h.scheduler.setPause(paused);
    expect(h.clock.pendingTimers).toBe(0);
    await h.clock.advance(5000);
    await h.restart(ops, paused);
    await h.clock.advance(5000);
    expect(h.runsOf('p')).toHaveLength(1);
  });

  it('manual firing works while paused', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: p\ntriggers: [{ every: 1s }]')], {
      paused: false,
      pausedOperations: new Set(['p']),
    });
    expect(h.scheduler.fireManual('p').type).toBe('started');
  });
});

describe('editing operations', () => {
  it('an edit that keeps the timing neither loses nor repeats a firing', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: e\ntriggers: [{ every: 1s }]')], noPause);
    for (let i = 0; i < 20; i++) {
      // Edit at every phase: mid-interval, and exactly at the due instant before the timer ran.
      h.clock.jump(i % 2 === 0 ? 400 : 600);
      h.scheduler.setOperation(
        scheduledOp(`id: e\ndescription: version ${i}\ntriggers: [{ every: 1s, params: {} }]`),
      );
      await h.clock.advance(0);
    }
    await h.clock.advance(0);
    const due = h.dueTimes('e');
    expect(due).toHaveLength(10);
    expect(new Set(due).size).toBe(10);
    expect(due.at(-1)).toBe(iso('2025-01-01T00:00:10Z'));
  });

  it('an edit at the very instant a firing is due keeps that firing', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: e\ntriggers: [{ every: 1s }]')], noPause);
    h.clock.jump(1000); // due now; the timer has not run yet
    h.scheduler.setOperation(scheduledOp('id: e\nname: edited\ntriggers: [{ every: 1s }]'));
    await h.clock.advance(1000);
    expect(h.dueTimes('e')).toEqual([iso('2025-01-01T00:00:01Z'), iso('2025-01-01T00:00:02Z')]);
  });

  it('a changed timing re-arms from now, once', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: e\ntriggers: [{ every: 2s }]')], noPause);
    await h.clock.advance(2500);
    h.scheduler.setOperation(scheduledOp('id: e\ntriggers: [{ every: 3s }]'));
    h.scheduler.setOperation(scheduledOp('id: e\ntriggers: [{ every: 3s }]'));
    await h.clock.advance(6500);
    expect(h.dueTimes('e')).toEqual([
      iso('2025-01-01T00:00:02Z'),
      iso('2025-01-01T00:00:03Z'),
      iso('2025-01-01T00:00:06Z'),
      iso('2025-01-01T00:00:09Z'),
    ]);
    expect(h.clock.pendingTimers).toBe(1);
  });

  it('adding and removing triggers and operations', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: e\ntriggers: [{ every: 1s }]')], noPause);
    await h.clock.advance(1000);
    // Two triggers of one operation due at once: parallel, or the second would be skipped as an overlap.
    h.scheduler.setOperation(
      scheduledOp('id: e\noverlap: parallel\ntriggers: [{ every: 1s }, { every: 2s }]'),
    );
    h.scheduler.setOperation(scheduledOp('id: f\ntriggers: [{ every: 1s }]'));
    await h.clock.advance(2000);
    expect(h.runsOf('e').map((r) => r.trigger.id)).toEqual(['every-1', 'every-1', 'every-2', 'every-1']);
    h.scheduler.setOperation(scheduledOp('id: e\ntriggers: [{ every: 2s, id: every-2 }]'));
    h.scheduler.removeOperation('f');
    await h.clock.advance(2000);
    expect(
      h
        .runsOf('e')
        .map((r) => r.trigger.id)
        .slice(4),
    ).toEqual(['every-2']);
    expect(h.runsOf('f')).toHaveLength(2);
    expect(h.cursors.keys().sort()).toEqual(['e/every-2']);
  });
});

describe('condition triggers', () => {
  /** A check whose answers the test sets; `throws` makes it fail. */
  function scriptedCheck() {
    const state = { value: false, throws: undefined as string | undefined, calls: 0 };
    const checks: CheckRunner = () => {
      state.calls++;
      if (state.throws !== undefined) return Promise.reject(new Error(state.throws));
      const outcome: CheckOutcome = { value: state.value, detail: { probe: state.calls } };
      return Promise.resolve(outcome);
    };
    return { state, checks };
  }

  const load = (extra = '') =>
    scheduledOp(`id: c\ntriggers: [{ condition: { check: load, above: 1 }, every: 10s${extra} }]`);

  it('edge: fires once when the condition turns true, again only after it was false', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    h.scheduler.start([load()], noPause);
    await h.clock.advance(20_000);
    expect(h.runsOf('c')).toHaveLength(0);
    state.value = true;
    await h.clock.advance(50_000);
    expect(h.runsOf('c')).toHaveLength(1);
    expect(h.runsOf('c')[0]?.trigger).toMatchObject({
      kind: 'condition',
      id: 'condition-1',
      detail: { mode: 'edge' },
    });
    state.value = false;
    await h.clock.advance(10_000);
    state.value = true;
    await h.clock.advance(10_000);
    expect(h.runsOf('c')).toHaveLength(2);
  });

  it('checks once at arming, then every `every`', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    state.value = true;
    h.scheduler.start([load()], noPause);
    await h.clock.advance(0);
    expect(state.calls).toBe(1);
    expect(h.runsOf('c')).toHaveLength(1);
    await h.clock.advance(30_000);
    expect(state.calls).toBe(4);
  });

  it('level: fires on every check while true, spaced by cooldown', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    state.value = true;
    h.scheduler.start([load(', mode: level, cooldown: 25s')], noPause);
    await h.clock.advance(60_000); // checks at 0, 10, ..., 60
    expect(h.runsOf('c').map((r) => r.trigger.dueAt)).toEqual([
      iso('2025-01-01T00:00:00Z'),
      iso('2025-01-01T00:00:30Z'),
      iso('2025-01-01T00:01:00Z'),
    ]);
    expect(h.events.filter((e) => e.type === 'skipped' && e.reason === 'cooldown')).toHaveLength(4);
  });

  it('level without cooldown fires every check', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    state.value = true;
    h.scheduler.start([load(', mode: level')], noPause);
    await h.clock.advance(30_000);
    expect(h.runsOf('c')).toHaveLength(4);
  });

  it('a check that errors is counted and logged, and never fires', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    state.throws = 'statfs: ENOENT';
    h.scheduler.start([load(', mode: level')], noPause);
    await h.clock.advance(30_000);
    expect(h.runsOf('c')).toHaveLength(0);
    const status = h.scheduler.status().operations[0]?.triggers[0];
    expect(status).toMatchObject({ errors: 4, checks: 0 });
    expect(status?.lastError).toMatch(/statfs: ENOENT/);
    // An error does not count as false: true right after errors is not an edge from false... unless it was false before.
    state.throws = undefined;
    state.value = true;
    await h.clock.advance(10_000);
    expect(h.runsOf('c')).toHaveLength(1);
  });

  it('remembers its last value across a restart, so it does not fire twice', async () => {
    const { state, checks } = scriptedCheck();
    const h = await harness({ checks });
    state.value = true;
    const ops = [load()];
    h.scheduler.start(ops, noPause);
    await h.clock.advance(0);
    expect(h.runsOf('c')).toHaveLength(1);
    await h.scheduler.idle();
    await h.restart(ops);
    await h.clock.advance(30_000);
    expect(h.runsOf('c')).toHaveLength(1);
  });

  it('skips a check while the previous one still runs', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const checks: CheckRunner = () => {
      calls++;
      return new Promise((resolve) => {
        release = () => resolve({ value: true, detail: {} });
      });
    };
    const h = await harness({ checks });
    h.scheduler.start(
      [scheduledOp('id: c\ntriggers: [{ condition: { check: load, above: 1 }, every: 10s }]')],
      noPause,
    );
    await h.clock.advance(10_000);
    expect(calls).toBe(1);
    expect(h.scheduler.status().operations[0]?.triggers[0]?.skipped).toBe(1);
    release();
    await h.clock.advance(0);
    expect(h.runsOf('c')).toHaveLength(1);
  });

  it('gives up on a check that hangs, as an error', async () => {
    const checks: CheckRunner = () => new Promise(() => undefined);
    const h = await harness({ checks });
    h.scheduler.start(
      [scheduledOp('id: c\ntriggers: [{ condition: { check: load, above: 1 }, every: 5s }]')],
      noPause,
    );
    await h.clock.advance(6000);
    expect(h.scheduler.status().operations[0]?.triggers[0]?.lastError).toMatch(/timed out/);
  });
});

describe('after triggers', () => {
  function manifest(
    operationId: string,
    runId: string,
    status: Manifest['status'],
    taskStatus = 'success',
  ): Manifest {
    return {
      manifestVersion: 1,
      runId,
      operation: { id: operationId },
      node: { id: 'n', name: 'n' },
      trigger: { kind: 'manual', firedAt: '2025-01-01T00:00:00.000Z' },
      params: {},
      status,
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:00.000Z',
      tasks: [
        {
          id: 'build',
          kind: 'shell',
          status: taskStatus as Manifest['tasks'][number]['status'],
          attempts: 1,
          executions: [],
          output: { n: 42 },
          endedAt: '2025-01-01T00:00:00.000Z',
        },
      ],
      outputs: { files: [{ path: 'report.csv', size: 3 }], data: [] },
      links: { run: `/runs/${runId}`, manifest: `/runs/${runId}/manifest.json`, logs: `/runs/${runId}/logs` },
      extra: {},
    };
  }

  function runOf(
    h: SchedulerHarness,
    operationId: string,
    runId: string,
    status: Manifest['status'],
    taskStatus?: string,
  ) {
    const m = manifest(operationId, runId, status, taskStatus);
    const events: RunEvent[] = [
      { type: 'run-started', runId, operationId, manifest: m },
      { type: 'task-ended', runId, taskId: 'build', status: m.tasks[0]?.status ?? 'success' },
      { type: 'run-ended', runId, operationId, status, manifest: m },
    ];
    for (const e of events) h.scheduler.handleRunEvent(e);
  }

  it('fires when the upstream run ends with the wanted status, passing it as upstream', async () => {
    const h = await harness();
    h.scheduler.start(
      [
        scheduledOp('id: up\ntriggers: []'),
        scheduledOp('id: ok\ntriggers: [{ after: { operation: up } }]'),
        scheduledOp('id: bad\ntriggers: [{ after: { operation: up, status: failure } }]'),
        scheduledOp('id: any\ntriggers: [{ after: { operation: up, status: any } }]'),
        scheduledOp('id: task\ntriggers: [{ after: { operation: up, task: build } }]'),
      ],
      noPause,
    );
    runOf(h, 'up', 'r1', 'success');
    await h.clock.advance(0); // let the first runs end, or the second firing would be an overlap
    runOf(h, 'up', 'r2', 'failure', 'failure');
    expect(h.runsOf('ok')).toHaveLength(1);
    expect(h.runsOf('bad')).toHaveLength(1);
    expect(h.runsOf('any')).toHaveLength(2);
    expect(h.runsOf('task')).toHaveLength(1);
    expect(h.runsOf('ok')[0]?.trigger).toMatchObject({
      kind: 'after',
      id: 'after-1',
      upstream: {
        runId: 'r1',
        operationId: 'up',
        status: 'success',
        outputs: { files: [{ path: 'report.csv' }] },
      },
    });
    expect(h.runsOf('task')[0]?.trigger).toMatchObject({
      upstream: { task: { id: 'build', status: 'success', output: { n: 42 } } },
    });
  });

  it('waits for an operation that does not exist yet', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: down\ntriggers: [{ after: { operation: later } }]')], noPause);
    h.scheduler.setOperation(scheduledOp('id: later\ntriggers: []'));
    runOf(h, 'later', 'r1', 'success');
    expect(h.runsOf('down')).toHaveLength(1);
  });

  it('does not fire while paused', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: down\ntriggers: [{ after: { operation: up } }]')], {
      paused: false,
      pausedOperations: new Set(['down']),
    });
    runOf(h, 'up', 'r1', 'success');
    expect(h.runsOf('down')).toHaveLength(0);
  });
});

describe('watch triggers', () => {
  function fakeWatch() {
    const listeners: ((event: WatchEvent, path: string) => void)[] = [];
    const watch: WatchFactory = (_paths, onEvent) => {
      listeners.push(onEvent);
      return { ready: Promise.resolve(), close: () => Promise.resolve() };
    };
    return { watch, emit: (event: WatchEvent, path: string) => listeners.forEach((l) => l(event, path)) };
  }

  it('coalesces a burst of changes into one firing after the debounce', async () => {
    const { watch, emit } = fakeWatch();
    const h = await harness({ watch });
    h.scheduler.start([scheduledOp('id: w\ntriggers: [{ watch: { paths: [/in], debounce: 2s } }]')], noPause);
    emit('add', '/in/a');
    await h.clock.advance(1000);
    emit('change', '/in/a');
    emit('add', '/in/b');
    await h.clock.advance(1999);
    expect(h.runsOf('w')).toHaveLength(0);
    await h.clock.advance(1);
    expect(h.runsOf('w')).toHaveLength(1);
    expect(h.runsOf('w')[0]?.trigger.detail).toEqual({
      changeCount: 3,
      changes: [
        { event: 'add', path: '/in/a' },
        { event: 'change', path: '/in/a' },
        { event: 'add', path: '/in/b' },
      ],
    });
  });

  it('filters events', async () => {
    const { watch, emit } = fakeWatch();
    const h = await harness({ watch });
    h.scheduler.start(
      [scheduledOp('id: w\ntriggers: [{ watch: { paths: [/in], debounce: 1s, events: [unlink] } }]')],
      noPause,
    );
    emit('add', '/in/a');
    await h.clock.advance(2000);
    expect(h.runsOf('w')).toHaveLength(0);
    emit('unlink', '/in/a');
    await h.clock.advance(2000);
    expect(h.runsOf('w')).toHaveLength(1);
  });
});

describe('status and upcoming', () => {
  it('lists next fire times and counters', async () => {
    const h = await harness();
    h.scheduler.start([scheduledOp('id: s\ntriggers: [{ every: 10s }, { schedule: "0 * * * *" }]')], noPause);
    await h.clock.advance(10_000);
    const status = h.scheduler.status();
    expect(
      status.operations[0]?.triggers.map((t) => [
        t.triggerId,
        t.fired,
        t.nextAt && new Date(t.nextAt).toISOString(),
      ]),
    ).toEqual([
      ['every-1', 1, iso('2025-01-01T00:00:20Z')],
      ['schedule-1', 0, iso('2025-01-01T01:00:00Z')],
    ]);
    expect(h.scheduler.upcoming('s', 3).map((u) => [u.triggerId, new Date(u.at).toISOString()])).toEqual([
      ['every-1', iso('2025-01-01T00:00:20Z')],
      ['every-1', iso('2025-01-01T00:00:30Z')],
      ['every-1', iso('2025-01-01T00:00:40Z')],
    ]);
  });
});
