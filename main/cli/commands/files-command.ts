import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { parseLimit, withStores } from './store-command.js';

export interface FilesListOptions {
  op?: string;
  run?: string;
  limit: string;
  cursor?: string;
  json: boolean;
}

/** `ultravisor files list`: catalogued output files, newest first. */
export async function filesListCommand(ctx: CliContext, options: FilesListOptions): Promise<number> {
  return withStores(ctx, (stores) => {
    const page = stores.files.list({
      ...(options.op === undefined ? {} : { operationId: options.op }),
      ...(options.run === undefined ? {} : { runId: options.run }),
      limit: parseLimit(options.limit, 10_000),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
    if (options.json) {
      ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
      return Promise.resolve(exitCodes.ok);
    }
    if (page.files.length === 0) ctx.out.write('no files match\n');
    for (const f of page.files) {
      ctx.out.write(
        `${String(f.id).padStart(6)}  ${f.operationId.padEnd(20)} ${f.runId}  ${String(f.size).padStart(10)}  ${f.mediaType.padEnd(24)} ${f.name}\n`,
      );
    }
    if (page.nextCursor !== undefined) ctx.err.write(`more: --cursor ${page.nextCursor}\n`);
    return Promise.resolve(exitCodes.ok);
  });
}

/** `ultravisor files path <id>`: the absolute path of a catalogued file (for scripts). */
export async function filesPathCommand(ctx: CliContext, id: string): Promise<number> {
  const n = Number(id);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`"${id}" is not a file id: see ultravisor files list`);
  return withStores(ctx, async (stores) => {
    const file = stores.files.get(n);
    if (file === undefined) {
      ctx.err.write(`no file ${id} in the catalogue of ${ctx.dataDir}\n`);
      return exitCodes.invalid;
    }
    const info = await stat(file.path).catch(() => undefined);
    if (!info?.isFile()) {
      ctx.err.write(
        `file ${id} is catalogued at ${file.path} but is missing on disk; ultravisor store reindex drops it\n`,
      );
      return exitCodes.failed;
    }
    ctx.out.write(`${file.path}\n`);
    return exitCodes.ok;
  });
}

/** Registers `files list` and `files path`. */
export function registerFilesCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const files = root.command('files').description('the output file store');
  files
    .command('list')
    .description('catalogued output files, newest first')
    .option('--op <id>', 'only this operation')
    .option('--run <id>', 'only this run')
    .option('--limit <n>', 'at most this many', '50')
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', 'as JSON: { files, nextCursor }', false)
    .action(async (opts: FilesListOptions) => setExit(await filesListCommand(ctx(), opts)));
  files
    .command('path')
    .description('print the absolute path of a stored file')
    .argument('<id>', 'file id from files list')
    .action(async (id: string) => setExit(await filesPathCommand(ctx(), id)));
}
