import type { Command } from 'commander';
import { OperationStore } from '../../engine/operations/operation-store.js';
import { runningDaemon } from '../../engine/triggers/scheduler-lock.js';
import { submitTriggerRequest } from '../../engine/triggers/trigger-requests.js';
import { join } from 'node:path';
import { ApiError } from '../../api/contract-client.js';
import { runDir } from '../../engine/data-dir.js';
import { exitCodes, parseParams, UsageError, type CliContext } from '../cli-context.js';
import { viaNode, type RunningNode } from '../node-client.js';
import { runCommand } from './run-command.js';

export interface TriggerOptions {
  param: string[];
  json: boolean;
}

/**
 * `ultravisor trigger <id>`: runs a saved operation now.
 *
 * With a node serving the data dir, the request is handed to it (a file in `<data-dir>/requests/`)
 * so the run is part of that node: `after` triggers see it end. Without one, it runs here in the
 * foreground, exactly like `ultravisor run` on the saved file.
 */
export async function triggerCommand(ctx: CliContext, id: string, options: TriggerOptions): Promise<number> {
  const params = parseParams(options.param);
  return viaNode(
    ctx,
    (node) => triggerOnNode(ctx, node, id, params, options),
    () => triggerOffline(ctx, id, params, options),
  );
}

/** Starts the run on the running node through its API. */
async function triggerOnNode(
  ctx: CliContext,
  { client, info }: RunningNode,
  id: string,
  params: Record<string, string>,
  options: TriggerOptions,
): Promise<number> {
  let outcome;
  try {
    outcome = await client.call('operations.trigger', { id, params });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'not-found') {
      throw new UsageError(
        `no operation "${id}" is saved in ${ctx.dataDir}: add it with \`ultravisor ops add <file>\``,
      );
    }
    ctx.err.write(`ultravisor trigger: ${err.message}\n`);
    return err.code === 'bad-request' ? exitCodes.invalid : exitCodes.failed;
  }
  if (outcome.outcome !== 'started') {
    const error = outcome.outcome === 'failed' ? outcome.error : `not started: ${outcome.outcome}`;
    ctx.err.write(`ultravisor trigger: ${error}\n`);
    return /unknown param|required|choices/.test(error) ? exitCodes.invalid : exitCodes.failed;
  }
  const manifest = join(runDir(ctx.dataDir, id, outcome.runId), 'manifest.json');
  if (options.json) ctx.out.write(`${JSON.stringify({ runId: outcome.runId, manifest, pid: info.pid })}\n`);
  else
    ctx.out.write(
      `started ${id} on the running node (pid ${info.pid}): run ${outcome.runId}\nmanifest: ${manifest}\n`,
    );
  return exitCodes.ok;
}

/** No node answers: hand the request to a node through the data dir, or run it here. */
async function triggerOffline(
  ctx: CliContext,
  id: string,
  params: Record<string, string>,
  options: TriggerOptions,
): Promise<number> {
  const store = await OperationStore.open(ctx.dataDir, ctx.logger);
  const saved = store.get(id);
  if (saved === undefined) {
    throw new UsageError(
      `no operation "${id}" is saved in ${ctx.dataDir}: add it with \`ultravisor ops add <file>\``,
    );
  }
  const daemon = await runningDaemon(ctx.dataDir);
  if (daemon === undefined) {
    ctx.err.write(`no node is serving ${ctx.dataDir}: running ${id} here in the foreground\n`);
    return runCommand(ctx, saved.file, options);
  }
  const reply = await submitTriggerRequest(ctx.dataDir, id, params, { timeoutMs: 10_000 });
  if (!reply.ok) {
    ctx.err.write(`ultravisor trigger: ${reply.error}\n`);
    return /unknown param|required|choices/.test(reply.error) ? exitCodes.invalid : exitCodes.failed;
  }
  if (options.json)
    ctx.out.write(`${JSON.stringify({ runId: reply.runId, manifest: reply.manifest, pid: daemon.pid })}\n`);
  else
    ctx.out.write(
      `started ${id} on the running node (pid ${daemon.pid}): run ${reply.runId}\nmanifest: ${reply.manifest}\n`,
    );
  return exitCodes.ok;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerTriggerCommand(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  root
    .command('trigger')
    .description(
      'run a saved operation now: on the running node if there is one, else here in the foreground',
    )
    .argument('<id>', 'operation id')
    .option('-p, --param <name=value>', 'set a param (repeatable)', collect, [])
    .option('--json', 'print the run id (or, run here, the manifest) as JSON', false)
    .action(async (id: string, opts: TriggerOptions) => {
      setExit(await triggerCommand(ctx(), id, opts));
    });
}
