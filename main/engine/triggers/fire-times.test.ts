import { describe, expect, it } from 'vitest';
import { parseOperation } from '../model/load-operation.js';
import type { TriggerSpec } from '../model/trigger-spec.js';
import {
  atToCron,
  fireRule,
  isTimedTrigger,
  missedTimes,
  nextInterval,
  type TimedTriggerSpec,
} from './fire-times.js';

/** Parses one trigger the way an operation file would. */
function trigger(yaml: string): TimedTriggerSpec {
  const indented = yaml
    .trim()
    .split('\n')
    .map((line, i) => (i === 0 ? `  - ${line}` : `    ${line}`))
    .join('\n');
  const op = parseOperation(
    `id: t\ntriggers:\n${indented}\ntasks: [{ id: x, state: { set: a, value: 1 } }]\n`,
    't.yaml',
  );
  const spec: TriggerSpec | undefined = op.triggers[0];
  if (spec === undefined || !isTimedTrigger(spec)) throw new Error('not a timed trigger');
  return spec;
}

const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();
const at = (s: string): number => Date.parse(s);

function series(spec: TimedTriggerSpec, from: string, n: number): string[] {
  const rule = fireRule(spec);
  const out: string[] = [];
  for (let t = rule.next(at(from)); t !== undefined && out.length < n; t = rule.next(t))
    out.push(iso(t) ?? '');
  return out;
}

describe('cron schedules', () => {
  it('fires on 6-field (seconds) patterns strictly after the reference', () => {
    const rule = fireRule(trigger('schedule: "*/15 * * * * *"'));
    expect(iso(rule.next(at('2025-01-01T00:00:00.000Z')))).toBe('2025-01-01T00:00:15.000Z');
    expect(iso(rule.next(at('2025-01-01T00:00:14.999Z')))).toBe('2025-01-01T00:00:15.000Z');
  });

  it('reads 5-field patterns minute first, with names and ranges', () => {
    // 2025-01-04 is a Saturday: the next weekday 17:00 is Monday the 6th.
    expect(series(trigger('schedule: "0 17 * * MON-FRI"'), '2025-01-04T00:00:00Z', 2)).toEqual([
      '2025-01-06T17:00:00.000Z',
      '2025-01-07T17:00:00.000Z',
    ]);
  });

  it('follows an IANA time zone through summer time', () => {
    const spec = trigger('schedule: "0 9 * * *"\ntimezone: Europe/Oslo');
    expect(series(spec, '2025-01-10T00:00:00Z', 1)).toEqual(['2025-01-10T08:00:00.000Z']);
    expect(series(spec, '2025-07-10T00:00:00Z', 1)).toEqual(['2025-07-10T07:00:00.000Z']);
  });

  it('runs a 02:30 job once on the spring-forward day (at 03:00, the first valid time)', () => {
    const spec = trigger('schedule: "30 2 * * *"\ntimezone: Europe/Oslo');
    expect(series(spec, '2025-03-29T12:00:00Z', 3)).toEqual([
      '2025-03-30T01:00:00.000Z',
      '2025-03-31T00:30:00.000Z',
      '2025-04-01T00:30:00.000Z',
    ]);
  });

  it('runs a 02:30 job once on the fall-back day, though 02:30 happens twice', () => {
    const spec = trigger('schedule: "30 2 * * *"\ntimezone: Europe/Oslo');
    expect(series(spec, '2025-10-25T12:00:00Z', 3)).toEqual([
      '2025-10-26T00:30:00.000Z',
      '2025-10-27T01:30:00.000Z',
      '2025-10-28T01:30:00.000Z',
    ]);
  });

  it('lists fire times before an instant, latest first, across DST', () => {
    const rule = fireRule(trigger('schedule: "30 2 * * *"\ntimezone: Europe/Oslo'));
    expect(rule.previous(at('2025-10-28T12:00:00Z'), 3).map(iso)).toEqual([
      '2025-10-28T01:30:00.000Z',
      '2025-10-27T01:30:00.000Z',
      '2025-10-26T00:30:00.000Z',
    ]);
  });
});

describe('every', () => {
  it('aligns to the epoch, so every 5m fires at :00, :05, :10', () => {
    expect(series(trigger('every: 5m'), '2025-01-01T10:03:27Z', 3)).toEqual([
      '2025-01-01T10:05:00.000Z',
      '2025-01-01T10:10:00.000Z',
      '2025-01-01T10:15:00.000Z',
    ]);
  });

  it('shifts by offset', () => {
    expect(series(trigger('every: 1h\noffset: 15m'), '2025-01-01T10:20:00Z', 2)).toEqual([
      '2025-01-01T11:15:00.000Z',
      '2025-01-01T12:15:00.000Z',
    ]);
  });

  it('is strictly after the reference', () => {
    expect(nextInterval(10_000, 5000)).toBe(15_000);
    expect(nextInterval(9999, 5000)).toBe(10_000);
    expect(nextInterval(10_000, 5000, 1000)).toBe(11_000);
  });

  it('lists previous fire times latest first', () => {
    const rule = fireRule(trigger('every: 10s'));
    expect(rule.previous(at('2025-01-01T00:00:30Z'), 3).map(iso)).toEqual([
      '2025-01-01T00:00:20.000Z',
      '2025-01-01T00:00:10.000Z',
      '2025-01-01T00:00:00.000Z',
    ]);
  });
});

describe('at', () => {
  it('compiles to a 6-field cron', () => {
    expect(atToCron('17:00', undefined)).toBe('0 0 17 * * *');
    expect(atToCron('07:05:30', ['wed', 'mon'])).toBe('30 5 7 * * 1,3');
  });

  it('fires daily at a local time of day', () => {
    expect(series(trigger('at: "17:00"\ntimezone: America/New_York'), '2025-01-01T00:00:00Z', 2)).toEqual([
      '2025-01-01T22:00:00.000Z',
      '2025-01-02T22:00:00.000Z',
    ]);
  });

  it('fires only on the given days', () => {
    // 2025-01-01 is a Wednesday.
    expect(
      series(trigger('at: "06:00"\ndays: [mon, wed]\ntimezone: UTC'), '2025-01-01T07:00:00Z', 3),
    ).toEqual(['2025-01-06T06:00:00.000Z', '2025-01-08T06:00:00.000Z', '2025-01-13T06:00:00.000Z']);
  });
});

describe('missedTimes', () => {
  const rule = fireRule(trigger('every: 1m'));

  it('lists the fire times in (after, until], oldest first', () => {
    const missed = missedTimes(rule, at('2025-01-01T00:00:00Z'), at('2025-01-01T00:03:00Z'), 10);
    expect(missed.times.map(iso)).toEqual([
      '2025-01-01T00:01:00.000Z',
      '2025-01-01T00:02:00.000Z',
      '2025-01-01T00:03:00.000Z',
    ]);
    expect(missed.more).toBe(false);
  });

  it('keeps the latest `cap` and says there were more', () => {
    const missed = missedTimes(rule, at('2025-01-01T00:00:00Z'), at('2025-01-02T00:00:00Z'), 2);
    expect(missed.times.map(iso)).toEqual(['2025-01-01T23:59:00.000Z', '2025-01-02T00:00:00.000Z']);
    expect(missed.more).toBe(true);
  });

  it('finds nothing in an empty window', () => {
    expect(missedTimes(rule, at('2025-01-01T00:00:10Z'), at('2025-01-01T00:00:50Z'), 5).times).toEqual([]);
    expect(missedTimes(rule, 100, 50, 5).times).toEqual([]);
  });

  it('walks backwards, so years of a per-second schedule cost only the cap', () => {
    const perSecond = fireRule(trigger('schedule: "* * * * * *"'));
    const started = performance.now();
    const missed = missedTimes(perSecond, at('2020-01-01T00:00:00Z'), at('2025-01-01T00:00:00Z'), 100);
    expect(missed.times).toHaveLength(100);
    expect(missed.more).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('trigger validation', () => {
  const bad = (triggerYaml: string): string => {
    try {
      parseOperation(
        `id: t\ntriggers:\n  - ${triggerYaml}\ntasks: [{ id: x, state: { set: a, value: 1 } }]\n`,
        'op.yaml',
      );
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the trigger to be rejected');
  };

  it('names the field of an invalid cron', () => {
    expect(bad('schedule: "61 * * * *"')).toMatch(
      /op\.yaml:3:\d+ triggers\[0\]\.schedule: invalid cron "61 \* \* \* \*".*minute/,
    );
    expect(bad('schedule: "* * *"')).toMatch(/triggers\[0\]\.schedule: cron "\* \* \*" has 3 fields/);
  });

  it('rejects an unknown time zone', () => {
    expect(bad('schedule: "* * * * *"\n    timezone: Mars/Olympus')).toMatch(
      /triggers\[0\]\.timezone: unknown timezone "Mars\/Olympus"/,
    );
  });

  it('rejects intervals under a second and offsets not under the interval', () => {
    expect(bad('every: 0s')).toMatch(/triggers\[0\]\.every: an interval must be at least 1s/);
    expect(bad('every: 500ms')).toMatch(/triggers\[0\]\.every: an interval must be at least 1s/);
    expect(bad('every: 5s\n    offset: 5s')).toMatch(
      /triggers\[0\]\.offset: offset must be shorter than every/,
    );
  });

  it('rejects a condition with an unknown check or a missing threshold', () => {
    expect(bad('condition: { check: gpu, above: 5 }')).toMatch(
      /triggers\[0\]\.condition\.check: unknown check: use one of disk, cpu/,
    );
    expect(bad('condition: { check: cpu }')).toMatch(
      /triggers\[0\]\.condition\.above: missing threshold: give above/,
    );
    expect(bad('condition: { check: disk, path: / }')).toMatch(
      /triggers\[0\]\.condition\.below: missing threshold/,
    );
    expect(bad('condition: { path: / }')).toMatch(/triggers\[0\]\.condition\.check: missing check/);
    expect(bad('condition: { check: state, expect: "state.global.x ==" }')).toMatch(
      /triggers\[0\]\.condition\.expect: /,
    );
  });

  it('rejects two triggers with one id', () => {
    expect(bad('every: 5s\n  - every: 10s\n    id: every-1')).toMatch(
      /triggers\[1\]\.id: trigger id "every-1" is also used by triggers\[0\]/,
    );
  });

  it('rejects a bad time of day', () => {
    expect(bad('at: "25:00"')).toMatch(/triggers\[0\]\.at: use HH:MM/);
  });
});
