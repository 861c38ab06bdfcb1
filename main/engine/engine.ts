import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createNodeLlm, type NodeLlm } from './ai/node-llm.js';
import type { Logger } from './logger.js';
import { loadOperationFile, type LoadedOperation } from './model/load-operation.js';
import type { Manifest } from './model/manifest.js';
import type { NodeIdentity } from './node-identity.js';
import { OperationRun, type RunRequest } from './runner/operation-run.js';
import type { RunEvent } from './runner/run-events.js';
import type { StateStores } from './state/state-stores.js';
import { attachRunIndex } from './store/run-index.js';
import { openStores, type Stores } from './store/stores.js';
import { createTaskKinds, type TaskKindRegistry } from './tasks/registry.js';

export interface EngineOptions {
  dataDir: string;
  node: NodeIdentity;
  state: StateStores;
  logger: Logger;
  kinds?: TaskKindRegistry;
  /**
   * The node's LLM (provider pool and settings) for `llm` tasks and run summaries; by default one
   * over `<dataDir>/settings.json`, whose pool {@link Engine.close} closes.
   */
  llm?: NodeLlm;
  /** Finds a saved operation by id (the node's operation store); without it, child runs need `file`. */
  findOperation?: (id: string) => Promise<LoadedOperation | undefined>;
  /** Run index, data and file stores (the caller closes them); opened from `dataDir` on first use when absent. */
  stores?: Stores;
}

/** A run that has started: its id, a way to cancel it, and its final manifest. */
export interface RunHandle {
  runId: string;
  dir: string;
  cancel(reason?: string): void;
  done: Promise<Manifest>;
}

/**
 * Runs operations and reports what happens as {@link RunEvent}s.
 *
 * Plain Node: no Electron, no HTTP. The CLI, the daemon and the desktop app all drive this.
 */
export class Engine extends EventEmitter<{ event: [RunEvent] }> {
  private readonly active = new Map<string, { run: OperationRun; done: Promise<Manifest> }>();
  private storesState: { stores: Stores | undefined; owned: boolean } | undefined;
  /** The node's LLM pool and settings, shared by `llm` tasks, run summaries and the API. */
  readonly llm: NodeLlm;
  private readonly ownsLlm: boolean;
  private readonly kinds: TaskKindRegistry;

  constructor(private readonly options: EngineOptions) {
    super();
    this.ownsLlm = options.llm === undefined;
    this.llm = options.llm ?? createNodeLlm(options.dataDir, { logger: options.logger });
    const llm = this.llm;
    this.kinds =
      options.kinds ?? createTaskKinds({ llm: { pool: llm.pool, settings: () => llm.snapshot().settings } });
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** Global and node state; the scheduler's `condition: { check: state }` reads the same documents runs write. */
  get state(): StateStores {
    return this.options.state;
  }

  /**
   * Starts a run. Throws (ParamError) before anything is written when params do not fit.
   */
  start(request: RunRequest): RunHandle {
    const run = new OperationRun(
      {
        dataDir: this.options.dataDir,
        node: this.options.node,
        state: this.options.state,
        logger: this.options.logger,
        kinds: this.kinds,
        resolveOperation: (ref, from) => this.resolveOperation(ref, from),
        startChild: (child) => this.start(child).done,
        emit: (event) => this.emit('event', event),
        stores: this.stores,
      },
      request,
    );
    const done = run.execute().finally(() => this.active.delete(run.runId));
    this.active.set(run.runId, { run, done });
    return { runId: run.runId, dir: run.dir, cancel: (reason) => run.cancel(reason), done };
  }

  /**
   * The stores runs record into, opened on first use; the run index follows this engine's events.
   *
   * Undefined when they cannot be opened (logged): runs still run and write manifests, and
   * `ultravisor store reindex` catches the index up later.
   */
  get stores(): Stores | undefined {
    if (this.storesState === undefined) {
      let stores = this.options.stores;
      const owned = stores === undefined;
      try {
        stores ??= openStores(this.options.dataDir);
        attachRunIndex(this, stores.runs, this.options.logger);
      } catch (err) {
        this.options.logger.error(
          { err, dataDir: this.options.dataDir },
          'cannot open the stores; runs are not indexed',
        );
        stores = undefined;
      }
      this.storesState = { stores, owned };
    }
    return this.storesState.stores;
  }

  /** Closes the stores and the LLM pool this engine opened itself (after {@link cancelAll}, at shutdown). */
  close(): void {
    if (this.storesState?.owned === true) this.storesState.stores?.close();
    this.storesState = undefined;
    if (this.ownsLlm) this.llm.pool.close();
  }

  /** Runs to the end. */
  run(request: RunRequest): Promise<Manifest> {
    return this.start(request).done;
  }

  /** Ids of runs in progress. */
  activeRuns(): string[] {
    return [...this.active.keys()];
  }

  /** Cancels a run in progress; false when no such run is active. */
  cancel(runId: string, reason?: string): boolean {
    const entry = this.active.get(runId);
    entry?.run.cancel(reason);
    return entry !== undefined;
  }

  /** Cancels every active run and waits for their manifests. */
  async cancelAll(reason = 'node shutting down'): Promise<void> {
    const entries = [...this.active.values()];
    for (const entry of entries) entry.run.cancel(reason);
    await Promise.allSettled(entries.map((entry) => entry.done));
  }

  private async resolveOperation(
    ref: { id?: string; file?: string },
    from: string | undefined,
  ): Promise<LoadedOperation> {
    if (ref.file !== undefined) {
      return loadOperationFile(from ? resolve(dirname(from), ref.file) : resolve(ref.file));
    }
    if (ref.id !== undefined) {
      const found = (await this.options.findOperation?.(ref.id)) ?? (await this.findSibling(ref.id, from));
      if (found) return found;
      throw new Error(
        `no operation with id "${ref.id}" is saved on this node${from ? ` or next to ${from}` : ''}`,
      );
    }
    throw new Error('an operation task names its child with id or file');
  }

  /** Looks for `<id>.yaml|yml|json` next to the parent's file, so shipped examples can call each other. */
  private async findSibling(id: string, from: string | undefined): Promise<LoadedOperation | undefined> {
    if (!from) return undefined;
    const dir = dirname(from);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const ext of ['.yaml', '.yml', '.json']) {
      if (names.includes(`${id}${ext}`)) {
        const loaded = await loadOperationFile(join(dir, `${id}${ext}`));
        if (loaded.operation.id === id) return loaded;
      }
    }
    return undefined;
  }
}
