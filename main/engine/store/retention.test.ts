import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../model/manifest.js';
import type { RetentionPolicy } from '../model/retention-spec.js';
import {
  loadNodeRetention,
  nodeRetentionPath,
  RetentionPruner,
  runRetentionLoop,
  type PruneReport,
  type RetentionClock,
} from './retention.js';
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

const day = 86_400_000;
const now = Date.parse('2026-06-01T00:00:00Z');
const fixedClock: RetentionClock = { now: () => now, sleep: () => Promise.resolve() };

/** Writes and indexes runs of one operation started `ages` days ago, each with a file in the store. */
async function seed(
  operationId: string,
  ages: number[],
  options: {
    retention?: RetentionPolicy;
    logBytes?: number;
    status?: (i: number) => Manifest['status'];
  } = {},
): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const [i, age] of ages.entries()) {
    const m = makeManifest(dataDir, {
      operationId,
      startedAt: new Date(now - age * day),
      status: options.status?.(i) ?? 'success',
      extra: options.retention ? { retention: options.retention } : {},
    });
    await writeRun(m, options.logBytes ?? 10);
    await stores.files.put({ operationId, runId: m.runId }, { content: 'f'.repeat(100) }, 'out.txt');
    stores.runs.recordManifest(m);
    manifests.push(m);
  }
  return manifests;
}

/** The i-th element, which the test knows is there. */
function nth<T>(list: readonly T[], i: number): T {
  const value = list[i];
  if (value === undefined) throw new Error(`no element ${i}`);
  return value;
}
const ids = (ms: Manifest[]) => ms.map((m) => m.runId).sort();
const onDisk = async (operationId: string) =>
  (await readdir(join(dataDir, 'runs', operationId)).catch(() => [])).sort();
const filesOnDisk = async (operationId: string) =>
  (await readdir(join(dataDir, 'files', operationId)).catch(() => [])).sort();

describe('RetentionPruner', () => {
  it('keeps the last N runs and removes the rest with their folders, files and rows', async () => {
    const runs = await seed('keep', [5, 4, 3, 2, 1], { retention: { keepRuns: 2 } });
    const other = await seed('other', [5, 4, 3]);
    const pruner = new RetentionPruner(stores, { clock: fixedClock });
    const report = await pruner.prune();
    expect(report.removed.map((r) => r.runId).sort()).toEqual(ids(runs.slice(0, 3)));
    expect(report.removed.every((r) => r.reason === 'keep keepRuns 2')).toBe(true);
    expect(await onDisk('keep')).toEqual(ids(runs.slice(3)));
    expect(await filesOnDisk('keep')).toEqual(ids(runs.slice(3)));
    expect(
      stores.runs
        .list({ operationId: 'keep' })
        .runs.map((r) => r.runId)
        .sort(),
    ).toEqual(ids(runs.slice(3)));
    expect(
      stores.files
        .list({ operationId: 'keep' })
        .files.map((f) => f.runId)
        .sort(),
    ).toEqual(ids(runs.slice(3)));
    expect(await onDisk('other')).toEqual(ids(other));
    expect((await pruner.prune()).removed).toEqual([]);
  });

  it('removes runs older than maxAge, with node defaults filling what the operation leaves out', async () => {
    const runs = await seed('aged', [40, 31, 29, 1]);
    const pruner = new RetentionPruner(stores, { clock: fixedClock, node: { maxAge: 30 * day } });
    const dry = await pruner.prune({ dryRun: true });
    expect(dry.removed.map((r) => r.runId).sort()).toEqual(ids(runs.slice(0, 2)));
    expect(await onDisk('aged')).toEqual(ids(runs));
    await pruner.prune();
    expect(await onDisk('aged')).toEqual(ids(runs.slice(2)));
  });

  it('removes the oldest runs past maxSize, and never the newest', async () => {
    const runs = await seed('sized', [4, 3, 2, 1], { logBytes: 1000 });
    const sizes = await Promise.all(
      runs.map(
        async (m) =>
          (await stat(join(m.links.logs, 'a.log'))).size + (await stat(m.links.manifest)).size + 100,
      ),
    );
    const budget = (sizes[3] ?? 0) + (sizes[2] ?? 0) + 10;
    const pruner = new RetentionPruner(stores, { clock: fixedClock, node: { maxSize: budget } });
    const report = await pruner.prune();
    expect(report.measured).toBe(4);
    expect(report.removed.map((r) => r.runId).sort()).toEqual(ids(runs.slice(0, 2)));
    expect(await onDisk('sized')).toEqual(ids(runs.slice(2)));

    const tiny = new RetentionPruner(stores, { clock: fixedClock, node: { maxSize: 1 } });
    await tiny.prune();
    expect(await onDisk('sized')).toEqual(ids(runs.slice(3)));
  });

  it('applies the node-wide total budget across operations', async () => {
    const a = await seed('a', [4, 2], { logBytes: 5000 });
    const b = await seed('b', [3, 1], { logBytes: 5000 });
    // About 6.3 kB a run: the two newest fit in the budget, a third would not.
    const pruner = new RetentionPruner(stores, {
      clock: fixedClock,
      node: { maxTotalSize: 14_000, interval: 1000 },
    });
    const report = await pruner.prune();
    expect(report.removed.map((r) => r.runId).sort()).toEqual(ids([nth(a, 0), nth(b, 0)]));
    expect(report.removed.every((r) => r.reason.startsWith('node maxTotalSize'))).toBe(true);
  });

  it('never touches a running run, whether the index, the manifest or this process says so', async () => {
    const runs = await seed('busy', [9, 8, 7, 6, 5], {
      retention: { keepRuns: 1, maxAge: day },
      status: (i) => (i === 0 ? 'running' : 'success'),
    });
    // The index is behind for runs[1]: its manifest says it is running again.
    await writeRun({ ...nth(runs, 1), status: 'running' });
    const pruner = new RetentionPruner(stores, {
      clock: fixedClock,
      isActive: (id) => id === nth(runs, 2).runId,
    });
    const report = await pruner.prune();
    expect(report.removed.map((r) => r.runId).sort()).toEqual(ids([nth(runs, 3), nth(runs, 4)]));
    expect(report.skipped.map((r) => [r.runId, r.why])).toEqual([
      [nth(runs, 1).runId, 'running (the manifest says so; the index was behind)'],
      [nth(runs, 2).runId, 'running in this process'],
    ]);
    expect(await onDisk('busy')).toEqual(ids([nth(runs, 0), nth(runs, 1), nth(runs, 2)]));
  });

  it('prunes in the background on the injected clock until aborted', async () => {
    let current = now;
    const sleeps: { ms: number; wake: () => void }[] = [];
    const clock: RetentionClock = {
      now: () => current,
      sleep: (ms, signal) =>
        new Promise<void>((resolve) => {
          sleeps.push({ ms, wake: resolve });
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    };
    const runs = await seed('bg', [0, 0], { retention: { maxAge: day } });
    const pruner = new RetentionPruner(stores, { clock });
    const controller = new AbortController();
    const passes: (PruneReport | Error)[] = [];
    let notify: () => void = () => undefined;
    const loop = runRetentionLoop(pruner, {
      intervalMs: 60_000,
      signal: controller.signal,
      clock,
      onPass: (report) => {
        passes.push(report);
        notify();
      },
    });
    const nextPass = () => new Promise<void>((resolve) => (notify = resolve));

    let pass = nextPass();
    await pass;
    expect(passes).toHaveLength(1);
    expect((passes[0] as PruneReport).removed).toEqual([]);
    expect(sleeps.map((s) => s.ms)).toEqual([60_000]);

    current += 2 * day;
    pass = nextPass();
    sleeps[0]?.wake();
    await pass;
    expect((passes[1] as PruneReport).removed.map((r) => r.runId).sort()).toEqual(ids(runs));

    controller.abort();
    await loop;
    expect(passes).toHaveLength(2);
  });
});

describe('loadNodeRetention', () => {
  it('reads <data-dir>/retention.json, defaults without it, and names bad fields', async () => {
    expect(loadNodeRetention(dataDir)).toEqual({ interval: 600_000 });
    await mkdir(dataDir, { recursive: true });
    await writeFile(
      nodeRetentionPath(dataDir),
      JSON.stringify({ keepRuns: 100, maxAge: '30d', maxTotalSize: '5GB' }),
    );
    expect(loadNodeRetention(dataDir)).toEqual({
      keepRuns: 100,
      maxAge: 30 * day,
      maxTotalSize: 5e9,
      interval: 600_000,
    });
    await writeFile(nodeRetentionPath(dataDir), JSON.stringify({ keepRuns: 0, maxAge: 'soon' }));
    expect(() => loadNodeRetention(dataDir)).toThrow(
      /retention\.json: keepRuns: .*maxAge: "soon" is not a duration/,
    );
  });
});
