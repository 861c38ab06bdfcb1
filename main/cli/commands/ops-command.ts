import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatDuration } from '../../engine/model/duration.js';
import { parseOperation } from '../../engine/model/load-operation.js';
import { OperationFileError } from '../../engine/model/operation-error.js';
import { OperationStore } from '../../engine/operations/operation-store.js';
import { readControl, setNodePaused, setOperationPaused } from '../../engine/triggers/control-file.js';
import { describeTrigger } from '../../engine/triggers/describe-trigger.js';
import { runningDaemon } from '../../engine/triggers/scheduler-lock.js';
import { upcomingFires } from '../../engine/triggers/upcoming.js';
import { triggerIds } from '../../engine/model/trigger-spec.js';
import { ApiError } from '../../api/contract-client.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { viaNode } from '../node-client.js';

/** Turns the node's `not-found` into the same usage error the offline path gives. */
function notSaved(ctx: CliContext, id: string, err: unknown): unknown {
  return err instanceof ApiError && err.code === 'not-found'
    ? new UsageError(`no operation "${id}" is saved in ${ctx.dataDir}`)
    : err;
}

/** One line on whether a daemon will pick the change up. */
export async function daemonNote(ctx: CliContext, what: string): Promise<string> {
  const daemon = await runningDaemon(ctx.dataDir);
  return daemon === undefined
    ? `no node is serving ${ctx.dataDir}: this takes effect when \`ultravisor serve\` starts`
    : `the running node (pid ${daemon.pid}) ${what} now`;
}

async function openStore(ctx: CliContext): Promise<OperationStore> {
  return OperationStore.open(ctx.dataDir, ctx.logger);
}

/** `ops add <files...>`: validates every file first, so one bad file saves nothing. */
export async function opsAddCommand(ctx: CliContext, files: readonly string[]): Promise<number> {
  const texts: { file: string; text: string }[] = [];
  const errors: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push(`${file}: cannot read the file: ${(err as Error).message}`);
      continue;
    }
    try {
      parseOperation(text, file);
      texts.push({ file, text });
    } catch (err) {
      if (!(err instanceof OperationFileError)) throw err;
      errors.push(err.message);
    }
  }
  if (errors.length > 0) {
    ctx.err.write(`${errors.join('\n')}\nnothing was saved\n`);
    return exitCodes.invalid;
  }
  const added: { id: string; file: string; replaced: boolean; warnings: string[] }[] = await viaNode(
    ctx,
    async ({ client }) => {
      const out = [];
      for (const { file, text } of texts)
        out.push(await client.call('operations.save', { text, source: file }));
      return out;
    },
    async () => {
      const store = await openStore(ctx);
      const out = [];
      for (const { file, text } of texts) {
        const { saved, replaced, warnings } = await store.add(text, file);
        out.push({ id: saved.id, file: saved.file, replaced, warnings });
      }
      return out;
    },
  );
  for (const { id, file, replaced, warnings } of added) {
    ctx.out.write(`${replaced ? 'replaced' : 'added'} ${id} → ${file}\n`);
    for (const warning of warnings) ctx.out.write(`  warning: ${warning}\n`);
  }
  ctx.out.write(`${await daemonNote(ctx, 'arms the triggers')}\n`);
  return exitCodes.ok;
}

/** `ops list`: every saved operation, paused or not, its triggers and next fire time. */
export async function opsListCommand(ctx: CliContext, options: { json: boolean }): Promise<number> {
  const now = Date.now();
  const listed = await viaNode<OpsListing>(
    ctx,
    async ({ client }) => {
      const result = await client.call('operations.list');
      return {
        paused: result.paused,
        problems: result.problems,
        rows: result.operations.map((op) => ({
          id: op.id,
          name: op.name,
          paused: op.paused,
          file: op.file,
          overlap: op.overlap,
          triggers: op.triggers.map((t) => ({
            id: t.id,
            kind: t.kind,
            enabled: t.enabled,
            description: t.description,
          })),
          ...(op.next === undefined ? {} : { next: op.next }),
        })),
      };
    },
    () => opsListOffline(ctx, now),
  );
  const { rows, problems } = listed;
  const control = { paused: listed.paused };
  if (options.json) {
    ctx.out.write(`${JSON.stringify({ paused: control.paused, operations: rows, problems }, null, 2)}\n`);
    return exitCodes.ok;
  }
  if (control.paused) ctx.out.write('the node is paused (ultravisor ops resume --all)\n');
  if (rows.length === 0)
    ctx.out.write(`no operations saved in ${ctx.dataDir}: add one with \`ultravisor ops add <file>\`\n`);
  for (const row of rows) {
    const next =
      row.next === undefined
        ? ''
        : `  next ${row.next.at} (in ${formatDuration(Math.max(0, Date.parse(row.next.at) - now))})`;
    ctx.out.write(`${row.id}${row.paused ? '  (paused)' : ''}${next}\n`);
    if (row.triggers.length === 0) ctx.out.write('    manual only\n');
    for (const t of row.triggers) {
      ctx.out.write(`    ${(t.id ?? '').padEnd(14)} ${t.description}${t.enabled ? '' : '  [disabled]'}\n`);
    }
  }
  for (const p of problems) ctx.out.write(`! ${p.error}\n`);
  return exitCodes.ok;
}

/** What `ops list` shows, from the node or from the data dir. */
interface OpsListing {
  paused: boolean;
  rows: {
    id: string;
    name: string | undefined;
    paused: boolean;
    file: string;
    overlap: string;
    triggers: { id: string | undefined; kind: string; enabled: boolean; description: string }[];
    next?: { at: string; trigger: string };
  }[];
  problems: { file: string; error: string }[];
}

/** The rows of `ops list` read from the data dir, as the node would list them. */
async function opsListOffline(ctx: CliContext, now: number): Promise<OpsListing> {
  const store = await openStore(ctx);
  const control = await readControl(ctx.dataDir);
  const rows = store.list().map((saved) => {
    const ids = triggerIds(saved.operation.triggers);
    const next = upcomingFires(saved.operation, now, 1)[0];
    return {
      id: saved.id,
      name: saved.operation.name,
      paused: saved.id in control.pausedOperations,
      file: saved.file,
      overlap: saved.operation.overlap,
      triggers: saved.operation.triggers.map((t, i) => ({
        id: ids[i],
        kind: t.kind,
        enabled: t.enabled,
        description: describeTrigger(t),
      })),
      ...(next === undefined
        ? {}
        : { next: { at: new Date(next.at).toISOString(), trigger: next.triggerId } }),
    };
  });
  return { paused: control.paused, rows, problems: store.listProblems() };
}

export async function opsShowCommand(ctx: CliContext, id: string): Promise<number> {
  const text = await viaNode(
    ctx,
    async ({ client }) => {
      try {
        return (await client.call('operations.get', { id })).text;
      } catch (err) {
        throw notSaved(ctx, id, err);
      }
    },
    async () => (await openStore(ctx)).get(id)?.text,
  );
  if (text === undefined) throw new UsageError(`no operation "${id}" is saved in ${ctx.dataDir}`);
  ctx.out.write(text.endsWith('\n') ? text : `${text}\n`);
  return exitCodes.ok;
}

export async function opsRemoveCommand(ctx: CliContext, id: string): Promise<number> {
  await viaNode(
    ctx,
    async ({ client }) => {
      try {
        await client.call('operations.delete', { id });
      } catch (err) {
        throw notSaved(ctx, id, err);
      }
    },
    async () => {
      const store = await openStore(ctx);
      if (!(await store.remove(id))) throw new UsageError(`no operation "${id}" is saved in ${ctx.dataDir}`);
      const control = await readControl(ctx.dataDir);
      if (id in control.pausedOperations) await setOperationPaused(ctx.dataDir, id, false);
    },
  );
  ctx.out.write(`removed ${id}\n${await daemonNote(ctx, 'disarms it')}\n`);
  return exitCodes.ok;
}

/** `ops pause|resume <id>` or `--all` for the whole node. */
export async function opsPauseCommand(
  ctx: CliContext,
  id: string | undefined,
  options: { all: boolean },
  paused: boolean,
): Promise<number> {
  const verb = paused ? 'pause' : 'resume';
  if (options.all === (id !== undefined))
    throw new UsageError(`give an operation id or --all: ultravisor ops ${verb} <id>|--all`);
  await viaNode(
    ctx,
    async ({ client }) => {
      if (id === undefined) await client.call(paused ? 'node.pause' : 'node.resume');
      else {
        try {
          await client.call(paused ? 'operations.pause' : 'operations.resume', { id });
        } catch (err) {
          throw notSaved(ctx, id, err);
        }
      }
    },
    async () => {
      if (id === undefined) await setNodePaused(ctx.dataDir, paused);
      else {
        const store = await openStore(ctx);
        if (!store.has(id)) throw new UsageError(`no operation "${id}" is saved in ${ctx.dataDir}`);
        await setOperationPaused(ctx.dataDir, id, paused);
      }
    },
  );
  ctx.out.write(`${paused ? 'paused' : 'resumed'} ${id ?? 'the node'}\n`);
  ctx.out.write(
    `${await daemonNote(ctx, paused ? 'stops firing it' : 'fires it again (from now; nothing is caught up)')}\n`,
  );
  return exitCodes.ok;
}

export function registerOpsCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const ops = root
    .command('ops')
    .description("this node's saved operations (a running `serve` picks changes up)");
  ops
    .command('add')
    .description('validate and save operation files (replacing saved versions of the same id)')
    .argument('<files...>', 'operation files (YAML or JSON)')
    .action(async (files: string[]) => {
      setExit(await opsAddCommand(ctx(), files));
    });
  ops
    .command('list')
    .description('list saved operations, their triggers and next fire times')
    .option('--json', 'as JSON', false)
    .action(async (opts: { json: boolean }) => {
      setExit(await opsListCommand(ctx(), opts));
    });
  ops
    .command('show')
    .description('print a saved operation as it was added')
    .argument('<id>')
    .action(async (id: string) => {
      setExit(await opsShowCommand(ctx(), id));
    });
  ops
    .command('remove')
    .description('remove a saved operation (its runs stay)')
    .argument('<id>')
    .action(async (id: string) => {
      setExit(await opsRemoveCommand(ctx(), id));
    });
  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    ops
      .command(verb)
      .description(
        paused
          ? 'stop firing an operation (or the whole node with --all); manual triggers still run'
          : 'fire an operation (or the whole node) again, from now on',
      )
      .argument('[id]')
      .option('--all', 'the whole node', false)
      .action(async (id: string | undefined, opts: { all: boolean }) => {
        setExit(await opsPauseCommand(ctx(), id, opts, paused));
      });
  }
}
