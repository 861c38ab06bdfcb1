import type { Manifest } from '../model/manifest.js';
import { readManifest } from '../store/manifest-files.js';
import type { RunIndex } from '../store/run-index.js';

/** How far before `since` a run may have started and still be found (the index is keyed by start). */
const lookbackMs = 7 * 24 * 3600 * 1000;
const pageSize = 200;

/**
 * The latest `limit` finished runs of an operation that ended after `since` (epoch ms), oldest end
 * first, read from the run index and their manifests. `after` triggers replay these when a node
 * starts; only the manifests returned are read.
 *
 * A run that started more than a week before `since` is not looked for; an unreadable manifest is
 * skipped.
 */
export async function finishedRunsSince(
  runs: RunIndex,
  operationId: string,
  since: number,
  limit: number,
): Promise<Manifest[]> {
  const found: { at: number; manifestPath: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = runs.list({
      operationId,
      from: since - lookbackMs,
      limit: pageSize,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const row of page.runs) {
      if (row.status === 'running' || row.endedAt === undefined) continue;
      const at = Date.parse(row.endedAt);
      if (at > since) found.push({ at, manifestPath: row.manifest });
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  found.sort((a, b) => a.at - b.at);
  const manifests = await Promise.all(
    found.slice(-limit).map(({ manifestPath }) => readManifest(manifestPath).catch(() => undefined)),
  );
  return manifests.filter((manifest): manifest is Manifest => manifest !== undefined);
}
