import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { csvHeader, csvLine, exportData, type ExportFormat } from '../../engine/store/data-export.js';
import type { DataQuery, DataRecord } from '../../engine/store/data-store.js';
import { ApiError } from '../../api/contract-client.js';
import { exitCodes, UsageError, type CliContext } from '../cli-context.js';
import { viaNode } from '../node-client.js';
import { parseLimit, parseTimeArg, withStores } from './store-command.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Filters shared by `data query` and `data export`. */
export interface DataFilterOptions {
  where: string[];
  key?: string;
  op?: string;
  run?: string;
  since?: string;
  until?: string;
}

export interface DataQueryOptions extends DataFilterOptions {
  order: string;
  limit: string;
  cursor?: string;
  json: boolean;
  csv: boolean;
}

function filters(collection: string, options: DataFilterOptions): DataQuery {
  const query: DataQuery = { collection, where: options.where };
  if (options.key !== undefined) query.key = options.key;
  if (options.op !== undefined) query.operationId = options.op;
  if (options.run !== undefined) query.runId = options.run;
  if (options.since !== undefined) query.from = parseTimeArg('--since', options.since);
  if (options.until !== undefined) query.to = parseTimeArg('--until', options.until);
  return query;
}

/** Top-level fields of the object records on a page, in first-seen order. */
function pageFields(records: readonly DataRecord[]): string[] {
  const fields = new Set<string>();
  let scalar = false;
  for (const r of records) {
    if (typeof r.data === 'object' && r.data !== null && !Array.isArray(r.data)) {
      for (const k of Object.keys(r.data)) fields.add(k);
    } else {
      scalar = true;
    }
  }
  if (scalar) fields.add('data');
  return [...fields];
}

/** `ultravisor data query <collection>`. */
export async function dataQueryCommand(
  ctx: CliContext,
  collection: string,
  options: DataQueryOptions,
): Promise<number> {
  if (options.json && options.csv) throw new UsageError('choose one of --json and --csv');
  if (options.order !== 'asc' && options.order !== 'desc') throw new UsageError('--order is asc or desc');
  const query: DataQuery = {
    ...filters(collection, options),
    order: options.order,
    limit: parseLimit(options.limit, 10_000),
    ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
  };
  const page = await viaNode(
    ctx,
    async ({ client }) => {
      try {
        return await client.call('data.query', {
          ...query,
          where: query.where?.filter((w): w is string => typeof w === 'string'),
        });
      } catch (err) {
        throw err instanceof ApiError && err.code === 'bad-request' ? new UsageError(err.message) : err;
      }
    },
    () => withStores(ctx, (stores) => Promise.resolve(stores.data.query(query))),
  );
  if (options.json) {
    ctx.out.write(`${JSON.stringify(page, null, 2)}\n`);
  } else if (options.csv) {
    const fields = pageFields(page.records);
    ctx.out.write(csvHeader(fields));
    for (const r of page.records) ctx.out.write(csvLine(r, fields));
  } else if (page.records.length === 0) {
    ctx.out.write(`no records match in ${collection}\n`);
  } else {
    for (const r of page.records) {
      const text = JSON.stringify(r.data);
      ctx.out.write(
        `${String(r.id).padStart(8)}  ${r.createdAt}  ${(r.key ?? '-').padEnd(16)} ${text.length > 120 ? `${text.slice(0, 117)}...` : text}\n`,
      );
    }
  }
  if (page.nextCursor !== undefined && !options.json) ctx.err.write(`more: --cursor ${page.nextCursor}\n`);
  return exitCodes.ok;
}

/** `ultravisor data export <collection>`: streams JSONL or CSV to a file (atomically) or stdout. */
export async function dataExportCommand(
  ctx: CliContext,
  collection: string,
  options: DataFilterOptions & { format: string; out?: string },
): Promise<number> {
  if (options.format !== 'jsonl' && options.format !== 'csv')
    throw new UsageError('--format is jsonl or csv');
  const format: ExportFormat = options.format;
  const query = filters(collection, options);
  return withStores(ctx, async (stores) => {
    if (options.out === undefined) {
      await exportData(stores.data, query, format, ctx.out);
      return exitCodes.ok;
    }
    const target = resolve(options.out);
    const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    const stream = createWriteStream(tmp, { flags: 'wx' });
    try {
      const count = await exportData(stores.data, query, format, stream);
      stream.end();
      await once(stream, 'finish');
      await rename(tmp, target);
      ctx.err.write(`exported ${count} records to ${target}\n`);
    } catch (err) {
      stream.destroy();
      await rm(tmp, { force: true });
      throw err;
    }
    return exitCodes.ok;
  });
}

/** `ultravisor data collections`. */
export async function dataCollectionsCommand(ctx: CliContext, options: { json: boolean }): Promise<number> {
  return withStores(ctx, (stores) => {
    const list = stores.data.collections();
    if (options.json) ctx.out.write(`${JSON.stringify(list, null, 2)}\n`);
    else if (list.length === 0) ctx.out.write('no collections yet\n');
    else for (const c of list) ctx.out.write(`${c.collection.padEnd(30)} ${c.count}\n`);
    return Promise.resolve(exitCodes.ok);
  });
}

/** `ultravisor data index <collection> <field>`. */
export async function dataIndexCommand(ctx: CliContext, collection: string, field: string): Promise<number> {
  return withStores(ctx, (stores) => {
    const result = stores.data.ensureIndex(collection, field);
    ctx.out.write(
      `${result.created ? 'created' : 'already had'} index ${result.index} on ${collection}.${field}\n`,
    );
    return Promise.resolve(exitCodes.ok);
  });
}

function filterOptions(command: Command): Command {
  return command
    .option(
      '--where <expr>',
      'field op value, e.g. "data.temp > 20" (repeatable; all must hold)',
      collect,
      [],
    )
    .option('--key <key>', 'only the record with this key')
    .option('--op <id>', 'only records written by this operation')
    .option('--run <id>', 'only records written by this run')
    .option('--since <when>', 'created at or after: an ISO date/time or a duration ago (2h, 7d)')
    .option('--until <when>', 'created before: an ISO date/time or a duration ago');
}

/** Registers `data query|export|collections|index`. */
export function registerDataCommands(
  root: Command,
  ctx: () => CliContext,
  setExit: (code: number) => void,
): void {
  const data = root.command('data').description('the output data store: collections of JSON records');
  filterOptions(
    data.command('query').description('records of a collection, newest first').argument('<collection>'),
  )
    .option('--order <order>', 'asc (oldest first) or desc (newest first)', 'desc')
    .option('--limit <n>', 'at most this many', '50')
    .option('--cursor <cursor>', 'the next page, as printed after the previous one')
    .option('--json', 'as JSON: { records, nextCursor }', false)
    .option('--csv', 'as CSV (one column per top-level field)', false)
    .action(async (collection: string, opts: DataQueryOptions) =>
      setExit(await dataQueryCommand(ctx(), collection, opts)),
    );
  filterOptions(
    data
      .command('export')
      .description('every matching record, oldest first, streamed')
      .argument('<collection>'),
  )
    .requiredOption('--format <format>', 'jsonl or csv')
    .option('--out <file>', 'write to this file (atomically) instead of stdout')
    .action(async (collection: string, opts: DataFilterOptions & { format: string; out?: string }) =>
      setExit(await dataExportCommand(ctx(), collection, opts)),
    );
  data
    .command('collections')
    .description('collections and their record counts')
    .option('--json', 'as JSON', false)
    .action(async (opts: { json: boolean }) => setExit(await dataCollectionsCommand(ctx(), opts)));
  data
    .command('index')
    .description('index a JSON field so queries on it stay fast in big collections')
    .argument('<collection>')
    .argument('<field>', 'e.g. city or data.weather.temp')
    .action(async (collection: string, field: string) =>
      setExit(await dataIndexCommand(ctx(), collection, field)),
    );
}
