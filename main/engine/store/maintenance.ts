import type { Logger } from '../logger.js';
import { ensureIndexed, type ReindexReport } from './reindex.js';
import { RetentionPruner, runRetentionLoop, type PruneReport, type RetentionClock } from './retention.js';
import type { Stores } from './stores.js';

export interface MaintenanceOptions {
  /** Stops background pruning. */
  signal: AbortSignal;
  /** Runs this node is executing (e.g. `id => engine.activeRuns().includes(id)`): never touched. */
  isActive?: (runId: string) => boolean;
  logger?: Logger;
  clock?: RetentionClock;
  onPass?: (report: PruneReport | Error) => void;
}

/**
 * What a node does with its stores when it starts: rebuilds the run index if it is missing, marks
 * runs left `running` by a dead process as interrupted, then prunes by retention in the background
 * every `retention.interval` until `signal` aborts.
 *
 * Returns once recovery is done; `pruning` settles after the signal aborts.
 */
export async function startStoreMaintenance(
  stores: Stores,
  options: MaintenanceOptions,
): Promise<{ rebuilt?: ReindexReport; pruning: Promise<void> }> {
  const isActive = options.isActive ?? (() => false);
  const rebuilt = await ensureIndexed(stores, {
    isActive,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const pruner = new RetentionPruner(stores, {
    node: stores.retention,
    isActive,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const pruning = runRetentionLoop(pruner, {
    intervalMs: stores.retention.interval,
    signal: options.signal,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onPass ? { onPass: options.onPass } : {}),
  });
  return { ...(rebuilt ? { rebuilt } : {}), pruning };
}

/** What {@link storeMaintenanceService} needs of a node: its engine's stores and active runs. */
export interface MaintainedNode {
  readonly engine: { readonly stores: Stores | undefined; activeRuns(): string[] };
}

/**
 * {@link startStoreMaintenance} as a node service (`start`/`stop`): recovery when the node starts,
 * retention in the background until it stops. It never closes the stores; the engine does.
 */
export function storeMaintenanceService(options: { logger?: Logger; clock?: RetentionClock } = {}) {
  let controller: AbortController | undefined;
  let pruning: Promise<void> | undefined;
  return {
    name: 'stores',
    async start(node: MaintainedNode): Promise<void> {
      const stores = node.engine.stores;
      if (stores === undefined) return;
      controller = new AbortController();
      const started = await startStoreMaintenance(stores, {
        signal: controller.signal,
        isActive: (runId) => node.engine.activeRuns().includes(runId),
        ...options,
      });
      if (started.rebuilt)
        options.logger?.info({ runs: started.rebuilt.runs }, 'rebuilt the run index from disk');
      pruning = started.pruning;
    },
    async stop(): Promise<void> {
      controller?.abort();
      await pruning;
    },
  };
}
