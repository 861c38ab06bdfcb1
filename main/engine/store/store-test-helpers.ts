import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeJsonAtomic } from '../atomic-write.js';
import { runDir } from '../data-dir.js';
import { manifestVersion, type Manifest, type RunStatus } from '../model/manifest.js';
import { newRunId } from '../runner/run-id.js';
import { openStores, type Stores } from './stores.js';

/** A fresh data dir with open stores; `cleanup` closes them and removes the dir. */
export async function testStores(): Promise<{
  dataDir: string;
  stores: Stores;
  cleanup: () => Promise<void>;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'uv-store-'));
  const stores = openStores(dataDir, { retention: { interval: 600_000 } });
  return {
    dataDir,
    stores,
    cleanup: async () => {
      stores.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ManifestSpec {
  operationId?: string;
  status?: RunStatus;
  startedAt?: Date;
  durationMs?: number;
  title?: string;
  error?: string;
  extra?: Record<string, unknown>;
  runId?: string;
}

/** A complete, valid manifest for tests. */
export function makeManifest(dataDir: string, spec: ManifestSpec = {}): Manifest {
  const operationId = spec.operationId ?? 'op';
  const started = spec.startedAt ?? new Date();
  const runId = spec.runId ?? newRunId(started);
  const status = spec.status ?? 'success';
  const dir = runDir(dataDir, operationId, runId);
  const ended = status === 'running' ? undefined : new Date(started.getTime() + (spec.durationMs ?? 1000));
  return {
    manifestVersion,
    runId,
    operation: { id: operationId },
    node: { id: 'node-1', name: 'test-node' },
    trigger: { kind: 'manual', firedAt: started.toISOString() },
    params: {},
    status,
    startedAt: started.toISOString(),
    ...(ended ? { endedAt: ended.toISOString(), durationMs: ended.getTime() - started.getTime() } : {}),
    ...(spec.error === undefined ? {} : { error: spec.error }),
    ...(spec.title === undefined
      ? {}
      : { summary: { title: spec.title, text: `${spec.title} text`, source: 'engine' as const } }),
    tasks: [
      {
        id: 'a',
        kind: 'shell',
        status: status === 'running' ? 'running' : 'success',
        attempts: 1,
        startedAt: started.toISOString(),
        executions: [
          {
            index: 0,
            attempt: 1,
            status: status === 'running' ? 'running' : 'success',
            startedAt: started.toISOString(),
            log: 'logs/a.log',
          },
        ],
      },
      {
        id: 'b',
        kind: 'shell',
        status: status === 'running' ? 'pending' : 'success',
        attempts: 0,
        executions: [],
      },
    ],
    outputs: { files: [], data: [] },
    links: { run: dir, manifest: join(dir, 'manifest.json'), logs: join(dir, 'logs') },
    extra: spec.extra ?? {},
  };
}

/** Writes a manifest (and a log of `logBytes` bytes) where the runner would. */
export async function writeRun(manifest: Manifest, logBytes = 10): Promise<void> {
  await mkdir(manifest.links.logs, { recursive: true });
  await writeFile(join(manifest.links.logs, 'a.log'), 'x'.repeat(logBytes));
  await writeJsonAtomic(manifest.links.manifest, manifest);
}
