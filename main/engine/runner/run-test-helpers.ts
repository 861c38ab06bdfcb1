import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../engine.js';
import { silentLogger } from '../logger.js';
import { parseOperation } from '../model/load-operation.js';
import type { Manifest } from '../model/manifest.js';
import { openEngine } from '../open-engine.js';
import type { RunRequest } from './operation-run.js';

/** A fresh data dir and engine per test; `cleanup` removes the dir. */
export async function testEngine(): Promise<{
  engine: Engine;
  dataDir: string;
  cleanup: () => Promise<void>;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'uv-test-'));
  const engine = await openEngine(dataDir, silentLogger());
  return { engine, dataDir, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
}

/** Parses YAML text and runs it to the end. */
export function runYaml(
  engine: Engine,
  yaml: string,
  extra: Omit<RunRequest, 'operation'> = {},
): Promise<Manifest> {
  return engine.run({ operation: parseOperation(yaml, 'test.yaml'), ...extra });
}

/** The task record with this id, or a thrown error naming what exists. */
export function task(manifest: Manifest, id: string): Manifest['tasks'][number] {
  const found = manifest.tasks.find((t) => t.id === id);
  if (!found)
    throw new Error(`no task ${id} in manifest (have ${manifest.tasks.map((t) => t.id).join(', ')})`);
  return found;
}
