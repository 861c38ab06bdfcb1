import type { Command } from 'commander';
import { parseDuration } from '../../engine/model/duration.js';
import { CursorError } from '../../engine/store/cursor.js';
import { DataStoreError } from '../../engine/store/data-store.js';
import { WhereError } from '../../engine/store/data-where.js';
import { FileStoreError } from '../../engine/store/file-store.js';
import { reindexStores } from '../../engine/store/reindex.js';
import { RetentionPruner, type PruneReport } from '../../engine/store/retention.js';
import { openStores, type Stores } from '../../engine/store/stores.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';

/** Opens the stores for one command and closes them after, turning store input errors into usage errors. */
export async function withStores<T>(ctx: CliContext, action: (stores: Stores) => Promise<T>): Promise<T> {
  const stores = openStores(ctx.dataDir);
  try {
    return await action(stores);
  } catch (err) {
    if (
      err instanceof WhereError ||
      err instanceof CursorError ||
      err instanceof DataStoreError ||
      err instanceof FileStoreError
    ) {
      throw new UsageError(err.message);
    }
    throw err;
  } finally {
    stores.close();
  }
}

/**
 * Reads a point in time for `--since`/`--until`: an ISO date or date-time, or a duration meaning
 * that long ago (`2h`, `7d`).
 */
export function parseTimeArg(flag: string, text: string, now = Date.now()): number {
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at)) {
    throw new UsageError(
      `${flag} "${text}" is neither a date (2026-01-31, 2026-01-31T08:00:00Z) nor a duration (2h, 7d)`,
    );
  }
  return at;
}

/** Parses `--limit`: a whole number from 1 to `max`. */
export function parseLimit(text: string, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`--limit must be a whole number from 1 to ${max}`);
  return n;
}

function printPrune(ctx: CliContext, report: PruneReport): void {
  const verb = report.dryRun ? 'would remove' : 'removed';
  for (const run of report.removed.slice(0, 200))
    ctx.out.write(`${verb} ${run.runId}  ${run.operationId}  (${run.reason})\n`);
  if (report.removed.length > 200) ctx.out.write(`… and ${report.removed.length - 200} more\n`);
  for (const run of report.skipped) ctx.out.write(`kept ${run.runId}: ${run.why}\n`);
  ctx.out.write(`${verb} ${report.removed.length} run${report.removed.length === 1 ? '' : 's'}\n`);
}

/** `ultravisor store reindex`. */
export async function storeReindexCommand(ctx: CliContext, options: { json: boolean }): Promise<number> {
  return withStores(ctx, async (stores) => {
    const report = await reindexStores(stores, { logger: ctx.logger });
    if (options.json) {
      ctx.out.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      ctx.out.write(
        `indexed ${report.runs} runs and ${report.files} files from ${stores.dataDir}; dropped ${report.removed} stale rows; ` +
          `${report.interrupted.interrupted.length} runs marked interrupted\n`,
      );
      for (const f of report.failed) ctx.err.write(`skipped ${f.path}: ${f.error}\n`);
    }
    return report.failed.length > 0 ? exitCodes.failed : exitCodes.ok;
  });
}

/** `ultravisor store prune`: applies retention now, until nothing more is due. */
export async function storePruneCommand(
  ctx: CliContext,
  options: { dryRun: boolean; json: boolean },
): Promise<number> {
  return withStores(ctx, async (stores) => {
    const pruner = new RetentionPruner(stores, { node: stores.retention, logger: ctx.logger });
    const total: PruneReport = { dryRun: options.dryRun, removed: [], skipped: [], measured: 0, more: false };
    for (;;) {
      const report = await pruner.prune({ dryRun: options.dryRun, limit: options.dryRun ? 100_000 : 1000 });
      total.removed.push(...report.removed);
      total.skipped.push(...report.skipped);
      total.measured += report.measured;
      total.more = report.more;
      if (options.dryRun || !report.more || report.removed.length === 0) break;
    }
    if (options.json) ctx.out.write(`${JSON.stringify(total, null, 2)}\n`);
    else printPrune(ctx, total);
    return exitCodes.ok;
  });
}

/** Registers `store reindex` and `store prune`. */
export function registerStoreCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const store = root.command('store').description('the run index, data and file stores');
  store
    .command('reindex')
    .description('rebuild the run index and file catalogue from the manifests on disk')
    .option('--json', 'print the report as JSON', false)
    .action(async (opts: { json: boolean }) => setExit(await storeReindexCommand(ctx(), opts)));
  store
    .command('prune')
    .description('remove runs past their retention (keepRuns, maxAge, maxSize) now')
    .option('--dry-run', 'only list what would be removed', false)
    .option('--json', 'print the report as JSON', false)
    .action(async (opts: { dryRun: boolean; json: boolean }) =>
      setExit(await storePruneCommand(ctx(), opts)),
    );
}
