import { createStore, type StoreApi } from 'zustand/vanilla';
import type { StreamStatus } from '../../main/api/contract-client';
import { refusedBy } from '../api/node-connection';
import { assertNever } from '../app/assert-never';

/**
 * Where the link to the node stands, as the UI shows it.
 *
 * - `connecting`: first attempt, nothing to complain about yet.
 * - `connected`: events flow; lists are live.
 * - `reconnecting`: the event stream dropped; what is shown may be stale until it is back.
 * - `unauthorized`: no token, or the node refused it. Nothing retries.
 * - `forbidden`: the node refused this page's origin. Nothing retries.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'unauthorized' | 'forbidden';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Why the stream is down (`1006`), for the banner's tooltip. */
  detail: string | undefined;
  /** When the next reconnect attempt is due (ms since the epoch). */
  retryAt: number | undefined;
  /** Connections that reached `open`; the first one is not a "re"connect. */
  opened: number;
  /** Set when the last (re)connect could not replay every missed event. */
  gap: boolean;
  /** Feeds one status of the client's event stream. */
  streamStatus: (status: StreamStatus, now?: number) => void;
  /** The node refused the token (on a call or on the stream). */
  refused: () => void;
}

export type ConnectionStore = StoreApi<ConnectionState>;

export function createConnectionStore(initial: ConnectionStatus = 'connecting'): ConnectionStore {
  return createStore<ConnectionState>()((set, get) => ({
    status: initial,
    detail: undefined,
    retryAt: undefined,
    opened: 0,
    gap: false,
    streamStatus(status, now = Date.now()) {
      const current = get().status;
      if (current === 'unauthorized' || current === 'forbidden') return;
      switch (status.state) {
        case 'connecting':
          // A reconnect attempt: keep saying "reconnecting" rather than flicker to "connecting".
          if (current !== 'reconnecting') set({ status: get().opened > 0 ? 'reconnecting' : 'connecting' });
          return;
        case 'open':
          set({
            status: 'connected',
            detail: undefined,
            retryAt: undefined,
            opened: get().opened + 1,
            gap: status.gap,
          });
          return;
        case 'closed': {
          const refusal = refusedBy(status);
          if (refusal !== undefined) {
            set({ status: refusal, detail: status.reason, retryAt: undefined });
            return;
          }
          set({
            status: 'reconnecting',
            detail: status.reason === '' ? undefined : status.reason,
            retryAt: status.retryInMs === undefined ? undefined : now + status.retryInMs,
          });
          return;
        }
        default:
          assertNever(status, 'stream status');
      }
    },
    refused() {
      set({ status: 'unauthorized', retryAt: undefined });
    },
  }));
}
