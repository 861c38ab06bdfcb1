import { describe, expect, it } from 'vitest';
import { silentLogger } from '../engine/logger.js';
import type { EventPayload } from './contract.js';
import { EventHub, type HubEvent } from './event-hub.js';

function hub(replay = 3): { hub: EventHub; seen: HubEvent[] } {
  const h = new EventHub({ logger: silentLogger(), replay, now: () => 1000 });
  const seen: HubEvent[] = [];
  h.subscribe((e) => seen.push(e));
  return { hub: h, seen };
}

const change = (value: number): EventPayload<'state.changed'> => ({
  scope: 'global',
  path: 'x',
  op: 'set',
  value,
});

describe('the event hub', () => {
  it('numbers events upward from the clock, so a restart never reuses numbers', () => {
    const { hub: h, seen } = hub();
    h.publish('state.changed', change(1));
    h.publish('state.changed', change(2));
    expect(seen.map((e) => e.seq)).toEqual([1_000_001, 1_000_002]);
    expect(JSON.parse(seen[0]?.wire ?? '')).toEqual({
      type: 'event',
      seq: 1_000_001,
      event: 'state.changed',
      payload: change(1),
    });
  });

  it('replays what it holds and reports a gap for what it let go', () => {
    const { hub: h } = hub(3);
    for (let i = 1; i <= 5; i++) h.publish('state.changed', change(i));
    expect(h.replaySince(1_000_003)).toMatchObject({
      gap: false,
      events: [{ seq: 1_000_004 }, { seq: 1_000_005 }],
    });
    expect(h.replaySince(1_000_002).gap).toBe(false);
    expect(h.replaySince(1_000_001).gap).toBe(true);
    expect(h.replaySince(999).gap).toBe(true); // from an earlier life of the node
    expect(h.replaySince(1_000_005)).toEqual({ events: [], gap: false });
  });

  it('does not keep log lines for replay, and that is no gap', () => {
    const { hub: h } = hub(3);
    h.publish('state.changed', change(1));
    for (let i = 0; i < 10; i++) {
      h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 0, chunk: Buffer.from('x\n') });
    }
    h.publish('state.changed', change(2));
    const replay = h.replaySince(1_000_001);
    expect(replay.gap).toBe(false);
    expect(replay.events.map((e) => e.event)).toEqual(['state.changed']);
  });

  it('gives log chunks their byte offsets and never splits a character', () => {
    const { hub: h, seen } = hub();
    const bytes = Buffer.from('é€\n');
    h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 0, chunk: bytes.subarray(0, 1) });
    h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 0, chunk: bytes.subarray(1, 4) });
    h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 0, chunk: bytes.subarray(4) });
    h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 1, chunk: Buffer.from('a') });
    const logs = seen.map((e) => e.payload as EventPayload<'task.log'>);
    expect(logs.map((l) => [l.index, l.offset, l.text])).toEqual([
      [0, 0, 'é'],
      [0, 2, '€\n'],
      [1, 0, 'a'],
    ]);
    expect(seen.every((e) => e.logRun === 'r')).toBe(true);
  });

  it('keeps offsets exact through bytes that are not UTF-8', () => {
    const { hub: h, seen } = hub();
    h.publishRunEvent({
      type: 'task-log',
      runId: 'r',
      taskId: 't',
      index: 0,
      chunk: Buffer.from([0xff, 0x41]),
    });
    h.publishRunEvent({ type: 'task-log', runId: 'r', taskId: 't', index: 0, chunk: Buffer.from('b') });
    const logs = seen.map((e) => e.payload as EventPayload<'task.log'>);
    expect(logs.map((l) => [l.offset, l.text])).toEqual([
      [0, '\ufffdA'],
      [2, 'b'],
    ]);
  });

  it('drops an event that does not fit the contract instead of throwing into the engine', () => {
    const { hub: h, seen } = hub();
    const bad = { scope: 'cluster', path: 'x', op: 'set' } as unknown as EventPayload<'state.changed'>;
    expect(h.publish('state.changed', bad)).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it('keeps delivering when a listener throws', () => {
    const { hub: h, seen } = hub();
    h.subscribe(() => {
      throw new Error('broken listener');
    });
    h.publish('state.changed', change(1));
    h.publish('state.changed', change(2));
    expect(seen).toHaveLength(2);
  });
});
