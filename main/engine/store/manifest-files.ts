import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { manifestSchema, type Manifest } from '../model/manifest.js';

/** Reads and validates one manifest file. */
export async function readManifest(path: string): Promise<Manifest> {
  return manifestSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

async function dirs(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

/** Every run folder as `{operationId, runId, dir}`, newest first (run ids sort by start time). */
export async function listRunDirs(
  dataDir: string,
  operationId?: string,
): Promise<{ operationId: string; runId: string; dir: string }[]> {
  const root = join(dataDir, 'runs');
  const ops = operationId === undefined ? await dirs(root) : [operationId];
  const runs = await Promise.all(
    ops.map(async (op) =>
      (await dirs(join(root, op))).map((runId) => ({ operationId: op, runId, dir: join(root, op, runId) })),
    ),
  );
  return runs.flat().sort((a, b) => (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
}

/** Finds a run's manifest by run id (or a unique prefix of one). */
export async function findRunManifest(dataDir: string, runId: string): Promise<string | undefined> {
  const matches = (await listRunDirs(dataDir)).filter((r) => r.runId.startsWith(runId));
  if (matches.length > 1 && !matches.some((m) => m.runId === runId)) {
    throw new Error(`"${runId}" matches ${matches.length} runs: give more of the id`);
  }
  const match = matches.find((m) => m.runId === runId) ?? matches[0];
  return match === undefined ? undefined : join(match.dir, 'manifest.json');
}
