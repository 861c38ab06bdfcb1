import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ApiClient } from '../../main/api/contract-client';
import type { NodeStatus } from '../../main/api/contract';
import { refreshGate } from './refresh-gate';

export interface NodeState {
  /** The node this page talks to, once known. */
  status: NodeStatus | undefined;
  refresh: () => Promise<void>;
}

export type NodeStore = StoreApi<NodeState>;

/** The node's identity and status (name for the header, pause state), kept current by node.status events. */
export function createNodeStore(client: ApiClient): NodeStore {
  return createStore<NodeState>()((set) => {
    client.on('node.status', (status) => {
      set({ status });
    });
    return {
      status: undefined,
      refresh: refreshGate(async () => {
        try {
          set({ status: await client.call('node.status', {}) });
        } catch {
          // Only the header's node name depends on it; the lists report their own errors.
        }
      }),
    };
  });
}
