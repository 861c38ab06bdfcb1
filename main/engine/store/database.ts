import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { z } from 'zod';

/** An open connection to the node's SQLite database. */
export type Database = BetterSqlite3.Database;

/** The database file inside a data dir. */
export function databasePath(dataDir: string): string {
  return join(dataDir, 'ultravisor.db');
}

/** Page cache per connection, in KiB. */
const cacheKiB = 64 * 1024;

/** How long a statement waits for another process's write lock before it fails with SQLITE_BUSY. */
export const busyTimeoutMs = 5000;

/**
 * Opens (creating when missing) `<data-dir>/ultravisor.db` with the pragmas every module relies on.
 *
 * WAL lets the CLI read while the daemon writes; `synchronous=NORMAL` is durable across process
 * crashes in WAL mode and loses at most the last transactions on a power cut, which the manifests
 * (the source of truth for run history) cover. Modules create their tables with {@link migrate}.
 */
export function openDatabase(dataDir: string, options: { readonly?: boolean } = {}): Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new BetterSqlite3(databasePath(dataDir), { readonly: options.readonly === true });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    if (options.readonly !== true) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // 64 MiB of page cache (the default is 2 MiB): index pages of a million-row table stay in memory,
    // which is what keeps batched inserts above 100k rows/s. Memory is only used as pages are read.
    db.pragma(`cache_size = -${cacheKiB}`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** One step of a module's schema; `up` runs inside the migration transaction. */
export interface Migration {
  version: number;
  description: string;
  up(db: Database): void;
}

const versionRowSchema = z.object({ version: z.number().int() }).optional();

/**
 * Brings one module's tables up to date, in one IMMEDIATE transaction per module.
 *
 * SQLite's single `user_version` cannot serve several modules that share the file (run index, data
 * store, file store, AI notifications...), so each module keeps its own row in `schema_migrations`.
 * The immediate transaction makes two processes starting at once apply each step exactly once.
 */
export function migrate(db: Database, module: string, migrations: readonly Migration[]): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (
       module TEXT PRIMARY KEY,
       version INTEGER NOT NULL,
       applied_at TEXT NOT NULL
     )`,
  );
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  const latest = sorted[sorted.length - 1]?.version ?? 0;
  const apply = db.transaction(() => {
    const row = versionRowSchema.parse(
      db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module),
    );
    const current = row?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `${db.name}: the "${module}" tables are at version ${current}, newer than this Ultravisor knows (${latest}); upgrade Ultravisor or use another data dir`,
      );
    }
    for (const step of sorted) {
      if (step.version <= current) continue;
      step.up(db);
    }
    if (latest > current) {
      db.prepare(
        `INSERT INTO schema_migrations (module, version, applied_at) VALUES (?, ?, ?)
         ON CONFLICT(module) DO UPDATE SET version = excluded.version, applied_at = excluded.applied_at`,
      ).run(module, latest, new Date().toISOString());
    }
  });
  apply.immediate();
}
