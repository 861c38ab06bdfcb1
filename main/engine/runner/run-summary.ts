import { formatDuration } from '../model/duration.js';
import type { Manifest, RunSummary } from '../model/manifest.js';

/**
 * A plain, factual summary of a finished run, written by the engine itself.
 *
 * It is what the manifest holds when no LLM is configured, and the base an LLM summary improves on.
 */
export function engineSummary(manifest: Manifest): RunSummary {
  const name = manifest.operation.name ?? manifest.operation.id;
  const took = manifest.durationMs === undefined ? '' : ` in ${formatDuration(manifest.durationMs)}`;
  const counts = new Map<string, number>();
  for (const task of manifest.tasks) counts.set(task.status, (counts.get(task.status) ?? 0) + 1);
  const tally = [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(', ');
  const failed = manifest.tasks.find((t) => t.status === 'failure' || t.status === 'timeout');
  const verb: Record<string, string> = {
    success: 'succeeded',
    failure: 'failed',
    cancelled: 'was cancelled',
    interrupted: 'was interrupted',
    running: 'is running',
  };
  const title = `${name} ${verb[manifest.status] ?? manifest.status}${took}`;
  const parts = [`${manifest.tasks.length} task${manifest.tasks.length === 1 ? '' : 's'}: ${tally}.`];
  if (failed) {
    const code = failed.exitCode === undefined ? '' : ` (exit code ${failed.exitCode})`;
    parts.push(
      `Task ${failed.id} ${failed.status === 'timeout' ? 'timed out' : 'failed'}${code}: ${failed.error ?? 'no error message'}.`,
    );
  } else if (manifest.error) {
    parts.push(manifest.error);
  }
  return { title, text: parts.join(' '), source: 'engine' };
}
