import type { NodeRetention } from '../model/retention-spec.js';
import { openDatabase, type Database } from './database.js';
import { DataStore } from './data-store.js';
import { FileStore } from './file-store.js';
import { loadNodeRetention } from './retention.js';
import { RunIndex } from './run-index.js';

/** The node's stores over one SQLite database: run history, output data, output files. */
export interface Stores {
  readonly dataDir: string;
  readonly db: Database;
  readonly runs: RunIndex;
  readonly data: DataStore;
  readonly files: FileStore;
  /** Node-wide retention (`<data-dir>/retention.json`, or the defaults). */
  readonly retention: NodeRetention;
  close(): void;
}

/**
 * Opens `<data-dir>/ultravisor.db` and the stores on it, migrating their tables.
 *
 * Synchronous (better-sqlite3), so an engine can open its stores the moment it first needs them.
 */
export function openStores(dataDir: string, options: { retention?: NodeRetention } = {}): Stores {
  const retention = options.retention ?? loadNodeRetention(dataDir);
  const db = openDatabase(dataDir);
  try {
    const runs = new RunIndex(db, dataDir);
    const data = new DataStore(db);
    const files = new FileStore(db, dataDir);
    return {
      dataDir,
      db,
      runs,
      data,
      files,
      retention,
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
