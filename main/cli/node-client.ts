import type { ApiClient } from '../api/contract-client.js';
import { ApiError } from '../api/contract-client.js';
import { nodeApiClient } from '../api/node-api-client.js';
import { isProcessAlive } from '../engine/triggers/scheduler-lock.js';
import { readToken } from '../server/node-token.js';
import { readServeInfo, type ServeInfo } from '../server/serve-info.js';
import type { CliContext } from './cli-context.js';

/** A running node the CLI can talk to. */
export interface RunningNode {
  info: ServeInfo;
  client: ApiClient;
}

/**
 * Finds the node serving the data dir: `<data-dir>/serve.json` names a live process and the token
 * file is readable. Undefined otherwise, and the command works offline on the data dir.
 *
 * serve.json is written by `serve` once it listens and removed at stop; a file left by a killed
 * node names a dead pid and is ignored.
 */
export async function findRunningNode(ctx: Pick<CliContext, 'dataDir'>): Promise<RunningNode | undefined> {
  if (process.env.ULTRAVISOR_OFFLINE === '1') return undefined;
  const info = await readServeInfo(ctx.dataDir);
  if (info === undefined || !isProcessAlive(info.pid)) return undefined;
  const token = await readToken(ctx.dataDir);
  if (token === undefined) return undefined;
  return { info, client: nodeApiClient({ url: info.url, token }) };
}

/**
 * Runs `online` against the running node when there is one, else `offline` on the data dir.
 *
 * A node that cannot be reached (it just stopped, or serve.json is stale in a way the pid check
 * missed) falls back to offline too, so the command still does its work.
 */
export async function viaNode<T>(
  ctx: Pick<CliContext, 'dataDir'>,
  online: (node: RunningNode) => Promise<T>,
  offline: () => Promise<T>,
): Promise<T> {
  const node = await findRunningNode(ctx);
  if (node === undefined) return offline();
  let reachable = true;
  try {
    await node.client.call('node.status');
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'unavailable') throw err;
    reachable = false;
  }
  return reachable ? online(node) : offline();
}
