import { mkdir } from 'node:fs/promises';
import { Engine, type EngineOptions } from './engine.js';
import type { Logger } from './logger.js';
import { loadNodeIdentity } from './node-identity.js';
import { openStateStores } from './state/state-stores.js';

/** Opens the data dir (creating it) and returns an engine over it: node identity, state, task kinds. */
export async function openEngine(
  dataDir: string,
  logger: Logger,
  extra: Pick<EngineOptions, 'findOperation' | 'kinds' | 'llm'> = {},
): Promise<Engine> {
  await mkdir(dataDir, { recursive: true });
  const [node, state] = await Promise.all([loadNodeIdentity(dataDir), openStateStores(dataDir)]);
  return new Engine({ dataDir, node, state, logger, ...extra });
}
