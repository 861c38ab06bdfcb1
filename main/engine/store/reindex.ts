import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from '../model/manifest.js';
import { markInterrupted, type InterruptedOptions, type InterruptedReport } from './interrupted-runs.js';
import type { Stores } from './stores.js';

/** What a reindex did. */
export interface ReindexReport {
  runs: number;
  removed: number;
  files: number;
  failed: { path: string; error: string }[];
  interrupted: InterruptedReport;
}

/**
 * Rebuilds the run index and the file catalogue from the manifests on disk, then marks runs
 * whose process is gone as interrupted. Data records live only in the database and are untouched.
 */
export async function reindexStores(
  stores: Stores,
  options: InterruptedOptions = {},
): Promise<ReindexReport> {
  const withFiles: Manifest[] = [];
  const present = new Set<string>();
  const result = await stores.runs.reindex({
    onManifest: (manifest) => {
      present.add(manifest.runId);
      if (manifest.outputs.files.length > 0) withFiles.push(manifest);
    },
  });
  let files = 0;
  for (const manifest of withFiles) files += await stores.files.recordManifest(manifest);
  stores.files.retainRuns(present);
  const interrupted = await markInterrupted(stores.runs, options);
  return { runs: result.indexed, removed: result.removed, files, failed: result.failed, interrupted };
}

/** Whether any run folder exists on disk (cheap: stops at the first). */
async function anyRunOnDisk(dataDir: string): Promise<boolean> {
  const root = join(dataDir, 'runs');
  const ops = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const op of ops) {
    if (!op.isDirectory()) continue;
    const runs = await readdir(join(root, op.name)).catch(() => []);
    if (runs.length > 0) return true;
  }
  return false;
}

/**
 * Makes the index usable before a read: rebuilds it when it is empty but runs exist on disk (a
 * new or deleted database), then marks dead `running` runs interrupted. Returns the reindex
 * report when it had to rebuild.
 */
export async function ensureIndexed(
  stores: Stores,
  options: InterruptedOptions = {},
): Promise<ReindexReport | undefined> {
  if (stores.runs.count() === 0 && (await anyRunOnDisk(stores.dataDir)))
    return reindexStores(stores, options);
  await markInterrupted(stores.runs, options);
  return undefined;
}
