import { join } from 'node:path';
import { z } from 'zod';
import { runDir } from '../data-dir.js';
import type { Logger } from '../logger.js';
import { runStatusSchema, type Manifest, type RunStatus } from '../model/manifest.js';
import { retentionSchema, type RetentionPolicy } from '../model/retention-spec.js';
import type { RunEvent } from '../runner/run-events.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { migrate, type Database, type Migration } from './database.js';
import { listRunDirs, readManifest } from './manifest-files.js';
import { StatementCache } from './statement-cache.js';
import { processIdentitySchema, type ProcessIdentity } from './process-liveness.js';
import { SqlFilter } from './sql-filter.js';

const migrations: Migration[] = [
  {
    version: 1,
    description: 'runs and run_tasks',
    up(db) {
      db.exec(`
        CREATE TABLE runs (
          run_id TEXT PRIMARY KEY,
          operation_id TEXT NOT NULL,
          operation_name TEXT,
          status TEXT NOT NULL,
          trigger_kind TEXT NOT NULL,
          node_id TEXT NOT NULL,
          node_name TEXT NOT NULL,
          parent_run_id TEXT,
          started_at INTEGER NOT NULL,
          ended_at INTEGER,
          duration_ms INTEGER,
          error TEXT,
          summary_title TEXT,
          summary_text TEXT,
          pid INTEGER,
          process_started_at INTEGER,
          retention TEXT,
          bytes INTEGER,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX runs_started ON runs (started_at DESC, run_id DESC);
        CREATE INDEX runs_operation_started ON runs (operation_id, started_at DESC, run_id DESC);
        CREATE INDEX runs_status_started ON runs (status, started_at DESC, run_id DESC);
        CREATE INDEX runs_operation_status_started ON runs (operation_id, status, started_at DESC, run_id DESC);
        CREATE TABLE run_tasks (
          run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
          task_id TEXT NOT NULL,
          name TEXT,
          kind TEXT NOT NULL,
          status TEXT NOT NULL,
          started_at INTEGER,
          ended_at INTEGER,
          duration_ms INTEGER,
          attempts INTEGER NOT NULL,
          exit_code INTEGER,
          error TEXT,
          items INTEGER,
          PRIMARY KEY (run_id, task_id)
        ) WITHOUT ROWID;
      `);
    },
  },
];

/** One run as the index knows it: enough to list and filter without opening the manifest. */
export interface RunRow {
  runId: string;
  operationId: string;
  operationName?: string;
  status: RunStatus;
  trigger: string;
  nodeId: string;
  nodeName: string;
  parentRunId?: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  error?: string;
  summaryTitle?: string;
  summaryText?: string;
  /** The run folder (absolute). */
  dir: string;
  /** The manifest, the source of truth (absolute). */
  manifest: string;
}

/** One task of a run, from the index. */
export interface RunTaskRow {
  taskId: string;
  name?: string;
  kind: string;
  status: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  attempts: number;
  exitCode?: number;
  error?: string;
  items?: number;
}

/** A filter for {@link RunIndex.list}; all fields narrow the result. */
export interface RunQuery {
  operationId?: string;
  status?: RunStatus | RunStatus[];
  /** Started at or after (ms since the epoch). */
  from?: number;
  /** Started before (ms since the epoch). */
  to?: number;
  /** Text in the summary title or text, the error or the operation id (case-insensitive for ASCII). */
  text?: string;
  limit?: number;
  cursor?: string;
}

/** A page of runs, newest first; `nextCursor` is set when there may be more. */
export interface RunPage {
  runs: RunRow[];
  nextCursor?: string;
}

/** One rule of a retention policy, as {@link RunIndex.pruneCandidates} applies it. */
export type PruneRule =
  | { kind: 'keepRuns'; keep: number }
  | { kind: 'maxAge'; before: number }
  | { kind: 'maxSize'; bytes: number };

/** A run retention may remove. */
export interface PruneCandidate {
  runId: string;
  operationId: string;
}

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().transform((v) => v ?? undefined);

const runRowSchema = z.object({
  run_id: z.string(),
  operation_id: z.string(),
  operation_name: nullable(z.string()),
  status: runStatusSchema,
  trigger_kind: z.string(),
  node_id: z.string(),
  node_name: z.string(),
  parent_run_id: nullable(z.string()),
  started_at: z.number(),
  ended_at: nullable(z.number()),
  duration_ms: nullable(z.number()),
  error: nullable(z.string()),
  summary_title: nullable(z.string()),
  summary_text: nullable(z.string()),
});

const taskRowSchema = z.object({
  task_id: z.string(),
  name: nullable(z.string()),
  kind: z.string(),
  status: z.string(),
  started_at: nullable(z.number()),
  ended_at: nullable(z.number()),
  duration_ms: nullable(z.number()),
  attempts: z.number(),
  exit_code: nullable(z.number()),
  error: nullable(z.string()),
  items: nullable(z.number()),
});

const runCursorKey = z.tuple([z.number(), z.string()]);
const maxPage = 1000;
const runColumns = `run_id, operation_id, operation_name, status, trigger_kind, node_id, node_name, parent_run_id,
  started_at, ended_at, duration_ms, error, summary_title, summary_text`;

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function ms(text: string | undefined): number | null {
  if (text === undefined) return null;
  const value = Date.parse(text);
  return Number.isNaN(value) ? null : value;
}

/** Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`. */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Who started a run and under which retention policy, from the manifest's `extra`. */
export function manifestOwner(manifest: Manifest): {
  process?: ProcessIdentity;
  retention?: RetentionPolicy;
} {
  const owner = processIdentitySchema.safeParse(manifest.extra.process);
  const retention = retentionSchema.safeParse(manifest.extra.retention);
  return {
    ...(owner.success ? { process: owner.data } : {}),
    ...(retention.success && manifest.extra.retention !== undefined ? { retention: retention.data } : {}),
  };
}

/**
 * The run history index: one row per run and per task, kept in SQLite for fast lists and filters.
 *
 * Manifests on disk are the source of truth; every row can be rebuilt from them ({@link reindex}).
 */
export class RunIndex {
  private readonly upsertRun;
  private readonly deleteTasks;
  private readonly insertTask;
  private readonly deleteRun;
  private readonly statements: StatementCache;

  constructor(
    private readonly db: Database,
    readonly dataDir: string,
  ) {
    migrate(db, 'runs', migrations);
    this.statements = new StatementCache(db);
    this.upsertRun = db.prepare(`
      INSERT INTO runs (run_id, operation_id, operation_name, status, trigger_kind, node_id, node_name, parent_run_id,
        started_at, ended_at, duration_ms, error, summary_title, summary_text, pid, process_started_at, retention,
        bytes, updated_at)
      VALUES (@runId, @operationId, @operationName, @status, @trigger, @nodeId, @nodeName, @parentRunId,
        @startedAt, @endedAt, @durationMs, @error, @summaryTitle, @summaryText, @pid, @processStartedAt, @retention,
        NULL, @updatedAt)
      ON CONFLICT (run_id) DO UPDATE SET
        operation_id = excluded.operation_id, operation_name = excluded.operation_name, status = excluded.status,
        trigger_kind = excluded.trigger_kind, node_id = excluded.node_id, node_name = excluded.node_name,
        parent_run_id = excluded.parent_run_id, started_at = excluded.started_at, ended_at = excluded.ended_at,
        duration_ms = excluded.duration_ms, error = excluded.error, summary_title = excluded.summary_title,
        summary_text = excluded.summary_text, pid = excluded.pid, process_started_at = excluded.process_started_at,
        retention = excluded.retention, bytes = NULL, updated_at = excluded.updated_at`);
    this.deleteTasks = db.prepare('DELETE FROM run_tasks WHERE run_id = ?');
    this.insertTask = db.prepare(`
      INSERT INTO run_tasks (run_id, task_id, name, kind, status, started_at, ended_at, duration_ms, attempts,
        exit_code, error, items)
      VALUES (@runId, @taskId, @name, @kind, @status, @startedAt, @endedAt, @durationMs, @attempts, @exitCode,
        @error, @items)`);
    this.deleteRun = db.prepare('DELETE FROM runs WHERE run_id = ?');
  }

  /** Inserts or replaces a run and its tasks from its manifest. */
  recordManifest(manifest: Manifest): void {
    this.recordMany([manifest]);
  }

  /** Records many manifests in one transaction (reindex, benchmarks). */
  recordMany(manifests: readonly Manifest[], options: { withTasks?: boolean } = {}): void {
    const withTasks = options.withTasks ?? true;
    const now = Date.now();
    this.db.transaction(() => {
      for (const m of manifests) {
        const owner = manifestOwner(m);
        this.upsertRun.run({
          runId: m.runId,
          operationId: m.operation.id,
          operationName: m.operation.name ?? null,
          status: m.status,
          trigger: m.trigger.kind,
          nodeId: m.node.id,
          nodeName: m.node.name,
          parentRunId: m.parent?.runId ?? null,
          startedAt: ms(m.startedAt) ?? 0,
          endedAt: ms(m.endedAt),
          durationMs: m.durationMs ?? null,
          error: m.error ?? null,
          summaryTitle: m.summary?.title ?? null,
          summaryText: m.summary?.text ?? null,
          pid: owner.process?.pid ?? null,
          processStartedAt: owner.process?.startedAt ?? null,
          retention: owner.retention ? JSON.stringify(owner.retention) : null,
          updatedAt: now,
        });
        if (!withTasks) continue;
        this.deleteTasks.run(m.runId);
        for (const t of m.tasks) {
          this.insertTask.run({
            runId: m.runId,
            taskId: t.id,
            name: t.name ?? null,
            kind: t.kind,
            status: t.status,
            startedAt: ms(t.startedAt),
            endedAt: ms(t.endedAt),
            durationMs: t.durationMs ?? null,
            attempts: t.attempts,
            exitCode: t.exitCode ?? null,
            error: t.error ?? null,
            items: t.items ?? null,
          });
        }
      }
    })();
  }

  /** Runs matching `query`, newest first (by start time, then run id), one page at a time. */
  list(query: RunQuery = {}): RunPage {
    const limit = Math.min(Math.max(1, Math.floor(query.limit ?? 50)), maxPage);
    const filter = new SqlFilter()
      .when('operation_id = ?', query.operationId)
      .when('started_at >= ?', query.from)
      .when('started_at < ?', query.to);
    const statuses =
      query.status === undefined ? [] : Array.isArray(query.status) ? query.status : [query.status];
    if (statuses.length > 0) filter.add(`status IN (${statuses.map(() => '?').join(', ')})`, ...statuses);
    if (query.text !== undefined && query.text !== '') {
      const pattern = likePattern(query.text);
      filter.add(
        `(summary_title LIKE ? ESCAPE '\\' OR summary_text LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\' OR operation_id LIKE ? ESCAPE '\\')`,
        pattern,
        pattern,
        pattern,
        pattern,
      );
    }
    if (query.cursor !== undefined) {
      const [startedAt, runId] = decodeCursor('runs', query.cursor, runCursorKey);
      filter.add('(started_at, run_id) < (?, ?)', startedAt, runId);
    }
    const sql = `SELECT ${runColumns} FROM runs ${filter.sql}
      ORDER BY started_at DESC, run_id DESC LIMIT ?`;
    const rows = this.statements
      .get(sql)
      .all(...filter.params, limit + 1)
      .map((row) => runRowSchema.parse(row));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      runs: page.map((row) => this.toRow(row)),
      ...(rows.length > limit && last
        ? { nextCursor: encodeCursor('runs', [last.started_at, last.run_id]) }
        : {}),
    };
  }

  /** One run by exact id, with its tasks. */
  get(runId: string): (RunRow & { tasks: RunTaskRow[] }) | undefined {
    const row = this.db.prepare(`SELECT ${runColumns} FROM runs WHERE run_id = ?`).get(runId);
    if (row === undefined) return undefined;
    const tasks = this.db
      .prepare('SELECT * FROM run_tasks WHERE run_id = ? ORDER BY started_at IS NULL, started_at, task_id')
      .all(runId)
      .map((t) => {
        const r = taskRowSchema.parse(t);
        return {
          taskId: r.task_id,
          ...(r.name === undefined ? {} : { name: r.name }),
          kind: r.kind,
          status: r.status,
          ...(r.started_at === undefined ? {} : { startedAt: iso(r.started_at) }),
          ...(r.ended_at === undefined ? {} : { endedAt: iso(r.ended_at) }),
          ...(r.duration_ms === undefined ? {} : { durationMs: r.duration_ms }),
          attempts: r.attempts,
          ...(r.exit_code === undefined ? {} : { exitCode: r.exit_code }),
          ...(r.error === undefined ? {} : { error: r.error }),
          ...(r.items === undefined ? {} : { items: r.items }),
        } satisfies RunTaskRow;
      });
    return { ...this.toRow(runRowSchema.parse(row)), tasks };
  }

  /**
   * Runs whose id is `prefix` or starts with it (at most `limit`), exact match first.
   *
   * Run ids sort by time, so a range scan on the primary key finds prefixes without LIKE.
   */
  findByPrefix(prefix: string, limit = 2): RunRow[] {
    const exact = this.db.prepare(`SELECT ${runColumns} FROM runs WHERE run_id = ?`).get(prefix);
    if (exact !== undefined) return [this.toRow(runRowSchema.parse(exact))];
    return this.db
      .prepare(`SELECT ${runColumns} FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT ?`)
      .all(prefix, `${prefix}\uffff`, limit)
      .map((row) => this.toRow(runRowSchema.parse(row)));
  }

  /** Number of runs indexed. */
  count(): number {
    return z.object({ n: z.number() }).parse(this.db.prepare('SELECT count(*) AS n FROM runs').get()).n;
  }

  /** Runs the index still believes are in progress. */
  running(): RunRow[] {
    return this.db
      .prepare(`SELECT ${runColumns} FROM runs WHERE status = 'running' ORDER BY started_at`)
      .all()
      .map((row) => this.toRow(runRowSchema.parse(row)));
  }

  /** Removes runs (and their task rows) from the index; the caller removes the folders. */
  remove(runIds: readonly string[]): void {
    this.db.transaction(() => {
      for (const id of runIds) this.deleteRun.run(id);
    })();
  }

  /** Operation ids with at least one run, and the retention policy their newest run recorded. */
  operationPolicies(): { operationId: string; retention?: RetentionPolicy }[] {
    const rows = z.array(z.object({ operation_id: z.string(), retention: z.string().nullable() })).parse(
      this.db
        .prepare(
          `SELECT o.operation_id, (SELECT r.retention FROM runs r WHERE r.operation_id = o.operation_id
               ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) AS retention
             FROM (SELECT DISTINCT operation_id FROM runs) o`,
        )
        .all(),
    );
    return rows.map((row) => {
      const parsed =
        row.retention === null ? undefined : retentionSchema.safeParse(JSON.parse(row.retention));
      return { operationId: row.operation_id, ...(parsed?.success ? { retention: parsed.data } : {}) };
    });
  }

  /**
   * Finished runs a retention rule removes, oldest first, at most `limit`.
   *
   * The newest-first order and the size sums run in SQL (window functions over the started_at
   * index), so an operation with a million runs is pruned without loading them.
   */
  pruneCandidates(scope: { operationId?: string }, rule: PruneRule, limit: number): PruneCandidate[] {
    const params: (string | number)[] = [];
    let scopeSql = "status != 'running'";
    if (scope.operationId !== undefined) {
      scopeSql += ' AND operation_id = ?';
      params.push(scope.operationId);
    }
    let sql: string;
    switch (rule.kind) {
      case 'keepRuns':
        sql = `SELECT run_id, operation_id FROM (SELECT run_id, operation_id, started_at FROM runs WHERE ${scopeSql}
          ORDER BY started_at DESC, run_id DESC LIMIT -1 OFFSET ?) ORDER BY started_at, run_id LIMIT ?`;
        params.push(rule.keep, limit);
        break;
      case 'maxAge':
        sql = `SELECT run_id, operation_id FROM runs WHERE ${scopeSql} AND started_at < ?
          ORDER BY started_at, run_id LIMIT ?`;
        params.push(rule.before, limit);
        break;
      case 'maxSize':
        // The newest run stays even when it alone is over budget: removing a run as it ends is never wanted.
        sql = `SELECT run_id, operation_id FROM (
            SELECT run_id, operation_id, started_at,
              SUM(coalesce(bytes, 0)) OVER (ORDER BY started_at DESC, run_id DESC ROWS UNBOUNDED PRECEDING) AS total,
              ROW_NUMBER() OVER (ORDER BY started_at DESC, run_id DESC) AS position
            FROM runs WHERE ${scopeSql})
          WHERE total > ? AND position > 1 ORDER BY started_at, run_id LIMIT ?`;
        params.push(rule.bytes, limit);
        break;
      default:
        return rule satisfies never;
    }
    return z
      .array(z.object({ run_id: z.string(), operation_id: z.string() }))
      .parse(this.db.prepare(sql).all(...params))
      .map((r) => ({ runId: r.run_id, operationId: r.operation_id }));
  }

  /** Finished runs whose size is not known yet (at most `limit`), so size rules can measure them. */
  unsized(scope: { operationId?: string }, limit: number): PruneCandidate[] {
    const byOperation = scope.operationId !== undefined;
    const statement = this.db.prepare(
      `SELECT run_id, operation_id FROM runs WHERE status != 'running' AND bytes IS NULL
       ${byOperation ? 'AND operation_id = ?' : ''} LIMIT ?`,
    );
    const rows = byOperation ? statement.all(scope.operationId, limit) : statement.all(limit);
    return z
      .array(z.object({ run_id: z.string(), operation_id: z.string() }))
      .parse(rows)
      .map((r) => ({ runId: r.run_id, operationId: r.operation_id }));
  }

  /** A run's status in the index, or undefined when it is not indexed. */
  status(runId: string): RunStatus | undefined {
    const row = z
      .object({ status: runStatusSchema })
      .optional()
      .parse(this.db.prepare('SELECT status FROM runs WHERE run_id = ?').get(runId));
    return row?.status;
  }

  /** Caches a finished run's size on disk (folder + output files) for size-based retention. */
  setBytes(runId: string, bytes: number): void {
    this.db.prepare('UPDATE runs SET bytes = ? WHERE run_id = ?').run(bytes, runId);
  }

  /**
   * Rebuilds the index from the manifests on disk: adds and updates every run found, drops rows
   * whose manifest is gone. Unreadable manifests are reported and skipped.
   */
  async reindex(
    options: { batch?: number; onManifest?: (manifest: Manifest) => void } = {},
  ): Promise<{ indexed: number; removed: number; failed: { path: string; error: string }[] }> {
    const batchSize = options.batch ?? 500;
    const dirs = await listRunDirs(this.dataDir);
    const failed: { path: string; error: string }[] = [];
    const seen = new Set<string>();
    let batch: Manifest[] = [];
    let indexed = 0;
    const flush = () => {
      this.recordMany(batch);
      indexed += batch.length;
      batch = [];
    };
    for (const dir of dirs) {
      const path = join(dir.dir, 'manifest.json');
      try {
        const manifest = await readManifest(path);
        seen.add(manifest.runId);
        batch.push(manifest);
        options.onManifest?.(manifest);
      } catch (err) {
        // A folder without a manifest (being created, or half-pruned) is not an error worth reporting.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          failed.push({
            path,
            error: err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err),
          });
        }
      }
      if (batch.length >= batchSize) flush();
    }
    flush();
    const stale = z
      .array(z.object({ run_id: z.string() }))
      .parse(this.db.prepare('SELECT run_id FROM runs').all())
      .map((r) => r.run_id)
      .filter((id) => !seen.has(id));
    this.remove(stale);
    return { indexed, removed: stale.length, failed };
  }

  private toRow(r: z.output<typeof runRowSchema>): RunRow {
    const dir = runDir(this.dataDir, r.operation_id, r.run_id);
    return {
      runId: r.run_id,
      operationId: r.operation_id,
      ...(r.operation_name === undefined ? {} : { operationName: r.operation_name }),
      status: r.status,
      trigger: r.trigger_kind,
      nodeId: r.node_id,
      nodeName: r.node_name,
      ...(r.parent_run_id === undefined ? {} : { parentRunId: r.parent_run_id }),
      startedAt: new Date(r.started_at).toISOString(),
      ...(r.ended_at === undefined ? {} : { endedAt: new Date(r.ended_at).toISOString() }),
      ...(r.duration_ms === undefined ? {} : { durationMs: r.duration_ms }),
      ...(r.error === undefined ? {} : { error: r.error }),
      ...(r.summary_title === undefined ? {} : { summaryTitle: r.summary_title }),
      ...(r.summary_text === undefined ? {} : { summaryText: r.summary_text }),
      dir,
      manifest: join(dir, 'manifest.json'),
    };
  }
}

/** What {@link attachRunIndex} needs of an engine: its run events. */
export interface RunEventSource {
  on(event: 'event', listener: (event: RunEvent) => void): unknown;
  off(event: 'event', listener: (event: RunEvent) => void): unknown;
}

const attached = new WeakMap<RunEventSource, WeakSet<RunIndex>>();

/**
 * Keeps `index` up to date with an engine's runs: a row when a run starts, updated when it ends.
 *
 * Index errors are logged, never thrown into the run: the manifest is already on disk and
 * `store reindex` repairs the index. Attaching the same index twice is a no-op. Returns a detach.
 */
export function attachRunIndex(engine: RunEventSource, index: RunIndex, logger?: Logger): () => void {
  const indexes = attached.get(engine) ?? new WeakSet<RunIndex>();
  if (indexes.has(index)) return () => undefined;
  indexes.add(index);
  attached.set(engine, indexes);
  const listener = (event: RunEvent) => {
    if (event.type !== 'run-started' && event.type !== 'run-ended') return;
    try {
      index.recordManifest(event.manifest);
    } catch (err) {
      logger?.error(
        { err, runId: event.runId },
        'run index update failed; `ultravisor store reindex` repairs it',
      );
    }
  };
  engine.on('event', listener);
  return () => {
    engine.off('event', listener);
    indexes.delete(index);
  };
}
