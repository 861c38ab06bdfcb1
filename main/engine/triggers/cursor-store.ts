import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import type { Logger } from '../logger.js';

/** What a condition trigger remembers between checks (and across restarts, so it does not fire twice). */
export interface ConditionMemory {
  /** The last successful check's result. */
  value?: boolean;
  /** For `file: changed`: the file's last seen size and mtime. */
  signature?: string;
  /** When it last fired (epoch ms), for `cooldown`. */
  firedAt?: number;
}

/** Where a trigger stands: the last due time handled, and what it was armed with. */
export interface TriggerCursor {
  /** Every fire time at or before this instant (epoch ms) has been fired or deliberately skipped. */
  handledUntil: number;
  /** The trigger's spec when the cursor was written; a different spec starts afresh. */
  fingerprint: string;
  condition?: ConditionMemory;
}

const isoDate = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO date');

const cursorFileSchema = z.object({
  version: z.literal(1),
  triggers: z.record(
    z.string(),
    z.object({
      handledUntil: isoDate,
      fingerprint: z.string(),
      condition: z
        .object({
          value: z.boolean().optional(),
          signature: z.string().optional(),
          firedAt: isoDate.optional(),
        })
        .optional(),
    }),
  ),
});
type CursorFile = z.infer<typeof cursorFileSchema>;

/**
 * Trigger cursors, persisted in `<data-dir>/scheduler/cursors.json` so a restart knows exactly
 * which fire times it missed.
 *
 * Updates land in memory at once and are written atomically in the background, coalesced: one
 * write per dispatch batch however many triggers fired, and never two writes at once.
 */
export class CursorStore {
  private readonly cursors = new Map<string, TriggerCursor>();
  private writing: Promise<void> | undefined;
  private dirty = false;
  private scheduled = false;

  private constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  static async open(dataDir: string, logger: Logger): Promise<CursorStore> {
    const dir = join(dataDir, 'scheduler');
    await mkdir(dir, { recursive: true });
    const store = new CursorStore(join(dir, 'cursors.json'), logger);
    await store.load();
    return store;
  }

  get(key: string): TriggerCursor | undefined {
    return this.cursors.get(key);
  }

  keys(): string[] {
    return [...this.cursors.keys()];
  }

  set(key: string, cursor: TriggerCursor): void {
    this.cursors.set(key, cursor);
    this.scheduleWrite();
  }

  /** Advances `handledUntil` (never backwards) and keeps the rest. */
  advance(key: string, handledUntil: number, fingerprint: string): void {
    const current = this.cursors.get(key);
    if (current?.fingerprint === fingerprint && current.handledUntil >= handledUntil) return;
    this.set(key, {
      ...(current?.fingerprint === fingerprint ? current : {}),
      handledUntil,
      fingerprint,
    });
  }

  delete(key: string): void {
    if (this.cursors.delete(key)) this.scheduleWrite();
  }

  /** Waits until everything set so far is on disk. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.writing === undefined) {
        if (!this.dirty) return;
        this.startWrite();
      }
      await this.writing;
    }
  }

  private scheduleWrite(): void {
    this.dirty = true;
    if (this.scheduled || this.writing !== undefined) return;
    this.scheduled = true;
    // setImmediate: every cursor set in this dispatch batch lands in the same write.
    setImmediate(() => {
      this.scheduled = false;
      this.startWrite();
    });
  }

  private startWrite(): void {
    if (this.writing !== undefined || !this.dirty) return;
    this.dirty = false;
    const snapshot = this.serialise();
    this.writing = writeJsonAtomic(this.path, snapshot)
      .catch((err: unknown) => {
        this.logger.error({ err, path: this.path }, 'could not write trigger cursors');
      })
      .finally(() => {
        this.writing = undefined;
        if (this.dirty && !this.scheduled) this.startWrite();
      });
  }

  private serialise(): CursorFile {
    const triggers: CursorFile['triggers'] = {};
    for (const [key, c] of this.cursors) {
      const condition = c.condition;
      triggers[key] = {
        handledUntil: new Date(c.handledUntil).toISOString(),
        fingerprint: c.fingerprint,
        ...(condition === undefined
          ? {}
          : {
              condition: {
                ...(condition.value === undefined ? {} : { value: condition.value }),
                ...(condition.signature === undefined ? {} : { signature: condition.signature }),
                ...(condition.firedAt === undefined
                  ? {}
                  : { firedAt: new Date(condition.firedAt).toISOString() }),
              },
            }),
      };
    }
    return { version: 1, triggers };
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    let parsed: CursorFile;
    try {
      parsed = cursorFileSchema.parse(JSON.parse(text));
    } catch (err) {
      // Atomic writes make this unlikely; keep the file for a post-mortem and start without cursors.
      const aside = `${this.path}.unreadable-${Date.now()}`;
      await rename(this.path, aside).catch(() => undefined);
      this.logger.error(
        { err, path: this.path, movedTo: aside },
        'trigger cursors unreadable: missed runs cannot be known',
      );
      return;
    }
    for (const [key, c] of Object.entries(parsed.triggers)) {
      const condition = c.condition;
      this.cursors.set(key, {
        handledUntil: Date.parse(c.handledUntil),
        fingerprint: c.fingerprint,
        ...(condition === undefined
          ? {}
          : {
              condition: {
                ...(condition.value === undefined ? {} : { value: condition.value }),
                ...(condition.signature === undefined ? {} : { signature: condition.signature }),
                ...(condition.firedAt === undefined ? {} : { firedAt: Date.parse(condition.firedAt) }),
              },
            }),
      });
    }
  }
}
