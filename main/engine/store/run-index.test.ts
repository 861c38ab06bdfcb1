import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import type { RunEvent } from '../runner/run-events.js';
import { runYaml } from '../runner/run-test-helpers.js';
import { openEngine } from '../open-engine.js';
import { CursorError } from './cursor.js';
import { attachRunIndex, type RunEventSource } from './run-index.js';
import { makeManifest, testStores, writeRun } from './store-test-helpers.js';
import type { Stores } from './stores.js';

let dataDir: string;
let stores: Stores;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dataDir, stores, cleanup } = await testStores());
});
afterEach(async () => {
  await cleanup();
});

const base = Date.parse('2026-03-01T00:00:00Z');
const at = (minutes: number) => new Date(base + minutes * 60_000);

describe('RunIndex', () => {
  it('upserts a run: a second record of the same run replaces the first, tasks included', () => {
    const m = makeManifest(dataDir, { status: 'running', startedAt: at(0) });
    stores.runs.recordManifest(m);
    expect(stores.runs.get(m.runId)?.status).toBe('running');
    expect(stores.runs.get(m.runId)?.tasks.map((t) => t.status)).toEqual(['running', 'pending']);
    const ended = {
      ...m,
      status: 'failure' as const,
      endedAt: at(1).toISOString(),
      error: 'boom',
      summary: { title: 'op failed', text: 't', source: 'engine' as const },
    };
    ended.tasks = m.tasks.slice(0, 1).map((t) => ({ ...t, status: 'failure' as const }));
    stores.runs.recordManifest(ended);
    const row = stores.runs.get(m.runId);
    expect(row).toMatchObject({
      status: 'failure',
      error: 'boom',
      summaryTitle: 'op failed',
      endedAt: at(1).toISOString(),
    });
    expect(row?.tasks.map((t) => [t.taskId, t.status])).toEqual([['a', 'failure']]);
    expect(stores.runs.count()).toBe(1);
  });

  it('lists newest first and pages with a cursor without gaps or repeats', () => {
    const all = Array.from({ length: 23 }, (_, i) =>
      makeManifest(dataDir, { startedAt: at(i % 7), title: `run ${i}` }),
    );
    stores.runs.recordMany(all);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = stores.runs.list({ limit: 5, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(5);
    const expected = [...all]
      .sort((a, b) =>
        a.startedAt === b.startedAt ? (a.runId < b.runId ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1,
      )
      .map((m) => m.runId);
    expect(seen).toEqual(expected);
  });

  it('filters by operation, status, time range and text', () => {
    stores.runs.recordMany([
      makeManifest(dataDir, {
        operationId: 'backup',
        status: 'success',
        startedAt: at(0),
        title: 'Backup done',
      }),
      makeManifest(dataDir, {
        operationId: 'backup',
        status: 'failure',
        startedAt: at(10),
        title: 'Backup failed',
        error: 'disk 100% full',
      }),
      makeManifest(dataDir, {
        operationId: 'fetch',
        status: 'success',
        startedAt: at(20),
        title: 'Fetched 5 items',
      }),
      makeManifest(dataDir, {
        operationId: 'fetch',
        status: 'cancelled',
        startedAt: at(30),
        title: 'Fetch cancelled',
      }),
    ]);
    const ops = (q: Parameters<Stores['runs']['list']>[0]) =>
      stores.runs.list(q).runs.map((r) => `${r.operationId}:${r.status}`);
    expect(ops({ operationId: 'backup' })).toEqual(['backup:failure', 'backup:success']);
    expect(ops({ status: 'success' })).toEqual(['fetch:success', 'backup:success']);
    expect(ops({ status: ['cancelled', 'failure'] })).toEqual(['fetch:cancelled', 'backup:failure']);
    expect(ops({ from: at(10).getTime(), to: at(30).getTime() })).toEqual([
      'fetch:success',
      'backup:failure',
    ]);
    expect(ops({ text: 'fetch' })).toEqual(['fetch:cancelled', 'fetch:success']);
    expect(ops({ text: '100%' })).toEqual(['backup:failure']);
    expect(ops({ text: '_' })).toEqual([]);
    expect(ops({ operationId: 'backup', status: 'success', text: 'done' })).toEqual(['backup:success']);
  });

  it('rejects a forged or foreign cursor', () => {
    expect(() => stores.runs.list({ cursor: 'not-a-cursor' })).toThrow(CursorError);
    const forged = Buffer.from(JSON.stringify(['runs', '1 OR 1=1', 'x'])).toString('base64url');
    expect(() => stores.runs.list({ cursor: forged })).toThrow(CursorError);
  });

  it('finds runs by id prefix', () => {
    const a = makeManifest(dataDir, { startedAt: at(0) });
    const b = makeManifest(dataDir, { startedAt: at(0) });
    stores.runs.recordMany([a, b]);
    expect(stores.runs.findByPrefix(a.runId).map((r) => r.runId)).toEqual([a.runId]);
    expect(stores.runs.findByPrefix(a.runId.slice(0, 10))).toHaveLength(2);
    expect(stores.runs.findByPrefix('1999')).toEqual([]);
  });

  it('rebuilds from the manifests on disk: adds, updates, drops and reports bad ones', async () => {
    const kept = makeManifest(dataDir, { startedAt: at(0), title: 'on disk' });
    const gone = makeManifest(dataDir, { startedAt: at(1) });
    await writeRun(kept);
    stores.runs.recordMany([{ ...kept, summary: { title: 'stale', text: '', source: 'engine' } }, gone]);
    const broken = makeManifest(dataDir, { operationId: 'other', startedAt: at(2) });
    await writeRun(broken);
    await writeFile(broken.links.manifest, '{"manifestVersion": 1, "runId": ');
    const report = await stores.runs.reindex();
    expect(report).toMatchObject({ indexed: 1, removed: 1 });
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]?.path).toBe(broken.links.manifest);
    expect(stores.runs.list().runs.map((r) => [r.runId, r.summaryTitle])).toEqual([[kept.runId, 'on disk']]);
  });

  it('follows an engine: a row when a run starts, updated when it ends', () => {
    const emitter = new EventEmitter<{ event: [RunEvent] }>();
    const source: RunEventSource = emitter;
    const detach = attachRunIndex(source, stores.runs);
    attachRunIndex(source, stores.runs);
    const m = makeManifest(dataDir, { status: 'running' });
    emitter.emit('event', { type: 'run-started', runId: m.runId, operationId: 'op', manifest: m });
    expect(stores.runs.get(m.runId)?.status).toBe('running');
    emitter.emit('event', {
      type: 'run-ended',
      runId: m.runId,
      operationId: 'op',
      status: 'success',
      manifest: { ...m, status: 'success' },
    });
    expect(stores.runs.get(m.runId)?.status).toBe('success');
    expect(emitter.listenerCount('event')).toBe(1);
    detach();
    expect(emitter.listenerCount('event')).toBe(0);
  });
});

describe('engine integration', () => {
  it('indexes every run of an engine with stores, with owner and retention recorded', async () => {
    const engine = await openEngine(dataDir, silentLogger());
    const m = await runYaml(
      engine,
      `id: indexed
retention: { keepRuns: 2 }
tasks:
  - { id: a, shell: 'echo hi' }
`,
    );
    const index = engine.stores?.runs;
    expect(index?.get(m.runId)).toMatchObject({
      status: 'success',
      operationId: 'indexed',
      summaryTitle: m.summary?.title,
    });
    expect(m.extra).toMatchObject({ process: { pid: process.pid }, retention: { keepRuns: 2 } });
    expect(index?.operationPolicies()).toEqual([{ operationId: 'indexed', retention: { keepRuns: 2 } }]);
    engine.close();
  });
});
