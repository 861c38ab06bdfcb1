import { describe, expect, it } from 'vitest';
import { createConnectionStore } from './connection-store';

describe('connection store', () => {
  it('goes connecting → connected → reconnecting → connected', () => {
    const store = createConnectionStore();
    const { streamStatus } = store.getState();
    expect(store.getState().status).toBe('connecting');
    streamStatus({ state: 'open', seq: 3, gap: false });
    expect(store.getState()).toMatchObject({ status: 'connected', opened: 1 });
    streamStatus({ state: 'closed', reason: '1006', retryInMs: 500 }, 1000);
    expect(store.getState()).toMatchObject({ status: 'reconnecting', retryAt: 1500, detail: '1006' });
    streamStatus({ state: 'connecting' });
    expect(store.getState().status).toBe('reconnecting');
    streamStatus({ state: 'open', seq: 9, gap: true });
    expect(store.getState()).toMatchObject({ status: 'connected', opened: 2, gap: true });
  });

  it('stops at unauthorized or forbidden: nothing after that changes it', () => {
    const store = createConnectionStore();
    store.getState().streamStatus({ state: 'closed', reason: '4401 wrong token', retryInMs: 250 });
    expect(store.getState().status).toBe('unauthorized');
    store.getState().streamStatus({ state: 'open', seq: 1, gap: false });
    expect(store.getState().status).toBe('unauthorized');

    const other = createConnectionStore();
    other.getState().streamStatus({ state: 'closed', reason: '4403', retryInMs: 250 });
    expect(other.getState().status).toBe('forbidden');
  });

  it('turns unauthorized when a call is refused', () => {
    const store = createConnectionStore();
    store.getState().refused();
    expect(store.getState().status).toBe('unauthorized');
  });
});
