import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Low, type Adapter } from 'lowdb';
import { writeJsonAtomic } from '../atomic-write.js';
import { deleteAt, getAt, setAt, splitPath } from './json-path.js';

export type JsonObject = Record<string, unknown>;

/** lowdb adapter that writes with temp+fsync+rename (lowdb's own writer does not fsync). */
class AtomicJsonFile implements Adapter<JsonObject> {
  constructor(private readonly path: string) {}

  async read(): Promise<JsonObject | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${this.path} does not hold a JSON object`);
    }
    return parsed as JsonObject;
  }

  async write(data: JsonObject): Promise<void> {
    await writeJsonAtomic(this.path, data);
  }
}

export interface StateChange {
  path: string;
  op: 'set' | 'merge' | 'delete';
  value?: unknown;
}

/**
 * A small JSON document (global or node state) kept in memory and on disk.
 *
 * Every change is applied to a fresh copy and written atomically; changes are serialised so two
 * tasks updating state at once both land.
 */
export class JsonDocument extends EventEmitter<{ change: [StateChange] }> {
  private readonly db: Low<JsonObject>;
  private queue: Promise<void> = Promise.resolve();

  private constructor(readonly path: string) {
    super();
    this.db = new Low(new AtomicJsonFile(path), {});
  }

  static async open(path: string): Promise<JsonDocument> {
    const doc = new JsonDocument(path);
    await doc.db.read();
    return doc;
  }

  /** The whole document, or the value at a dotted path. */
  get(path?: string): unknown {
    return path === undefined || path === '' ? this.db.data : getAt(this.db.data, splitPath(path));
  }

  async set(path: string, value: unknown): Promise<void> {
    const keys = splitPath(path);
    await this.apply({ path, op: 'set', value }, (data) => setAt(data, keys, value));
  }

  /** Shallow-merges an object into the object at `path`. */
  async merge(path: string, value: unknown): Promise<void> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`merge into "${path}" needs an object value, got ${JSON.stringify(value)}`);
    }
    const keys = splitPath(path);
    await this.apply({ path, op: 'merge', value }, (data) => {
      const current = getAt(data, keys);
      const base = typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
      return setAt(data, keys, { ...base, ...value });
    });
  }

  async delete(path: string): Promise<void> {
    const keys = splitPath(path);
    await this.apply({ path, op: 'delete' }, (data) => deleteAt(data, keys));
  }

  private async apply(change: StateChange, update: (data: JsonObject) => unknown): Promise<void> {
    const run = this.queue.then(async () => {
      this.db.data = update(this.db.data) as JsonObject;
      await this.db.write();
      this.emit('change', change);
    });
    this.queue = run.catch(() => undefined);
    await run;
  }
}
