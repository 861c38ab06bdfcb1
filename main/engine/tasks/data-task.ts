import type { DataInput } from '../store/data-store.js';
import { TaskFailure, type TaskKind } from './task-kind.js';

/** How many record ids a task's output lists; a bigger write lists the first ones and says so. */
export const maxOutputIds = 1000;

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The value at a dotted path inside a record, as a key: text, or a number turned into text. */
function keyAt(record: unknown, path: string, index: number): string {
  let value: unknown = record;
  for (const part of path.split('.')) {
    value =
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)[part]
        : undefined;
  }
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new TaskFailure(
    `records[${index}]: keyField "${path}" is ${describeValue(value)}, not text or a number`,
  );
}

/** The list `records` names: a literal list, or a template yielding a list (or JSON text of one). */
function recordList(value: unknown, source: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string') {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // reported below
    }
  }
  throw new TaskFailure(`records: ${describeValue(source)} gave ${describeValue(value)}, not a list`);
}

/** `data:` — append or upsert one record or a list of records in a collection of the data store. */
export const dataTask: TaskKind<'data'> = {
  kind: 'data',
  run(ctx) {
    const { spec, outputs } = ctx;
    if (outputs === undefined) {
      return Promise.reject(
        new TaskFailure('the data task needs the output data store, and this engine has none'),
      );
    }
    const collection = ctx.renderString(spec.collection);
    let records: DataInput[];
    if (spec.records !== undefined) {
      const list = recordList(
        typeof spec.records === 'string' ? ctx.render(spec.records) : ctx.renderDeep(spec.records),
        spec.records,
      );
      const keyField = spec.keyField;
      records = list.map((data, i) =>
        keyField === undefined ? { data } : { data, key: keyAt(data, keyField, i) },
      );
    } else {
      const data = ctx.renderDeep(spec.record);
      const key = spec.key === undefined ? undefined : ctx.renderString(spec.key);
      if (key === '') return Promise.reject(new TaskFailure(`key: "${spec.key ?? ''}" rendered empty`));
      records = [key === undefined ? { data } : { data, key }];
    }
    for (const field of spec.index) outputs.ensureDataIndex(collection, field);
    const result = outputs.writeData(collection, records, spec.mode);
    const count = result.inserted + result.updated;
    ctx.log.note(`${spec.mode} into ${collection}: ${result.inserted} inserted, ${result.updated} updated`);
    return Promise.resolve({
      output: {
        collection,
        mode: spec.mode,
        count,
        inserted: result.inserted,
        updated: result.updated,
        ids: result.ids.slice(0, maxOutputIds),
        ...(result.ids.length > maxOutputIds ? { idsTruncated: true } : {}),
      },
    });
  },
};
