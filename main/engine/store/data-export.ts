import { once } from 'node:events';
import type { DataQuery, DataRecord, DataStore } from './data-store.js';

/** Export formats of the data store. */
export type ExportFormat = 'jsonl' | 'csv';

/** Provenance columns every CSV export starts with. */
export const csvBaseColumns = [
  'id',
  'key',
  'createdAt',
  'updatedAt',
  'operation',
  'run',
  'task',
  'node',
] as const;

/** Quotes a CSV cell when it holds a comma, quote, CR or LF (RFC 4180). */
export function csvCell(value: unknown): string {
  const text =
    value === undefined || value === null
      ? ''
      : typeof value === 'string'
        ? value
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The CSV header: provenance columns, then `data.<field>` per top-level field (`data` for records
 * that are not objects), so a field named like a provenance column (`id`) stays distinct.
 */
export function csvHeader(fields: readonly string[]): string {
  return `${[...csvBaseColumns, ...fields.map((f) => (f === 'data' ? f : `data.${f}`))].map(csvCell).join(',')}\r\n`;
}

/** One CSV line for a record under `fields` (top-level data fields; `data` for non-object records). */
export function csvLine(record: DataRecord, fields: readonly string[]): string {
  const data = record.data;
  const isObject = typeof data === 'object' && data !== null && !Array.isArray(data);
  const cells = [
    record.id,
    record.key,
    record.createdAt,
    record.updatedAt,
    record.operation,
    record.run,
    record.task,
    record.node,
    ...fields.map((f) => (isObject ? (data as Record<string, unknown>)[f] : f === 'data' ? data : undefined)),
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

interface Sink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

async function put(out: Sink, text: string): Promise<void> {
  if (!out.write(text)) await once(out as unknown as NodeJS.EventEmitter, 'drain');
}

/**
 * Streams every record matching `query` to `out` as JSON Lines or CSV, oldest first.
 *
 * Reads in keyset pages (no statement stays open across an await, so a daemon sharing the
 * connection keeps working) and waits for `drain`, so memory stays flat for any collection size.
 */
export async function exportData(
  store: DataStore,
  query: Omit<DataQuery, 'cursor' | 'limit' | 'order'>,
  format: ExportFormat,
  out: Sink,
  options: { signal?: AbortSignal; pageSize?: number } = {},
): Promise<number> {
  const base: DataQuery = { ...query, order: 'asc', limit: options.pageSize ?? 1000 };
  const fields = format === 'csv' ? store.fieldNames(base) : [];
  if (format === 'csv') await put(out, csvHeader(fields));
  let cursor: string | undefined;
  let count = 0;
  do {
    options.signal?.throwIfAborted();
    const page = store.query(cursor === undefined ? base : { ...base, cursor });
    let chunk = '';
    for (const record of page.records) {
      chunk += format === 'csv' ? csvLine(record, fields) : `${JSON.stringify(record)}\n`;
    }
    count += page.records.length;
    if (chunk !== '') await put(out, chunk);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return count;
}
