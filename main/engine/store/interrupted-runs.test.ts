import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifestSchema } from '../model/manifest.js';
import { markInterrupted } from './interrupted-runs.js';
import { currentProcess, isProcessAlive } from './process-liveness.js';
import { ensureIndexed } from './reindex.js';
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

/** A process that ran and is gone, identified as the runner records it. */
async function deadProcess(): Promise<{ pid: number; startedAt: number }> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const startedAt = Date.now();
  const pid = child.pid ?? 0;
  await once(child, 'exit');
  return { pid, startedAt };
}

describe('isProcessAlive', () => {
  it('knows this process, and tells a restarted process with the same pid from it', () => {
    const self = currentProcess();
    expect(isProcessAlive(self)).toBe(true);
    expect(isProcessAlive({ pid: self.pid, startedAt: self.startedAt - 3_600_000 })).toBe(false);
  });

  it('sees a running child as alive and an exited one as gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const owner = { pid: child.pid ?? 0, startedAt: Date.now() };
    try {
      expect(isProcessAlive(owner)).toBe(true);
      // The same pid with a start time far from the real one is another process (pid reuse).
      if (process.platform === 'linux')
        expect(isProcessAlive({ ...owner, startedAt: owner.startedAt - 86_400_000 })).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(isProcessAlive(owner)).toBe(false);
  });
});

describe('markInterrupted', () => {
  it('marks a run whose process is gone interrupted, ended at its last manifest write, and repairs the index', async () => {
    const started = new Date(Date.now() - 60_000);
    const m = makeManifest(dataDir, {
      status: 'running',
      startedAt: started,
      extra: { process: await deadProcess() },
    });
    await writeRun(m);
    // What a SIGKILL mid-write leaves: a manifest temp file and an unfolded log ring.
    await writeFile(join(dirname(m.links.manifest), '.manifest.json.0a1b2c3d4e5f.tmp'), '{"trunc');
    await writeFile(join(m.links.logs, '.a.log.tail'), 'ring bytes');
    const lastWrite = new Date(started.getTime() + 42_000);
    await utimes(m.links.manifest, lastWrite, lastWrite);
    stores.runs.recordManifest(m);

    const report = await markInterrupted(stores.runs);
    expect(report.interrupted).toEqual([m.runId]);
    const onDisk = manifestSchema.parse(JSON.parse(await readFile(m.links.manifest, 'utf8')));
    expect(onDisk.status).toBe('interrupted');
    expect(Date.parse(onDisk.endedAt ?? '')).toBe(lastWrite.getTime());
    expect(onDisk.durationMs).toBe(42_000);
    expect(onDisk.tasks.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    expect(onDisk.tasks[0]?.executions[0]?.status).toBe('cancelled');
    expect(onDisk.summary?.title).toMatch(/interrupted/);
    expect(await readFile(`${m.links.logs}/a.log`, 'utf8')).toBe('x'.repeat(10));
    expect(await readdir(m.links.logs)).toEqual(['a.log']);
    expect((await readdir(dirname(m.links.manifest))).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(stores.runs.get(m.runId)?.status).toBe('interrupted');
    expect(await markInterrupted(stores.runs)).toEqual({ interrupted: [], repaired: [], removed: [] });
  });

  it('leaves runs of live processes and of this process’s active runs alone', async () => {
    const live = makeManifest(dataDir, { status: 'running', extra: { process: currentProcess() } });
    const active = makeManifest(dataDir, { status: 'running', extra: { process: await deadProcess() } });
    for (const m of [live, active]) {
      await writeRun(m);
      stores.runs.recordManifest(m);
    }
    const report = await markInterrupted(stores.runs, { isActive: (id) => id === active.runId });
    expect(report.interrupted).toEqual([]);
    expect(
      stores.runs
        .running()
        .map((r) => r.runId)
        .sort(),
    ).toEqual([live.runId, active.runId].sort());
  });

  it('repairs rows that are behind their manifest and drops rows whose run is gone', async () => {
    const ended = makeManifest(dataDir, { status: 'running' });
    await writeRun({ ...ended, status: 'success' });
    const vanished = makeManifest(dataDir, { status: 'running' });
    await writeRun(vanished);
    stores.runs.recordMany([ended, vanished]);
    await rm(vanished.links.run, { recursive: true });
    const report = await markInterrupted(stores.runs);
    expect(report).toEqual({ interrupted: [], repaired: [ended.runId], removed: [vanished.runId] });
    expect(stores.runs.get(ended.runId)?.status).toBe('success');
    expect(stores.runs.get(vanished.runId)).toBeUndefined();
  });

  it('rebuilds an empty index from disk before reading, then marks the dead runs', async () => {
    const dead = makeManifest(dataDir, { status: 'running', extra: { process: await deadProcess() } });
    const done = makeManifest(dataDir);
    await writeRun(dead);
    await writeRun(done);
    const report = await ensureIndexed(stores);
    expect(report?.runs).toBe(2);
    expect(report?.interrupted.interrupted).toEqual([dead.runId]);
    expect(stores.runs.get(dead.runId)?.status).toBe('interrupted');
    expect(await ensureIndexed(stores)).toBeUndefined();
  });
});
