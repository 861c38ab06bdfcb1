import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { dataPaths } from '../data-dir.js';
import type { Manifest } from '../model/manifest.js';
import { operationIdPattern } from '../model/operation.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { migrate, type Database, type Migration } from './database.js';
import { mediaTypeOf } from './media-types.js';
import { SqlFilter } from './sql-filter.js';

const migrations: Migration[] = [
  {
    version: 1,
    description: 'files catalogue',
    up(db) {
      db.exec(`
        CREATE TABLE files (
          id INTEGER PRIMARY KEY,
          operation_id TEXT NOT NULL,
          run_id TEXT NOT NULL,
          task_id TEXT,
          node_id TEXT,
          name TEXT NOT NULL,
          size INTEGER NOT NULL,
          sha256 TEXT NOT NULL,
          media_type TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          UNIQUE (run_id, name)
        );
        CREATE INDEX files_operation ON files (operation_id, id);
      `);
    },
  },
];

/** One catalogued file in the output file store. */
export interface StoredFile {
  id: number;
  operationId: string;
  runId: string;
  taskId?: string;
  nodeId?: string;
  /** Path inside the run's folder, with `/` separators. */
  name: string;
  /** Absolute path on this node. */
  path: string;
  size: number;
  sha256: string;
  mediaType: string;
  createdAt: string;
}

/** Where a stored file comes from: a file to copy or move, or content to write. */
export type FileSource = { from: string; move?: boolean } | { content: string | Uint8Array };

/** Who a stored file belongs to. */
export interface FileOwner {
  operationId: string;
  runId: string;
  taskId?: string;
  nodeId?: string;
}

/** A file the store refuses (outside its folder, not a file, bad name); nothing was written. */
export class FileStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileStoreError';
  }
}

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().transform((v) => v ?? undefined);
const fileRowSchema = z.object({
  id: z.number(),
  operation_id: z.string(),
  run_id: z.string(),
  task_id: nullable(z.string()),
  node_id: nullable(z.string()),
  name: z.string(),
  size: z.number(),
  sha256: z.string(),
  media_type: z.string(),
  created_at: z.number(),
});
const fileCursorKey = z.tuple([z.number()]);

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/** Total bytes of the regular files under a folder (0 when it does not exist); symlinks are not followed. */
export async function folderBytes(path: string): Promise<number> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += await folderBytes(full);
    else if (entry.isFile()) total += (await lstat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * The output file store: final files of runs under `<data-dir>/files/<operationId>/<runId>/`,
 * catalogued with size, sha256 and media type.
 *
 * Every destination is checked twice: the name must stay inside the run's folder, and the real
 * path of the folder it lands in (symlinks resolved) must stay inside the store's real root.
 */
export class FileStore {
  readonly root: string;
  private readonly upsert;

  constructor(
    private readonly db: Database,
    dataDir: string,
  ) {
    migrate(db, 'files', migrations);
    this.root = dataPaths(dataDir).files;
    this.upsert = db.prepare(`
      INSERT INTO files (operation_id, run_id, task_id, node_id, name, size, sha256, media_type, created_at)
      VALUES (@operationId, @runId, @taskId, @nodeId, @name, @size, @sha256, @mediaType, @createdAt)
      ON CONFLICT (run_id, name) DO UPDATE SET operation_id = excluded.operation_id, task_id = excluded.task_id,
        node_id = excluded.node_id, size = excluded.size, sha256 = excluded.sha256, media_type = excluded.media_type,
        created_at = excluded.created_at
      RETURNING id`);
  }

  /** The folder of one run's files (not created). */
  runFolder(operationId: string, runId: string): string {
    if (!operationIdPattern.test(operationId))
      throw new FileStoreError(`"${operationId}" is not an operation id`);
    if (!runIdPattern.test(runId)) throw new FileStoreError(`"${runId}" is not a run id`);
    return join(this.root, operationId, runId);
  }

  /**
   * Puts one file into a run's folder under `name` (relative, `/`-separated) and catalogues it.
   *
   * The content is hashed while it is written; the file appears under its name only when complete
   * (temp file, fsync, rename), replacing an earlier file of the same name in this run.
   */
  async put(owner: FileOwner, source: FileSource, name: string, signal?: AbortSignal): Promise<StoredFile> {
    const folder = this.runFolder(owner.operationId, owner.runId);
    const target = await this.safeTarget(folder, name);
    const relativeName = relative(folder, target.logical).split(sep).join('/');
    const tmp = join(
      dirname(target.real),
      `.${basename(target.real)}.${randomBytes(6).toString('hex')}.part`,
    );
    let written: { size: number; sha256: string };
    try {
      written = await this.writeTemp(source, tmp, signal);
      await rename(tmp, target.real);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await syncFolder(dirname(target.real));
    const createdAt = Date.now();
    const row = {
      operationId: owner.operationId,
      runId: owner.runId,
      taskId: owner.taskId ?? null,
      nodeId: owner.nodeId ?? null,
      name: relativeName,
      size: written.size,
      sha256: written.sha256,
      mediaType: mediaTypeOf(relativeName),
      createdAt,
    };
    const id = z.number().parse(this.upsert.pluck().get(row));
    return {
      id,
      operationId: owner.operationId,
      runId: owner.runId,
      ...(owner.taskId === undefined ? {} : { taskId: owner.taskId }),
      ...(owner.nodeId === undefined ? {} : { nodeId: owner.nodeId }),
      name: relativeName,
      path: join(folder, ...relativeName.split('/')),
      size: row.size,
      sha256: row.sha256,
      mediaType: row.mediaType,
      createdAt: new Date(createdAt).toISOString(),
    };
  }

  /** Catalogued files, newest first, filtered by operation and run. */
  list(query: { operationId?: string; runId?: string; limit?: number; cursor?: string } = {}): {
    files: StoredFile[];
    nextCursor?: string;
  } {
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 100)), 10_000);
    const filter = new SqlFilter()
      .when('operation_id = ?', query.operationId)
      .when('run_id = ?', query.runId)
      .when(
        'id < ?',
        query.cursor === undefined ? undefined : decodeCursor('files', query.cursor, fileCursorKey)[0],
      );
    const rows = this.db
      .prepare(`SELECT * FROM files ${filter.sql} ORDER BY id DESC LIMIT ?`)
      .all(...filter.params, limit + 1)
      .map((row) => this.toFile(fileRowSchema.parse(row)));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      files: page,
      ...(rows.length > limit && last ? { nextCursor: encodeCursor('files', [last.id]) } : {}),
    };
  }

  /** One file by catalogue id. */
  get(id: number): StoredFile | undefined {
    const row = this.db.prepare('SELECT * FROM files WHERE id = ?').get(id);
    return row === undefined ? undefined : this.toFile(fileRowSchema.parse(row));
  }

  /** Removes a run's folder and its catalogue rows. */
  async removeRun(operationId: string, runId: string): Promise<void> {
    await rm(this.runFolder(operationId, runId), { recursive: true, force: true });
    this.db.prepare('DELETE FROM files WHERE run_id = ?').run(runId);
  }

  /** Removes the catalogue rows of runs (the caller removed the folders). */
  forgetRuns(runIds: readonly string[]): void {
    const statement = this.db.prepare('DELETE FROM files WHERE run_id = ?');
    this.db.transaction(() => {
      for (const id of runIds) statement.run(id);
    })();
  }

  /**
   * Rebuilds a run's catalogue rows from its manifest's `outputs.files` (reindex).
   *
   * Entries whose file is gone are skipped; the manifest's hash is trusted, as the manifest is
   * the source of truth and re-hashing every file would make reindex as slow as a backup.
   */
  async recordManifest(manifest: Manifest): Promise<number> {
    const folder = this.runFolder(manifest.operation.id, manifest.runId);
    let n = 0;
    for (const entry of manifest.outputs.files) {
      const name =
        typeof entry.name === 'string' ? entry.name : relative(folder, entry.path).split(sep).join('/');
      if (name.startsWith('..') || isAbsolute(name) || entry.sha256 === undefined) continue;
      const info = await stat(join(folder, ...name.split('/'))).catch(() => undefined);
      if (!info?.isFile()) continue;
      this.upsert.run({
        operationId: manifest.operation.id,
        runId: manifest.runId,
        taskId: typeof entry.task === 'string' ? entry.task : null,
        nodeId: manifest.node.id,
        name,
        size: info.size,
        sha256: entry.sha256,
        mediaType: entry.mediaType ?? mediaTypeOf(name),
        createdAt: info.mtimeMs,
      });
      n++;
    }
    return n;
  }

  /** Drops catalogue rows whose run is not in `keep` (reindex). */
  retainRuns(keep: ReadonlySet<string>): number {
    const ids = z
      .array(z.string())
      .parse(this.db.prepare('SELECT DISTINCT run_id FROM files').pluck().all())
      .filter((id) => !keep.has(id));
    this.forgetRuns(ids);
    return ids.length;
  }

  /** Bytes of a run's files on disk. */
  runBytes(operationId: string, runId: string): Promise<number> {
    return folderBytes(this.runFolder(operationId, runId));
  }

  private toFile(row: z.output<typeof fileRowSchema>): StoredFile {
    return {
      id: row.id,
      operationId: row.operation_id,
      runId: row.run_id,
      ...(row.task_id === undefined ? {} : { taskId: row.task_id }),
      ...(row.node_id === undefined ? {} : { nodeId: row.node_id }),
      name: row.name,
      path: join(this.root, row.operation_id, row.run_id, ...row.name.split('/')),
      size: row.size,
      sha256: row.sha256,
      mediaType: row.media_type,
      createdAt: new Date(row.created_at).toISOString(),
    };
  }

  /**
   * Resolves `name` inside `folder`, refusing anything that lands outside the store: absolute
   * names, `..`, and symlinked folders (inside the store) that point elsewhere.
   */
  private async safeTarget(folder: string, name: string): Promise<{ logical: string; real: string }> {
    const refuse = (why: string) =>
      new FileStoreError(
        `refusing to store "${name}": ${why}; name a path inside this run's folder of the file store`,
      );
    if (name.trim() === '' || name.includes('\0')) throw refuse('the name is empty');
    if (isAbsolute(name) || /^[A-Za-z]:/.test(name)) throw refuse('the name is absolute');
    const logical = resolve(folder, name);
    const rel = relative(folder, logical);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
      throw refuse('it is outside the store');
    await mkdir(this.root, { recursive: true });
    const realRoot = await realpath(this.root);
    let probe = dirname(logical);
    while (!(await exists(probe)) && inside(this.root, dirname(probe))) probe = dirname(probe);
    const realProbe = await realpath(probe).catch(() => undefined);
    if (realProbe === undefined || !inside(realRoot, realProbe)) {
      throw refuse('a folder on the way is a link out of the store');
    }
    await mkdir(dirname(logical), { recursive: true });
    const realParent = await realpath(dirname(logical));
    if (!inside(realRoot, realParent)) throw refuse('a folder on the way is a link out of the store');
    const real = join(realParent, basename(logical));
    const existing = await lstat(real).catch(() => undefined);
    if (existing?.isDirectory()) throw refuse('a folder of that name exists');
    // An existing symlink is replaced by the rename, never written through.
    return { logical, real };
  }

  /** Writes the source to `tmp` (created exclusively), fsyncs it, and returns its size and hash. */
  private async writeTemp(
    source: FileSource,
    tmp: string,
    signal?: AbortSignal,
  ): Promise<{ size: number; sha256: string }> {
    if ('content' in source) {
      const buf = typeof source.content === 'string' ? Buffer.from(source.content) : source.content;
      const handle = await open(tmp, 'wx', 0o644);
      try {
        await handle.writeFile(buf);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { size: buf.byteLength, sha256: createHash('sha256').update(buf).digest('hex') };
    }
    const info = await lstat(source.from).catch(() => undefined);
    if (info === undefined) throw new FileStoreError(`${source.from} does not exist`);
    const target = info.isSymbolicLink() ? await stat(source.from).catch(() => undefined) : info;
    if (!target?.isFile()) throw new FileStoreError(`${source.from} is not a regular file`);
    if (source.move === true && info.isFile()) {
      try {
        await rename(source.from, tmp);
        return await hashFile(tmp, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        // Another filesystem: copy, then remove the source below.
      }
    }
    const result = await copyHashing(source.from, tmp, signal);
    if (source.move === true) await unlink(source.from);
    return result;
  }
}

async function hashFile(path: string, signal?: AbortSignal): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, signal ? { signal } : {})) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/** Copies `from` to a new file `to` in one streamed pass that also hashes; fsyncs before returning. */
async function copyHashing(
  from: string,
  to: string,
  signal?: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  const handle = await open(to, 'wx', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(from, signal ? { signal } : {})) {
      const buf = chunk as Buffer;
      hash.update(buf);
      size += buf.length;
      await handle.write(buf);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
