import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotificationFeed, severityForStatus, type Notification } from './notification-feed.js';
import { fallbackSummary } from './run-summary.js';
import { testManifest } from './test-support.js';

describe('NotificationFeed', () => {
  let db: Database.Database;
  let clock: number;
  let feed: NotificationFeed;
  const now = (): Date => new Date(clock);

  beforeEach(() => {
    db = new Database(':memory:');
    clock = Date.parse('2024-05-01T12:00:00.000Z');
    feed = new NotificationFeed(db, { now });
  });
  afterEach(() => {
    db.close();
  });

  function addMany(n: number): Notification[] {
    return Array.from({ length: n }, (_, i) => feed.add({ title: `n${i}`, text: 't', severity: 'info' }));
  }

  it('lists newest first, pages with a cursor and filters unread', () => {
    addMany(5);
    const first = feed.list({ limit: 2 });
    expect(first.items.map((n) => n.title)).toEqual(['n4', 'n3']);
    expect(first.nextCursor).toBeDefined();
    const second = feed.list({ limit: 2, cursor: first.nextCursor });
    expect(second.items.map((n) => n.title)).toEqual(['n2', 'n1']);
    const third = feed.list({ limit: 2, cursor: second.nextCursor });
    expect(third.items.map((n) => n.title)).toEqual(['n0']);
    expect(third.nextCursor).toBeUndefined();
    expect(() => feed.list({ cursor: 'DROP TABLE' })).toThrow(/cursor/);
  });

  it('marks notifications read by id or all at once', () => {
    const [a, b] = addMany(3);
    if (a === undefined || b === undefined) throw new Error('missing');
    clock += 1000;
    expect(feed.markRead([a.id, b.id, 999])).toBe(2);
    expect(feed.markRead([a.id])).toBe(0);
    expect(feed.unreadCount()).toBe(1);
    expect(feed.list({ unread: true }).items.map((n) => n.title)).toEqual(['n2']);
    expect(feed.get(a.id)?.readAt).toBe('2024-05-01T12:00:01.000Z');
    expect(feed.markRead('all')).toBe(1);
    expect(feed.unreadCount()).toBe(0);
  });

  it('keeps notifications in the database across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'uv-feed-'));
    try {
      const file = join(dir, 'store.db');
      const first = new Database(file);
      new NotificationFeed(first).add({ title: 'kept', text: 'across restarts', severity: 'success' });
      first.close();
      const second = new Database(file);
      const items = new NotificationFeed(second).list().items;
      second.close();
      expect(items).toMatchObject([
        { title: 'kept', text: 'across restarts', severity: 'success', source: 'engine' },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('tells listeners about each new notification; a throwing listener does not break adding', () => {
    const seen: string[] = [];
    feed.onAdded(() => {
      throw new Error('listener bug');
    });
    const stop = feed.onAdded((n) => seen.push(n.title));
    feed.add({ title: 'one', text: '', severity: 'info' });
    stop();
    feed.add({ title: 'two', text: '', severity: 'info' });
    expect(seen).toEqual(['one']);
    expect(feed.list().items).toHaveLength(2);
  });

  it('adds a run with severity from its status and links from its summary', () => {
    const manifest = testManifest({ status: 'failure' });
    const result = feed.addRun({ manifest, summary: fallbackSummary(manifest) });
    expect(result.kind).toBe('added');
    const [n] = feed.list().items;
    expect(n).toMatchObject({
      severity: 'error',
      source: 'fallback',
      runId: manifest.runId,
      operationId: 'backup',
      links: { run: manifest.links.run, logs: manifest.links.logs, runId: manifest.runId },
    });
    expect(severityForStatus('success')).toBe('success');
    expect(severityForStatus('interrupted')).toBe('warning');
  });

  it('suppresses a run whose outcome equals the previous run, unless forced', () => {
    const previous = testManifest({ runId: 'r1' });
    const same = testManifest({ runId: 'r2' });
    const changed = testManifest({ runId: 'r3', outputs: { files: [], data: [{ rows: 3 }] } });
    const summary = fallbackSummary(same);
    expect(feed.addRun({ manifest: same, previous, summary })).toEqual({
      kind: 'suppressed',
      reason: 'unchanged',
    });
    expect(feed.addRun({ manifest: same, previous, summary, force: true }).kind).toBe('added');
    expect(feed.addRun({ manifest: changed, previous, summary }).kind).toBe('added');
    expect(feed.list().items.map((n) => n.runId)).toEqual(['r3', 'r2']);
  });

  it('batches runs into one digest notification every N runs', () => {
    const added: Notification[] = [];
    feed.onAdded((n) => added.push(n));
    const results = ['success', 'failure', 'success'].map((status, i) => {
      const manifest = testManifest({ runId: `r${i}`, status: status as 'success' | 'failure' });
      return feed.addRun({ manifest, summary: fallbackSummary(manifest), digest: { every: 3 } });
    });
    expect(results.map((r) => r.kind)).toEqual(['pending', 'pending', 'added']);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      title: 'backup: 3 runs, 1 failed',
      severity: 'error',
      source: 'digest',
      runId: 'r2',
      links: { runIds: ['r0', 'r1', 'r2'] },
    });
    expect(added[0]?.text.split('\n')).toHaveLength(3);
    expect(feed.pendingDigests()).toEqual([]);
  });

  it('flushes interval digests when the scheduler says they are due', () => {
    const policy = { key: 'daily', intervalMs: 3_600_000 };
    for (const id of ['a', 'b']) {
      const manifest = testManifest({ runId: id, operation: { id: `op-${id}` } });
      expect(feed.addRun({ manifest, summary: fallbackSummary(manifest), digest: policy }).kind).toBe(
        'pending',
      );
      clock += 60_000;
    }
    expect(feed.nextDigestDue()?.toISOString()).toBe('2024-05-01T13:00:00.000Z');
    expect(feed.flushDue(new Date('2024-05-01T12:59:59.000Z'))).toEqual([]);
    const flushed = feed.flushDue(new Date('2024-05-01T13:00:00.000Z'));
    expect(flushed).toHaveLength(1);
    expect(flushed[0]).toMatchObject({
      title: 'daily: 2 runs',
      severity: 'success',
      links: { runIds: ['a', 'b'] },
    });
    expect(feed.nextDigestDue()).toBeUndefined();
    expect(feed.flushDigest('daily')).toBeUndefined();
  });

  it('keeps digest runs waiting across restarts', () => {
    const manifest = testManifest();
    feed.addRun({ manifest, summary: fallbackSummary(manifest), digest: { every: 2 } });
    const reopened = new NotificationFeed(db, { now });
    expect(reopened.pendingDigests()).toMatchObject([{ key: 'backup', count: 1 }]);
    const second = testManifest({ runId: 'next' });
    expect(
      reopened.addRun({ manifest: second, summary: fallbackSummary(second), digest: { every: 2 } }).kind,
    ).toBe('added');
  });
});
