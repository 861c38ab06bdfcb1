import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonDocument } from './json-document.js';

/** Global state (shared by all nodes; replicated by the cluster later) and node state (this node only). */
export interface StateStores {
  global: JsonDocument;
  node: JsonDocument;
}

export async function openStateStores(dataDir: string): Promise<StateStores> {
  const dir = join(dataDir, 'state');
  await mkdir(dir, { recursive: true });
  const [global, node] = await Promise.all([
    JsonDocument.open(join(dir, 'global.json')),
    JsonDocument.open(join(dir, 'node.json')),
  ]);
  return { global, node };
}
