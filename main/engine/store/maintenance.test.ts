import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStoreMaintenance, storeMaintenanceService } from './maintenance.js';
import type { PruneReport } from './retention.js';
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

describe('startStoreMaintenance', () => {
  it('rebuilds a missing index, marks dead runs interrupted, then prunes until aborted', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const dead = { pid: child.pid ?? 0, startedAt: Date.now() };
    await once(child, 'exit');
    const day = 86_400_000;
    const crashed = makeManifest(dataDir, {
      status: 'running',
      startedAt: new Date(Date.now() - 3 * day),
      extra: { process: dead },
    });
    const fresh = makeManifest(dataDir, { extra: { retention: { maxAge: 2 * day } } });
    await writeRun(crashed);
    await writeRun(fresh);

    const controller = new AbortController();
    let firstPass: (report: PruneReport | Error) => void = () => undefined;
    const passed = new Promise<PruneReport | Error>((resolve) => (firstPass = resolve));
    const { rebuilt, pruning } = await startStoreMaintenance(stores, {
      signal: controller.signal,
      clock: { now: () => Date.now(), sleep: (_ms, signal) => once(signal, 'abort').then(() => undefined) },
      onPass: (report) => firstPass(report),
    });
    expect(rebuilt?.runs).toBe(2);
    expect(rebuilt?.interrupted.interrupted).toEqual([crashed.runId]);
    const report = await passed;
    // The interrupted run is finished now, so retention may remove it; it is older than maxAge.
    expect(report).toMatchObject({ removed: [{ runId: crashed.runId }] });
    controller.abort();
    await pruning;
    expect(stores.runs.list().runs.map((r) => r.runId)).toEqual([fresh.runId]);
  });
});

describe('storeMaintenanceService', () => {
  it('recovers on start and stops its background pruning on stop', async () => {
    const crashed = makeManifest(dataDir, {
      status: 'running',
      extra: { process: { pid: process.pid, startedAt: 1 } },
    });
    const active = makeManifest(dataDir, {
      status: 'running',
      extra: { process: { pid: process.pid, startedAt: 1 } },
    });
    await writeRun(crashed);
    await writeRun(active);
    const service = storeMaintenanceService();
    const node = { engine: { stores, activeRuns: () => [active.runId] } };
    await service.start(node);
    expect(stores.runs.get(crashed.runId)?.status).toBe('interrupted');
    expect(stores.runs.get(active.runId)?.status).toBe('running');
    await service.stop();
  });
});
