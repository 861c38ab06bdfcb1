import type { Command } from 'commander';
import { openStateStores } from '../../engine/state/state-stores.js';
import { runningDaemon } from '../../engine/triggers/scheduler-lock.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { viaNode } from '../node-client.js';

type Scope = 'global' | 'node';

function scopeOf(options: { node: boolean }): Scope {
  return options.node ? 'node' : 'global';
}

/** `ultravisor state get [path]`: global state (or node state with --node), as JSON. */
export async function stateGetCommand(
  ctx: CliContext,
  path: string | undefined,
  options: { node: boolean },
): Promise<number> {
  const scope = scopeOf(options);
  const value = await viaNode(
    ctx,
    async ({ client }) =>
      (await client.call('state.get', { scope, ...(path === undefined ? {} : { path }) })).value,
    async () => {
      const doc = (await openStateStores(ctx.dataDir))[scope];
      try {
        return doc.get(path);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    },
  );
  ctx.out.write(`${value === undefined ? 'undefined' : JSON.stringify(value, null, 2)}\n`);
  return value === undefined ? exitCodes.failed : exitCodes.ok;
}

/**
 * `ultravisor state set <path> <json>` (or `--delete`): changes state.
 *
 * Through the running node when there is one, so its runs and condition triggers see the change
 * at once; offline only when no node serves the data dir (it would overwrite the file).
 */
export async function stateSetCommand(
  ctx: CliContext,
  path: string,
  valueText: string | undefined,
  options: { node: boolean; delete: boolean; merge: boolean },
): Promise<number> {
  const scope = scopeOf(options);
  const op = options.delete ? 'delete' : options.merge ? 'merge' : 'set';
  if ((op === 'delete') !== (valueText === undefined)) {
    throw new UsageError(
      'give a JSON value to set (or --delete without one): ultravisor state set <path> <json>',
    );
  }
  let value: unknown;
  if (valueText !== undefined) {
    try {
      value = JSON.parse(valueText);
    } catch {
      // Bare words are strings, so `state set mode quiet` does what it says.
      value = valueText;
    }
  }
  await viaNode(
    ctx,
    async ({ client }) => {
      await client.call('state.set', { scope, path, op, ...(value === undefined ? {} : { value }) });
    },
    async () => {
      const daemon = await runningDaemon(ctx.dataDir);
      if (daemon !== undefined) {
        throw new UsageError(
          `a node (pid ${daemon.pid}) serves ${ctx.dataDir} but its API does not answer: change state through it, or stop it first`,
        );
      }
      const doc = (await openStateStores(ctx.dataDir))[scope];
      try {
        if (op === 'delete') await doc.delete(path);
        else if (op === 'merge') await doc.merge(path, value);
        else await doc.set(path, value);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    },
  );
  ctx.out.write(`${op === 'delete' ? 'deleted' : op === 'merge' ? 'merged into' : 'set'} ${scope} ${path}\n`);
  return exitCodes.ok;
}

export function registerStateCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const state = root.command('state').description('global state (shared by nodes) and node state');
  state
    .command('get')
    .description('print state (whole, or the value at a dotted path) as JSON')
    .argument('[path]', 'dotted path, e.g. weather.oslo')
    .option('--node', 'node state instead of global state', false)
    .action(async (path: string | undefined, opts: { node: boolean }) => {
      setExit(await stateGetCommand(ctx(), path, opts));
    });
  state
    .command('set')
    .description('set the value at a dotted path (JSON, or a bare word as a string)')
    .argument('<path>', 'dotted path')
    .argument('[value]', 'JSON value')
    .option('--node', 'node state instead of global state', false)
    .option('--merge', 'shallow-merge an object into the object there', false)
    .option('--delete', 'remove the value at the path', false)
    .action(
      async (
        path: string,
        value: string | undefined,
        opts: { node: boolean; delete: boolean; merge: boolean },
      ) => {
        setExit(await stateSetCommand(ctx(), path, value, opts));
      },
    );
}
