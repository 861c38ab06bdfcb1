import { readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeJsonAtomic } from '../atomic-write.js';
import type { Logger } from '../logger.js';
import type { Manifest } from '../model/manifest.js';
import { engineSummary } from '../runner/run-summary.js';
import { readManifest } from './manifest-files.js';
import { isProcessAlive, type ProcessIdentity } from './process-liveness.js';
import { manifestOwner, type RunIndex } from './run-index.js';

export interface InterruptedOptions {
  /** Runs this process is executing right now; never touched. */
  isActive?: (runId: string) => boolean;
  /** Liveness check for a run's owner (tests inject one). */
  isAlive?: (owner: ProcessIdentity) => boolean;
  logger?: Logger;
}

/** What {@link markInterrupted} did. */
export interface InterruptedReport {
  interrupted: string[];
  /** Rows that said `running` while the manifest had ended (index behind): updated. */
  repaired: string[];
  /** Rows whose run folder is gone: removed. */
  removed: string[];
}

const interruptedError = 'the process running it ended (crash, kill or power cut) before the run finished';

/**
 * Marks runs left `running` by a process that is gone as `interrupted`, and repairs the index.
 *
 * The run ends at its manifest's last write (the file's mtime): the last moment anything is known
 * to have happened. Tasks still running or pending are marked cancelled; logs and staging stay.
 * The manifest is rewritten atomically, so a crash during recovery leaves it as it was.
 */
export async function markInterrupted(
  index: RunIndex,
  options: InterruptedOptions = {},
): Promise<InterruptedReport> {
  const report: InterruptedReport = { interrupted: [], repaired: [], removed: [] };
  const isAlive = options.isAlive ?? ((owner: ProcessIdentity) => isProcessAlive(owner));
  for (const row of index.running()) {
    if (options.isActive?.(row.runId)) continue;
    let manifest: Manifest;
    let mtime: Date;
    try {
      [manifest, mtime] = await Promise.all([
        readManifest(row.manifest),
        stat(row.manifest).then((s) => s.mtime),
      ]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        index.remove([row.runId]);
        report.removed.push(row.runId);
      } else {
        options.logger?.warn({ err, manifest: row.manifest }, 'cannot read the manifest of a running run');
      }
      continue;
    }
    if (manifest.status !== 'running') {
      index.recordManifest(manifest);
      report.repaired.push(row.runId);
      continue;
    }
    const owner = manifestOwner(manifest).process;
    if (owner !== undefined && isAlive(owner)) continue;
    interrupt(manifest, mtime);
    await writeJsonAtomic(row.manifest, manifest);
    await removeLeftovers(row.manifest, manifest.links.logs);
    index.recordManifest(manifest);
    report.interrupted.push(row.runId);
    options.logger?.info({ runId: row.runId }, 'marked interrupted');
  }
  return report;
}

/**
 * Removes what a dead writer left half done: temp files of atomic manifest writes (never the
 * manifest itself) and the ring files of task logs that were never folded back (`.<log>.tail`:
 * their bytes cannot be put in order without the writer; the log keeps its head).
 */
async function removeLeftovers(manifestPath: string, logsDir: string): Promise<void> {
  const tempPrefix = `.${basename(manifestPath)}.`;
  const leftovers = [
    ...(await namesIn(dirname(manifestPath)))
      .filter((name) => name.startsWith(tempPrefix) && name.endsWith('.tmp'))
      .map((name) => join(dirname(manifestPath), name)),
    ...(await namesIn(logsDir))
      .filter((name) => /^\..+\.log\.tail$/.test(name))
      .map((name) => join(logsDir, name)),
  ];
  await Promise.all(leftovers.map((path) => rm(path, { force: true })));
}

async function namesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Turns a `running` manifest into an `interrupted` one that ended at `endedAt`. */
export function interrupt(manifest: Manifest, endedAt: Date): void {
  const ended = Math.max(endedAt.getTime(), Date.parse(manifest.startedAt) || 0);
  manifest.status = 'interrupted';
  manifest.endedAt = new Date(ended).toISOString();
  manifest.durationMs = ended - (Date.parse(manifest.startedAt) || ended);
  manifest.error = interruptedError;
  for (const task of manifest.tasks) {
    if (task.status === 'running') {
      task.status = 'cancelled';
      task.error = 'interrupted';
      task.endedAt ??= manifest.endedAt;
    } else if (task.status === 'pending') {
      task.status = 'cancelled';
      task.skipReason = 'the run was interrupted';
    }
    for (const execution of task.executions) {
      if (execution.status !== 'running') continue;
      execution.status = 'cancelled';
      execution.error = 'interrupted';
      execution.endedAt ??= manifest.endedAt;
    }
  }
  manifest.summary = engineSummary(manifest);
}
