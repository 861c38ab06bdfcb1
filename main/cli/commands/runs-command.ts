import type { Command } from 'commander';
import { RunSummaryService } from '../../engine/ai/summary-service.js';
import { openEngine } from '../../engine/open-engine.js';
import { OperationStore } from '../../engine/operations/operation-store.js';
import { formatDuration } from '../../engine/model/duration.js';
import {
  manifestSchema,
  runStatusSchema,
  type Manifest,
  type RunStatus,
} from '../../engine/model/manifest.js';
import { findRunManifest, readManifest } from '../../engine/store/manifest-files.js';
import { ensureIndexed } from '../../engine/store/reindex.js';
import type { RunQuery } from '../../engine/store/run-index.js';
import { ApiError } from '../../api/contract-client.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { viaNode } from '../node-client.js';
import { parseLimit, parseTimeArg, withStores } from './store-command.js';

/** Prints a manifest for people: status, summary, tasks, outputs, where the files are. */
export function printManifest(ctx: CliContext, m: Manifest, options: { tasks: boolean }): void {
  const lines: string[] = [];
  if (m.summary) lines.push('', m.summary.title, `  ${m.summary.text}`);
  if (options.tasks) {
    lines.push(
      '',
      `run ${m.runId}  ${m.operation.id}  ${m.status}  started ${m.startedAt}  trigger ${m.trigger.kind}`,
    );
    for (const t of m.tasks) {
      const took = t.durationMs === undefined ? '' : formatDuration(t.durationMs);
      const note = t.error ?? t.skipReason ?? '';
      const items = t.items === undefined ? '' : ` (${t.items} items)`;
      lines.push(`  ${t.status.padEnd(9)} ${t.id}${items}  ${took}  ${note}`.trimEnd());
    }
  }
  const data = m.outputs.data.map((d) => `${String(d.collection)} (${String(d.count)})`);
  if (data.length > 0) lines.push('', `data:     ${data.join(', ')}`);
  if (m.outputs.files.length > 0) {
    const bytes = m.outputs.files.reduce((sum, f) => sum + f.size, 0);
    lines.push(`${data.length > 0 ? '' : '\n'}files:    ${m.outputs.files.length} (${bytes} bytes)`);
    if (options.tasks) for (const f of m.outputs.files) lines.push(`  ${f.path}`);
  }
  lines.push('', `manifest: ${m.links.manifest}`, `logs:     ${m.links.logs}`);
  if (m.links.staging) lines.push(`staging:  ${m.links.staging}`);
  ctx.out.write(`${lines.join('\n')}\n`);
}

export interface RunsListOptions {
  op?: string;
  status?: string;
  since?: string;
  until?: string;
  search?: string;
  limit: string;
  cursor?: string;
  json: boolean;
}

function parseStatuses(text: string): RunStatus[] {
  return text.split(',').map((s) => {
    const parsed = runStatusSchema.safeParse(s.trim());
    if (!parsed.success)
      throw new UsageError(`--status "${s}" is not one of ${runStatusSchema.options.join(', ')}`);
    return parsed.data;
  });
}

/** `ultravisor runs list`: from the run index, newest first, one page at a time. */
export async function runsListCommand(ctx: CliContext, options: RunsListOptions): Promise<number> {
  const query: RunQuery = { limit: parseLimit(options.limit, 1000) };
  if (options.op !== undefined) query.operationId = options.op;
  if (options.status !== undefined) query.status = parseStatuses(options.status);
  if (options.since !== undefined) query.from = parseTimeArg('--since', options.since);
  if (options.until !== undefined) query.to = parseTimeArg('--until', options.until);
  if (options.search !== undefined) query.text = options.search;
  if (options.cursor !== undefined) query.cursor = options.cursor;
  const page = await viaNode(
    ctx,
    async ({ client }) => {
      try {
        return await client.call('runs.list', query);
      } catch (err) {
        throw err instanceof ApiError && err.code === 'bad-request' ? new UsageError(err.message) : err;
      }
    },
    () =>
      withStores(ctx, async (stores) => {
        const rebuilt = await ensureIndexed(stores, { logger: ctx.logger });
        if (rebuilt) ctx.err.write(`the run index was empty: rebuilt it from ${rebuilt.runs} manifests\n`);
        return stores.runs.list(query);
      }),
  );
  if (options.json) {
    ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
    return exitCodes.ok;
  }
  if (page.runs.length === 0) {
    ctx.out.write(options.cursor === undefined ? `no runs match in ${ctx.dataDir}\n` : 'no more runs\n');
    return exitCodes.ok;
  }
  for (const r of page.runs) {
    const took = r.durationMs === undefined ? '' : formatDuration(r.durationMs);
    ctx.out.write(
      `${r.runId}  ${r.operationId.padEnd(20)} ${r.status.padEnd(11)} ${took.padEnd(8)} ${r.summaryTitle ?? ''}\n`,
    );
  }
  if (page.nextCursor !== undefined) ctx.err.write(`more: --cursor ${page.nextCursor}\n`);
  return exitCodes.ok;
}

/** `ultravisor runs show <runId>`: finds the run in the index (or on disk) and prints its manifest. */
export async function runsShowCommand(
  ctx: CliContext,
  runId: string,
  options: { json: boolean },
): Promise<number> {
  const online = await viaNode(
    ctx,
    async ({ client }) => {
      try {
        return (await client.call('runs.get', { runId })).manifest;
      } catch (err) {
        // Not an exact id the node knows: the offline path also matches prefixes and repairs the index.
        if (err instanceof ApiError && (err.code === 'not-found' || err.code === 'bad-request'))
          return undefined;
        throw err;
      }
    },
    () => Promise.resolve(undefined),
  );
  if (online !== undefined) {
    const manifest = manifestSchema.parse(online);
    if (options.json) ctx.out.write(`${JSON.stringify(manifest, null, 2)}\n`);
    else printManifest(ctx, manifest, { tasks: true });
    return exitCodes.ok;
  }
  return withStores(ctx, async (stores) => {
    await ensureIndexed(stores, { logger: ctx.logger });
    const matches = stores.runs.findByPrefix(runId, 2);
    if (matches.length > 1) throw new UsageError(`"${runId}" matches more than one run: give more of the id`);
    let path = matches[0]?.manifest;
    if (path === undefined) {
      // Not indexed (made by an engine without stores, or the index is behind): look on disk.
      path = await findRunManifest(ctx.dataDir, runId);
    }
    const manifest = path === undefined ? undefined : await readManifest(path).catch(() => undefined);
    if (manifest === undefined) {
      if (matches[0] !== undefined) stores.runs.remove([matches[0].runId]);
      ctx.err.write(`no run ${runId} in ${ctx.dataDir}\n`);
      return exitCodes.invalid;
    }
    stores.runs.recordManifest(manifest);
    if (options.json) ctx.out.write(`${JSON.stringify(manifest, null, 2)}\n`);
    else printManifest(ctx, manifest, { tasks: true });
    return exitCodes.ok;
  });
}

/** Registers `runs list` and `runs show`. */
export function registerRunsCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const runs = root.command('runs').description('past and current runs');
  runs
    .command('list')
    .description('list runs from the run index, newest first')
    .option('--op <id>', 'only this operation')
    .option(
      '--status <status>',
      'only these statuses (comma-separated: running, success, failure, cancelled, interrupted)',
    )
    .option('--since <when>', 'started at or after: an ISO date/time or a duration ago (2h, 7d)')
    .option('--until <when>', 'started before: an ISO date/time or a duration ago')
    .option('--search <text>', 'text in the summary, the error or the operation id')
    .option('--limit <n>', 'at most this many', '20')
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', 'as JSON: { runs, nextCursor }', false)
    .action(async (opts: RunsListOptions) => setExit(await runsListCommand(ctx(), opts)));
  runs
    .command('show')
    .description('show one run: status, summary, tasks, outputs, links')
    .argument('<runId>', 'run id or a unique prefix of one')
    .option('--json', 'print the manifest as JSON', false)
    .action(async (runId: string, opts: { json: boolean }) =>
      setExit(await runsShowCommand(ctx(), runId, opts)),
    );
  runs
    .command('summarize')
    .description("write a finished run's summary again, with the LLM when one is configured")
    .argument('<runId>', 'run id')
    .option('--json', 'print the summary as JSON', false)
    .action(async (runId: string, opts: { json: boolean }) =>
      setExit(await runsSummarizeCommand(ctx(), runId, opts)),
    );
}

/** `ultravisor runs summarize <runId>`: on the running node if there is one, else here. */
export async function runsSummarizeCommand(
  ctx: CliContext,
  runId: string,
  options: { json: boolean },
): Promise<number> {
  const summary = await viaNode(
    ctx,
    async ({ client }) => (await client.call('runs.summarize', { runId })).summary,
    async () => {
      // As `serve` would: the saved operation's `llm:` override applies to its runs' summaries.
      const operations = await OperationStore.open(ctx.dataDir, ctx.logger);
      const engine = await openEngine(ctx.dataDir, ctx.logger);
      try {
        const summaries = new RunSummaryService({
          engine,
          findOperation: (id) => operations.get(id)?.operation,
          logger: ctx.logger,
        });
        return await summaries.retry(runId);
      } finally {
        engine.close();
      }
    },
  );
  if (options.json) ctx.out.write(`${JSON.stringify(summary, null, 2)}\n`);
  else
    ctx.out.write(
      `${summary.title}\n  ${summary.text}\n  (${summary.source}${summary.model === undefined ? '' : `, ${summary.model}`})\n`,
    );
  return exitCodes.ok;
}
