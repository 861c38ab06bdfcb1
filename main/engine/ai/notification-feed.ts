import { EventEmitter } from 'node:events';
import type BetterSqlite3 from 'better-sqlite3';
import { z } from 'zod';
import type { Manifest, RunStatus, RunSummary } from '../model/manifest.js';
import { assertNever } from '../assert-never.js';
import { sameOutcome } from './run-diff.js';

export const severitySchema = z.enum(['info', 'success', 'warning', 'error']);
export type Severity = z.infer<typeof severitySchema>;

/** Where a notification points; digests list every run they cover in `runIds`. */
export const notificationLinksSchema = z.object({
  runId: z.string().optional(),
  operationId: z.string().optional(),
  run: z.string().optional(),
  manifest: z.string().optional(),
  logs: z.string().optional(),
  log: z.string().optional(),
  files: z.array(z.string()).optional(),
  runIds: z.array(z.string()).optional(),
});
export type NotificationLinks = z.infer<typeof notificationLinksSchema>;

export const notificationSourceSchema = z.enum(['llm', 'fallback', 'engine', 'digest']);

/** What a caller adds. */
export const notificationInputSchema = z.object({
  title: z.string().min(1),
  text: z.string(),
  severity: severitySchema,
  source: notificationSourceSchema.default('engine'),
  runId: z.string().optional(),
  operationId: z.string().optional(),
  links: notificationLinksSchema.default({}),
});
export type NotificationInput = z.input<typeof notificationInputSchema>;

/** A stored notification. */
export interface Notification {
  id: number;
  title: string;
  text: string;
  severity: Severity;
  source: z.infer<typeof notificationSourceSchema>;
  runId?: string;
  operationId?: string;
  links: NotificationLinks;
  createdAt: string;
  readAt?: string;
}

/** Batch a key's notifications: one for every `every` runs and/or one per `intervalMs`. */
export interface DigestPolicy {
  /** Runs sharing a key go into one digest (default: the operation id). */
  key?: string;
  every?: number;
  intervalMs?: number;
}

/** What became of a run handed to {@link NotificationFeed.addRun}. */
export type AddRunResult =
  | { kind: 'added'; notification: Notification }
  | { kind: 'suppressed'; reason: 'unchanged' }
  | { kind: 'pending'; key: string; pending: number };

/** Runs waiting in one digest. */
export interface PendingDigest {
  key: string;
  count: number;
  oldestAt: string;
  /** When the interval passes, if the digest has one. */
  dueAt?: string;
}

export interface ListOptions {
  unread?: boolean;
  operationId?: string;
  /** Default 50, at most 500. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface NotificationPage {
  items: Notification[];
  /** Present when older items remain. */
  nextCursor?: string;
}

/** The severity a run's status gives its notification. */
export function severityForStatus(status: RunStatus): Severity {
  switch (status) {
    case 'success':
      return 'success';
    case 'failure':
      return 'error';
    case 'interrupted':
    case 'cancelled':
      return 'warning';
    case 'running':
      return 'info';
    default:
      return assertNever(status, 'run status');
  }
}

const severityRank: Record<Severity, number> = { info: 0, success: 1, warning: 2, error: 3 };

const rowSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  text: z.string(),
  severity: severitySchema,
  source: notificationSourceSchema,
  run_id: z.string().nullable(),
  operation_id: z.string().nullable(),
  links: z.string(),
  created_at: z.string(),
  read_at: z.string().nullable().optional(),
});
type Row = z.infer<typeof rowSchema>;

const digestRowSchema = rowSchema.omit({ read_at: true }).extend({
  digest_key: z.string(),
  interval_ms: z.number().nullable(),
});

const pendingSchema = z.object({
  digest_key: z.string(),
  count: z.number().int(),
  oldest: z.string(),
  interval_ms: z.number().nullable(),
});

function parseLinks(text: string): NotificationLinks {
  try {
    const parsed = notificationLinksSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

function fromRow(row: Row): Notification {
  return {
    id: row.id,
    title: row.title,
    text: row.text,
    severity: row.severity,
    source: row.source,
    ...(row.run_id === null ? {} : { runId: row.run_id }),
    ...(row.operation_id === null ? {} : { operationId: row.operation_id }),
    links: parseLinks(row.links),
    createdAt: row.created_at,
    ...(row.read_at === null || row.read_at === undefined ? {} : { readAt: row.read_at }),
  };
}

/**
 * The persisted notifications pane: run summaries with severity, links and read state.
 *
 * The caller opens the database (the stores' SQLite file); the feed creates its tables if they
 * are missing. Digests wait in their own table, so a restart does not lose runs not yet batched;
 * the scheduler calls {@link flushDue} when {@link nextDigestDue} passes.
 */
export class NotificationFeed {
  private readonly events = new EventEmitter();
  private readonly now: () => Date;

  constructor(
    private readonly db: BetterSqlite3.Database,
    options: { now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    db.exec(`
      CREATE TABLE IF NOT EXISTS notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        severity TEXT NOT NULL,
        source TEXT NOT NULL,
        run_id TEXT,
        operation_id TEXT,
        links TEXT NOT NULL,
        created_at TEXT NOT NULL,
        read_at TEXT
      );
      CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (id) WHERE read_at IS NULL;
      CREATE TABLE IF NOT EXISTS notification_digest_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        digest_key TEXT NOT NULL,
        interval_ms INTEGER,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        severity TEXT NOT NULL,
        source TEXT NOT NULL,
        run_id TEXT,
        operation_id TEXT,
        links TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS notification_digest_items_key ON notification_digest_items (digest_key, id);
    `);
  }

  /**
   * Listens for new notifications (the desktop shell turns them into OS notifications).
   *
   * A listener that throws does not undo or fail the add.
   */
  onAdded(listener: (notification: Notification) => void): () => void {
    const safe = (n: Notification): void => {
      try {
        listener(n);
      } catch {
        // The notification is stored; one broken listener must not hide it from the others.
      }
    };
    this.events.on('added', safe);
    return () => this.events.off('added', safe);
  }

  /** Stores one notification and tells the listeners. */
  add(input: NotificationInput): Notification {
    const n = notificationInputSchema.parse(input);
    const createdAt = this.now().toISOString();
    const result = this.db
      .prepare(
        `INSERT INTO notifications (title, text, severity, source, run_id, operation_id, links, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        n.title,
        n.text,
        n.severity,
        n.source,
        n.runId ?? null,
        n.operationId ?? null,
        JSON.stringify(n.links),
        createdAt,
      );
    const notification = this.get(Number(result.lastInsertRowid));
    if (notification === undefined) throw new Error('notification vanished right after insert');
    this.events.emit('added', notification);
    return notification;
  }

  /** One notification, or undefined. */
  get(id: number): Notification | undefined {
    const row: unknown = this.db.prepare('SELECT * FROM notifications WHERE id = ?').get(id);
    return row === undefined ? undefined : fromRow(rowSchema.parse(row));
  }

  /**
   * Adds a finished run's notification from its summary.
   *
   * A run with the same status and outputs as `previous` is suppressed unless `force`; with a
   * digest policy the run waits in its digest, which is added once it holds `every` runs.
   */
  addRun(options: {
    manifest: Manifest;
    summary: RunSummary;
    previous?: Manifest;
    force?: boolean;
    digest?: DigestPolicy;
    links?: NotificationLinks;
  }): AddRunResult {
    const { manifest, summary, digest } = options;
    if (options.force !== true && options.previous !== undefined && sameOutcome(manifest, options.previous)) {
      return { kind: 'suppressed', reason: 'unchanged' };
    }
    const summaryLinks = notificationLinksSchema.safeParse((summary as { links?: unknown }).links);
    const links: NotificationLinks = {
      runId: manifest.runId,
      operationId: manifest.operation.id,
      run: manifest.links.run,
      manifest: manifest.links.manifest,
      logs: manifest.links.logs,
      ...(summaryLinks.success ? summaryLinks.data : {}),
      ...options.links,
    };
    const input = {
      title: summary.title,
      text: summary.text,
      severity: severityForStatus(manifest.status),
      source: summary.source,
      runId: manifest.runId,
      operationId: manifest.operation.id,
      links,
    } satisfies NotificationInput;
    if (digest === undefined) return { kind: 'added', notification: this.add(input) };

    const key = digest.key ?? manifest.operation.id;
    this.db
      .prepare(
        `INSERT INTO notification_digest_items
           (digest_key, interval_ms, title, text, severity, source, run_id, operation_id, links, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        key,
        digest.intervalMs ?? null,
        input.title,
        input.text,
        input.severity,
        input.source,
        input.runId,
        input.operationId,
        JSON.stringify(links),
        this.now().toISOString(),
      );
    const pending = this.pendingCount(key);
    if (digest.every !== undefined && pending >= digest.every) {
      const notification = this.flushDigest(key);
      if (notification !== undefined) return { kind: 'added', notification };
    }
    return { kind: 'pending', key, pending };
  }

  private pendingCount(key: string): number {
    const row: unknown = this.db
      .prepare('SELECT COUNT(*) AS count FROM notification_digest_items WHERE digest_key = ?')
      .get(key);
    return z.object({ count: z.number() }).parse(row).count;
  }

  /** Digests holding runs, with when each is due. */
  pendingDigests(): PendingDigest[] {
    const rows: unknown[] = this.db
      .prepare(
        `SELECT digest_key, COUNT(*) AS count, MIN(created_at) AS oldest, MIN(interval_ms) AS interval_ms
         FROM notification_digest_items GROUP BY digest_key ORDER BY oldest`,
      )
      .all();
    return rows.map((raw) => {
      const row = pendingSchema.parse(raw);
      const due =
        row.interval_ms === null
          ? undefined
          : new Date(Date.parse(row.oldest) + row.interval_ms).toISOString();
      return {
        key: row.digest_key,
        count: row.count,
        oldestAt: row.oldest,
        ...(due === undefined ? {} : { dueAt: due }),
      };
    });
  }

  /** The earliest time a digest's interval passes, for the scheduler's timer. */
  nextDigestDue(): Date | undefined {
    const due = this.pendingDigests()
      .map((d) => d.dueAt)
      .filter((d): d is string => d !== undefined)
      .sort()[0];
    return due === undefined ? undefined : new Date(due);
  }

  /** Adds the digests whose interval has passed; returns what was added. */
  flushDue(now: Date = this.now()): Notification[] {
    const added: Notification[] = [];
    for (const digest of this.pendingDigests()) {
      if (digest.dueAt !== undefined && Date.parse(digest.dueAt) <= now.getTime()) {
        const n = this.flushDigest(digest.key);
        if (n !== undefined) added.push(n);
      }
    }
    return added;
  }

  /** Turns a digest's waiting runs into one notification now (undefined when none wait). */
  flushDigest(key: string): Notification | undefined {
    const take = this.db.transaction((): z.infer<typeof digestRowSchema>[] => {
      const rows: unknown[] = this.db
        .prepare('SELECT * FROM notification_digest_items WHERE digest_key = ? ORDER BY id')
        .all(key);
      this.db.prepare('DELETE FROM notification_digest_items WHERE digest_key = ?').run(key);
      return rows.map((r) => digestRowSchema.parse(r));
    });
    const items = take();
    const last = items[items.length - 1];
    if (last === undefined) return undefined;
    const severity = items.reduce<Severity>(
      (worst, item) => (severityRank[item.severity] > severityRank[worst] ? item.severity : worst),
      'info',
    );
    const failed = items.filter((i) => i.severity === 'error').length;
    const operations = [...new Set(items.map((i) => i.operation_id).filter((o): o is string => o !== null))];
    const subject = operations.length === 1 ? operations[0] : key;
    const title = `${subject}: ${items.length} run${items.length === 1 ? '' : 's'}${failed > 0 ? `, ${failed} failed` : ''}`;
    const shown = items.slice(-10).map((i) => {
      const text = i.text.length > 160 ? `${i.text.slice(0, 159)}…` : i.text;
      return `• ${i.title}: ${text}`;
    });
    if (items.length > 10) shown.unshift(`…${items.length - 10} earlier runs not shown`);
    return this.add({
      title,
      text: shown.join('\n'),
      severity,
      source: 'digest',
      ...(last.run_id === null ? {} : { runId: last.run_id }),
      ...(operations.length === 1 && operations[0] !== undefined ? { operationId: operations[0] } : {}),
      links: {
        ...(last.run_id === null ? {} : { runId: last.run_id }),
        runIds: items.map((i) => i.run_id).filter((r): r is string => r !== null),
      },
    });
  }

  /** Newest first, paged by `cursor`. */
  list(options: ListOptions = {}): NotificationPage {
    const limit = Math.min(Math.max(1, options.limit ?? 50), 500);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (options.cursor !== undefined) {
      if (!/^[1-9]\d*$/.test(options.cursor)) {
        throw new Error(`notification cursor "${options.cursor}" is not one this feed gave out`);
      }
      where.push('id < ?');
      params.push(Number(options.cursor));
    }
    if (options.unread === true) where.push('read_at IS NULL');
    if (options.operationId !== undefined) {
      where.push('operation_id = ?');
      params.push(options.operationId);
    }
    const sql = `SELECT * FROM notifications ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows: unknown[] = this.db.prepare(sql).all(...params, limit + 1);
    const items = rows.slice(0, limit).map((r) => fromRow(rowSchema.parse(r)));
    const lastItem = items[items.length - 1];
    return rows.length > limit && lastItem !== undefined
      ? { items, nextCursor: String(lastItem.id) }
      : { items };
  }

  /** Unread notifications. */
  unreadCount(): number {
    const row: unknown = this.db
      .prepare('SELECT COUNT(*) AS count FROM notifications WHERE read_at IS NULL')
      .get();
    return z.object({ count: z.number() }).parse(row).count;
  }

  /** Marks notifications read; returns how many were unread. */
  markRead(ids: readonly number[] | 'all'): number {
    const at = this.now().toISOString();
    if (ids === 'all') {
      return this.db.prepare('UPDATE notifications SET read_at = ? WHERE read_at IS NULL').run(at).changes;
    }
    const update = this.db.prepare('UPDATE notifications SET read_at = ? WHERE id = ? AND read_at IS NULL');
    const markAll = this.db.transaction((list: readonly number[]) =>
      list.reduce((sum, id) => sum + update.run(at, id).changes, 0),
    );
    return markAll(ids);
  }
}
