import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ApiClient } from '../../main/api/contract-client';
import type { MethodOutput, OperationSummary, TriggerOutcome } from '../../main/api/contract';
import { errorMessage } from '../api/api-error';
import { refreshGate } from './refresh-gate';

type OperationsList = MethodOutput<'operations.list'>;

/** What the last action on an operation did, shown beside it until the next one. */
export type ActionFeedback =
  | { kind: 'triggered'; outcome: TriggerOutcome; at: number }
  | { kind: 'error'; action: OperationAction; message: string; at: number };

export type OperationAction = 'trigger' | 'pause' | 'resume';

export interface OperationsState {
  operations: OperationSummary[];
  problems: OperationsList['problems'];
  /** The whole node is paused (nothing fires on triggers). */
  nodePaused: boolean;
  /** A first list has arrived. */
  loaded: boolean;
  /** The last refresh failed with this message (the previous list stays shown). */
  error: string | undefined;
  /** Actions in flight, by operation id. */
  pending: Record<string, OperationAction | undefined>;
  feedback: Record<string, ActionFeedback | undefined>;
  refresh: () => Promise<void>;
  trigger: (id: string) => Promise<void>;
  setPaused: (id: string, paused: boolean) => Promise<void>;
  /** Pauses or resumes the whole node. */
  setNodePaused: (paused: boolean) => Promise<void>;
  /** The last node pause/resume failed with this message. */
  nodeError: string | undefined;
}

export type OperationsStore = StoreApi<OperationsState>;

/**
 * Saved operations and the actions on them. Refreshes itself when the node says operations
 * changed or a run started or ended (next fire times and running counts move with runs).
 */
export function createOperationsStore(client: ApiClient, now: () => number = Date.now): OperationsStore {
  const store = createStore<OperationsState>()((set, get) => {
    const setPending = (id: string, action: OperationAction | undefined): void => {
      set({ pending: { ...get().pending, [id]: action } });
    };
    const setFeedback = (id: string, feedback: ActionFeedback): void => {
      set({ feedback: { ...get().feedback, [id]: feedback } });
    };
    const refresh = refreshGate(async () => {
      try {
        const list = await client.call('operations.list', {});
        set({
          operations: list.operations,
          problems: list.problems,
          nodePaused: list.paused,
          loaded: true,
          error: undefined,
        });
      } catch (err) {
        set({ error: errorMessage(err) });
      }
    });
    return {
      operations: [],
      problems: [],
      nodePaused: false,
      loaded: false,
      error: undefined,
      pending: {},
      feedback: {},
      nodeError: undefined,
      refresh,
      async setNodePaused(paused) {
        try {
          const result = await client.call(paused ? 'node.pause' : 'node.resume', {});
          set({ nodePaused: result.paused, nodeError: undefined });
        } catch (err) {
          set({ nodeError: errorMessage(err) });
        }
        await refresh();
      },
      async trigger(id) {
        if (get().pending[id] !== undefined) return;
        setPending(id, 'trigger');
        try {
          const outcome = await client.call('operations.trigger', { id });
          setFeedback(id, { kind: 'triggered', outcome, at: now() });
        } catch (err) {
          setFeedback(id, { kind: 'error', action: 'trigger', message: errorMessage(err), at: now() });
        } finally {
          setPending(id, undefined);
        }
        await refresh();
      },
      async setPaused(id, paused) {
        const action: OperationAction = paused ? 'pause' : 'resume';
        if (get().pending[id] !== undefined) return;
        setPending(id, action);
        try {
          const result = await client.call(paused ? 'operations.pause' : 'operations.resume', { id });
          set({
            operations: get().operations.map((op) => (op.id === id ? { ...op, paused: result.paused } : op)),
          });
        } catch (err) {
          setFeedback(id, { kind: 'error', action, message: errorMessage(err), at: now() });
        } finally {
          setPending(id, undefined);
        }
        await refresh();
      },
    };
  });
  const refreshSoon = (): void => {
    void store.getState().refresh();
  };
  client.on('operations.changed', refreshSoon);
  client.on('run.started', refreshSoon);
  client.on('run.ended', refreshSoon);
  client.on('node.status', (status) => {
    if (status.paused !== store.getState().nodePaused) store.setState({ nodePaused: status.paused });
  });
  return store;
}
