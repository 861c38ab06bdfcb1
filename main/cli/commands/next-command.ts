import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { formatDuration } from '../../engine/model/duration.js';
import { loadOperationFile } from '../../engine/model/load-operation.js';
import type { OperationDef } from '../../engine/model/operation.js';
import { OperationStore } from '../../engine/operations/operation-store.js';
import { readControl } from '../../engine/triggers/control-file.js';
import { eventTriggers, upcomingFires } from '../../engine/triggers/upcoming.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';

export interface NextOptions {
  count: string;
  json: boolean;
}

async function findOperation(
  ctx: CliContext,
  target: string,
): Promise<{ operation: OperationDef; saved: boolean }> {
  const store = await OperationStore.open(ctx.dataDir, ctx.logger);
  const saved = store.get(target);
  if (saved !== undefined) return { operation: saved.operation, saved: true };
  if (/[/\\.]/.test(target) && existsSync(target))
    return { operation: (await loadOperationFile(target)).operation, saved: false };
  throw new UsageError(
    `no operation "${target}" is saved in ${ctx.dataDir} (give an id, or the path of an operation file)`,
  );
}

/** `ultravisor next <id|file>`: upcoming fire times, computed here with croner; no daemon needed. */
export async function nextCommand(ctx: CliContext, target: string, options: NextOptions): Promise<number> {
  const count = Number(options.count);
  if (!Number.isInteger(count) || count < 1 || count > 1000)
    throw new UsageError('--count must be a whole number from 1 to 1000');
  const { operation, saved } = await findOperation(ctx, target);
  const control = saved ? await readControl(ctx.dataDir) : undefined;
  const paused = control !== undefined && (control.paused || operation.id in control.pausedOperations);
  const now = Date.now();
  const fires = upcomingFires(operation, now, count);
  const others = eventTriggers(operation);
  if (options.json) {
    ctx.out.write(
      `${JSON.stringify(
        {
          operation: operation.id,
          paused,
          upcoming: fires.map((f) => ({
            at: new Date(f.at).toISOString(),
            trigger: f.triggerId,
            kind: f.kind,
            description: f.description,
          })),
          other: others,
        },
        null,
        2,
      )}\n`,
    );
    return exitCodes.ok;
  }
  if (paused)
    ctx.out.write(`${operation.id} is paused: these times fire only after \`ultravisor ops resume\`\n`);
  if (fires.length === 0) ctx.out.write(`${operation.id} has no schedule, every or at triggers\n`);
  for (const f of fires) {
    ctx.out.write(
      `${new Date(f.at).toISOString()}  in ${formatDuration(f.at - now).padEnd(8)}  ${f.triggerId.padEnd(14)} ${f.description}\n`,
    );
  }
  for (const o of others)
    ctx.out.write(`also ${o.triggerId}: ${o.description}${o.enabled ? '' : ' [disabled]'}\n`);
  return exitCodes.ok;
}

export function registerNextCommand(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  root
    .command('next')
    .description('list the upcoming fire times of an operation (saved id or file), with their triggers')
    .argument('<id>', 'saved operation id, or an operation file to preview')
    .option('-n, --count <n>', 'how many', '5')
    .option('--json', 'as JSON', false)
    .action(async (id: string, opts: NextOptions) => {
      setExit(await nextCommand(ctx(), id, opts));
    });
}
