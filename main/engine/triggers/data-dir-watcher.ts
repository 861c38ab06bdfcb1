import { basename, dirname, join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../logger.js';

/** Which part of the data dir changed. */
export type DataDirChange = 'operations' | 'control' | 'requests';

export interface DataDirWatcherOptions {
  dataDir: string;
  logger: Logger;
  onChange: (change: DataDirChange) => Promise<void>;
  /** Quiet time before a burst of changes is acted on, per part (ms). */
  debounceMs?: Partial<Record<DataDirChange, number>>;
}

const defaultDebounce: Record<DataDirChange, number> = { operations: 150, control: 50, requests: 10 };

/**
 * Watches the parts of a data dir other processes change — operation files, the pause control
 * file and manual trigger requests — and calls back once per burst, never twice at once per part.
 *
 * This is how a running daemon notices `ultravisor ops add|remove|pause|resume` and `trigger`.
 */
export class DataDirWatcher {
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<DataDirChange, NodeJS.Timeout>();
  private readonly running = new Map<DataDirChange, Promise<void>>();
  private readonly rerun = new Set<DataDirChange>();
  private closed = false;

  constructor(private readonly options: DataDirWatcherOptions) {}

  /** Starts watching; resolves once the watcher is ready (later changes are seen). */
  async start(): Promise<void> {
    const { dataDir } = this.options;
    const dirs = [join(dataDir, 'operations'), join(dataDir, 'scheduler'), join(dataDir, 'requests')];
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    const watcher = watch(dirs, { ignoreInitial: true, depth: 0, persistent: true });
    this.watcher = watcher;
    watcher.on('all', (_event, path) => {
      const change = this.classify(path);
      if (change !== undefined) this.bump(change);
    });
    watcher.on('error', (err) => {
      this.options.logger.error({ err }, 'data dir watcher error');
    });
    await new Promise<void>((resolve) =>
      watcher.once('ready', () => {
        resolve();
      }),
    );
  }

  /** Stops watching and waits for callbacks in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.watcher?.close();
    await Promise.allSettled([...this.running.values()]);
  }

  private classify(path: string): DataDirChange | undefined {
    const name = basename(path);
    if (name.startsWith('.')) return undefined; // Temp files of atomic writes.
    const folder = basename(dirname(path));
    if (folder === 'operations' && /\.(ya?ml|json)$/.test(name)) return 'operations';
    if (folder === 'scheduler' && name === 'control.json') return 'control';
    if (folder === 'requests' && name.endsWith('.json') && !name.endsWith('.reply.json')) return 'requests';
    return undefined;
  }

  private bump(change: DataDirChange): void {
    if (this.closed) return;
    const existing = this.timers.get(change);
    if (existing !== undefined) clearTimeout(existing);
    const wait = this.options.debounceMs?.[change] ?? defaultDebounce[change];
    this.timers.set(
      change,
      setTimeout(() => {
        this.timers.delete(change);
        this.fire(change);
      }, wait),
    );
  }

  private fire(change: DataDirChange): void {
    if (this.closed) return;
    if (this.running.has(change)) {
      this.rerun.add(change);
      return;
    }
    const work = this.options
      .onChange(change)
      .catch((err: unknown) => {
        this.options.logger.error({ err, change }, 'applying a data dir change failed');
      })
      .finally(() => {
        this.running.delete(change);
        if (this.rerun.delete(change)) this.fire(change);
      });
    this.running.set(change, work);
  }
}
