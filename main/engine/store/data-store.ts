import { createHash } from 'node:crypto';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from './cursor.js';
import { migrate, type Database, type Migration } from './database.js';
import { StatementCache } from './statement-cache.js';
import { fieldToPath, parseWhere, safeJsonPath, whereToSql, type WhereClause } from './data-where.js';
import { SqlFilter, type SqlValue } from './sql-filter.js';

const migrations: Migration[] = [
  {
    version: 1,
    description: 'data_records and data_indexes',
    up(db) {
      db.exec(`
        CREATE TABLE data_records (
          id INTEGER PRIMARY KEY,
          collection TEXT NOT NULL,
          key TEXT,
          data TEXT NOT NULL,
          operation_id TEXT,
          run_id TEXT,
          task_id TEXT,
          node_id TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX data_records_key ON data_records (collection, key) WHERE key IS NOT NULL;
        CREATE INDEX data_records_created ON data_records (collection, created_at, id);
        CREATE INDEX data_records_run ON data_records (run_id);
        CREATE INDEX data_records_operation ON data_records (operation_id, created_at);
        CREATE TABLE data_indexes (
          collection TEXT NOT NULL,
          path TEXT NOT NULL,
          index_name TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          PRIMARY KEY (collection, path)
        );
      `);
    },
  },
];

/** Collection names: plain words, so they read well in commands and file names of exports. */
export const collectionPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const maxKeyLength = 1024;
/** One record's JSON; bigger belongs in the file store. */
export const maxRecordBytes = 8 * 1024 * 1024;

/** Where a record came from. */
export interface DataProvenance {
  operationId?: string;
  runId?: string;
  taskId?: string;
  nodeId?: string;
}

/** One record to write: its data and, for upserts, its key. */
export interface DataInput {
  key?: string;
  data: unknown;
}

/** What a write did. */
export interface DataWriteResult {
  collection: string;
  inserted: number;
  updated: number;
  ids: number[];
}

/** One stored record. */
export interface DataRecord {
  id: number;
  collection: string;
  key?: string;
  data: unknown;
  operation?: string;
  run?: string;
  task?: string;
  node?: string;
  createdAt: string;
  updatedAt: string;
}

/** A data query; every field narrows it. */
export interface DataQuery {
  collection: string;
  key?: string;
  operationId?: string;
  runId?: string;
  /** Created at or after (ms since the epoch). */
  from?: number;
  /** Created before (ms since the epoch). */
  to?: number;
  /** Clauses such as `data.temp > 20`, all of which must hold. */
  where?: readonly (string | WhereClause)[];
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string;
}

export interface DataPage {
  records: DataRecord[];
  nextCursor?: string;
}

/** Bad input to the data store (collection name, key, record); nothing was written. */
export class DataStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataStoreError';
  }
}

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().transform((v) => v ?? undefined);
const recordRowSchema = z.object({
  id: z.number(),
  collection: z.string(),
  key: nullable(z.string()),
  data: z.string(),
  operation_id: nullable(z.string()),
  run_id: nullable(z.string()),
  task_id: nullable(z.string()),
  node_id: nullable(z.string()),
  created_at: z.number(),
  updated_at: z.number(),
});
type RecordRow = z.output<typeof recordRowSchema>;
const dataCursorKey = z.tuple([z.number(), z.number()]);
const maxPage = 10_000;

/** Checks a collection name, with an error that says what is allowed. */
export function checkCollection(collection: string): string {
  if (!collectionPattern.test(collection)) {
    throw new DataStoreError(
      `collection "${collection}" is not a valid name: use letters, digits, _, . and - (starting with a letter or digit, at most 128)`,
    );
  }
  return collection;
}

/**
 * The output data store: collections of JSON records with where they came from.
 *
 * Records are appended, or upserted by `(collection, key)`. Queries filter by collection, key,
 * operation, run, time and JSON fields; a field queried often gets an expression index with
 * {@link ensureIndex}.
 */
export class DataStore {
  private readonly insert;
  private readonly updateByKey;
  private readonly idByKey;
  private readonly statements: StatementCache;

  constructor(private readonly db: Database) {
    migrate(db, 'data', migrations);
    this.statements = new StatementCache(db);
    this.insert = db.prepare(`
      INSERT INTO data_records (collection, key, data, operation_id, run_id, task_id, node_id, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.updateByKey = db.prepare(`
      UPDATE data_records SET data = ?, operation_id = ?, run_id = ?, task_id = ?, node_id = ?, updated_at = ?
      WHERE id = ?`);
    this.idByKey = db.prepare('SELECT id FROM data_records WHERE collection = ? AND key = ?').pluck();
  }

  /**
   * Writes records in one transaction: all land or none.
   *
   * `append` adds each record (a key that already exists fails the write); `upsert` replaces the
   * record with the same key, keeping its id and createdAt.
   */
  write(
    collection: string,
    records: readonly DataInput[],
    mode: 'append' | 'upsert',
    provenance: DataProvenance = {},
    now = Date.now(),
  ): DataWriteResult {
    checkCollection(collection);
    const prepared = records.map((record, i) => {
      const where = records.length === 1 ? 'the record' : `record ${i}`;
      if (record.key !== undefined && (record.key === '' || record.key.length > maxKeyLength)) {
        throw new DataStoreError(`${where}: a key must hold 1 to ${maxKeyLength} characters`);
      }
      if (mode === 'upsert' && record.key === undefined) {
        throw new DataStoreError(`${where}: upsert needs a key (set key, or keyField for a list)`);
      }
      const json = JSON.stringify(record.data);
      if (typeof json !== 'string')
        throw new DataStoreError(`${where}: the data is not JSON (undefined or a function)`);
      if (json.length > maxRecordBytes) {
        throw new DataStoreError(
          `${where}: ${json.length} bytes of JSON is over the ${maxRecordBytes}-byte limit; store big content as a file`,
        );
      }
      return { key: record.key, json };
    });
    const { operationId = null, runId = null, taskId = null, nodeId = null } = provenance;
    const result: DataWriteResult = { collection, inserted: 0, updated: 0, ids: [] };
    this.db.transaction(() => {
      for (const record of prepared) {
        const existing =
          mode === 'upsert' && record.key !== undefined
            ? z.number().optional().parse(this.idByKey.get(collection, record.key))
            : undefined;
        if (existing !== undefined) {
          this.updateByKey.run(record.json, operationId, runId, taskId, nodeId, now, existing);
          result.updated++;
          result.ids.push(existing);
          continue;
        }
        try {
          const info = this.insert.run(
            collection,
            record.key ?? null,
            record.json,
            operationId,
            runId,
            taskId,
            nodeId,
            now,
            now,
          );
          result.inserted++;
          result.ids.push(Number(info.lastInsertRowid));
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
            throw new DataStoreError(
              `key "${record.key ?? ''}" already exists in ${collection}: use mode: upsert to replace it`,
            );
          }
          throw err;
        }
      }
    })();
    return result;
  }

  /** Records matching `query`, ordered by creation time (newest first unless `order: 'asc'`). */
  query(query: DataQuery): DataPage {
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), maxPage);
    const { sql, params, order } = this.select(query);
    const rows = this.statements
      .get(`${sql} ORDER BY created_at ${order}, id ${order} LIMIT ?`)
      .all(...params, limit + 1)
      .map((row) => recordRowSchema.parse(row));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      records: page.map(toRecord),
      ...(rows.length > limit && last
        ? { nextCursor: encodeCursor(`data:${order}`, [last.created_at, last.id]) }
        : {}),
    };
  }

  /** One record by key. */
  get(collection: string, key: string): DataRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM data_records WHERE collection = ? AND key = ?')
      .get(collection, key);
    return row === undefined ? undefined : toRecord(recordRowSchema.parse(row));
  }

  /** Collections and how many records each holds. */
  collections(): { collection: string; count: number }[] {
    return z
      .array(z.object({ collection: z.string(), count: z.number() }))
      .parse(
        this.db
          .prepare(
            'SELECT collection, count(*) AS count FROM data_records GROUP BY collection ORDER BY collection',
          )
          .all(),
      );
  }

  /**
   * Top-level field names of the matching object records, in first-seen order, for CSV columns;
   * `data` is added when some records are not objects (numbers, strings, lists).
   */
  fieldNames(query: DataQuery, max = 500): string[] {
    const { sql, params } = this.select({ ...query, cursor: undefined });
    const names = z.array(z.string()).parse(
      this.db
        .prepare(
          `SELECT key FROM (
               SELECT j.key, r.id AS record, j.id AS position,
                 ROW_NUMBER() OVER (PARTITION BY j.key ORDER BY r.id, j.id) AS nth
               FROM (${sql}) AS r, json_each(r.data) AS j WHERE json_type(r.data) = 'object')
             WHERE nth = 1 ORDER BY record, position LIMIT ?`,
        )
        .pluck()
        .all(...params, max),
    );
    const scalar = this.db
      .prepare(`SELECT 1 FROM (${sql}) AS r WHERE json_type(r.data) != 'object' LIMIT 1`)
      .get(...params);
    return scalar !== undefined && !names.includes('data') ? [...names, 'data'] : names;
  }

  /**
   * Adds an expression index on `(collection, data.<field>, created_at, id)` so equality and range
   * queries on that field (and their newest-first order) stay fast in big collections.
   *
   * The index covers every collection (SQLite cannot use a partial index for a bound collection),
   * so it costs every insert a little; create it for fields that are queried, not for all.
   */
  ensureIndex(collection: string, field: string): { index: string; created: boolean } {
    checkCollection(collection);
    const path = fieldToPath(field);
    if (!safeJsonPath.test(path)) throw new DataStoreError(`"${field}" is not a field`);
    const name = `data_field_${createHash('sha256').update(path).digest('hex').slice(0, 16)}`;
    const known = this.db
      .prepare('SELECT 1 FROM data_indexes WHERE collection = ? AND path = ?')
      .get(collection, path);
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name);
    if (known !== undefined && exists !== undefined) return { index: name, created: false };
    this.db.transaction(() => {
      this.db.exec(
        `CREATE INDEX IF NOT EXISTS ${name} ON data_records (collection, json_extract(data, '${path}'), created_at, id)`,
      );
      this.db
        .prepare(
          'INSERT OR IGNORE INTO data_indexes (collection, path, index_name, created_at) VALUES (?, ?, ?, ?)',
        )
        .run(collection, path, name, Date.now());
    })();
    return { index: name, created: exists === undefined };
  }

  /** Deletes records by id (retention of data is the user's call; runs never delete records). */
  delete(ids: readonly number[]): number {
    const statement = this.db.prepare('DELETE FROM data_records WHERE id = ?');
    let n = 0;
    this.db.transaction(() => {
      for (const id of ids) n += statement.run(id).changes;
    })();
    return n;
  }

  /** Refreshes the planner's statistics; worth it after bulk loads. */
  analyze(): void {
    this.db.exec('ANALYZE data_records');
  }

  /** The SELECT and its bound params for a query, without ORDER BY and LIMIT. */
  private select(query: DataQuery): { sql: string; params: SqlValue[]; order: 'ASC' | 'DESC' } {
    checkCollection(query.collection);
    const order = query.order === 'asc' ? 'ASC' : 'DESC';
    const filter = new SqlFilter()
      .add('collection = ?', query.collection)
      .when('key = ?', query.key)
      .when('operation_id = ?', query.operationId)
      .when('run_id = ?', query.runId)
      .when('created_at >= ?', query.from)
      .when('created_at < ?', query.to);
    for (const clause of query.where ?? []) {
      const part = whereToSql(typeof clause === 'string' ? parseWhere(clause) : clause);
      filter.add(`(${part.sql})`, ...part.params);
    }
    if (query.cursor !== undefined) {
      const [createdAt, id] = decodeCursor(`data:${order}`, query.cursor, dataCursorKey);
      filter.add(`(created_at, id) ${order === 'DESC' ? '<' : '>'} (?, ?)`, createdAt, id);
    }
    return { sql: `SELECT * FROM data_records ${filter.sql}`, params: filter.params, order };
  }
}

function toRecord(row: RecordRow): DataRecord {
  return {
    id: row.id,
    collection: row.collection,
    ...(row.key === undefined ? {} : { key: row.key }),
    data: JSON.parse(row.data) as unknown,
    ...(row.operation_id === undefined ? {} : { operation: row.operation_id }),
    ...(row.run_id === undefined ? {} : { run: row.run_id }),
    ...(row.task_id === undefined ? {} : { task: row.task_id }),
    ...(row.node_id === undefined ? {} : { node: row.node_id }),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
