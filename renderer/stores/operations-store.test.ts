import { describe, expect, it } from 'vitest';
import { FakeError, FakeNode, settle } from '../test-support/fake-node';
import { operation } from '../test-support/samples';
import { createOperationsStore } from './operations-store';

describe('operations store', () => {
  it('lists operations and refreshes when the node says they changed', async () => {
    const node = new FakeNode();
    let ids = ['a'];
    node.handle('operations.list', () => ({
      paused: false,
      operations: ids.map((id) => operation(id)),
      problems: [],
    }));
    const store = createOperationsStore(node.client);
    await store.getState().refresh();
    expect(store.getState().operations.map((o) => o.id)).toEqual(['a']);
    ids = ['a', 'b'];
    node.emit('operations.changed', { id: 'b', change: 'saved' });
    await settle();
    expect(store.getState().operations.map((o) => o.id)).toEqual(['a', 'b']);
  });

  it('runs an operation now and keeps the outcome to show beside it', async () => {
    const node = new FakeNode();
    node.handle('operations.list', () => ({ paused: false, operations: [operation('a')], problems: [] }));
    node.handle('operations.trigger', ({ id }) => ({ outcome: 'started', runId: 'r1', operationId: id }));
    const store = createOperationsStore(node.client, () => 42);
    const pending = store.getState().trigger('a');
    expect(store.getState().pending['a']).toBe('trigger');
    await pending;
    expect(store.getState().pending['a']).toBeUndefined();
    expect(store.getState().feedback['a']).toEqual({
      kind: 'triggered',
      outcome: { outcome: 'started', runId: 'r1', operationId: 'a' },
      at: 42,
    });
  });

  it('reports a refused action with the node’s message', async () => {
    const node = new FakeNode();
    node.handle('operations.list', () => ({ paused: false, operations: [operation('a')], problems: [] }));
    node.handle('operations.pause', () => {
      throw new FakeError('not-found', 'no operation "a"');
    });
    const store = createOperationsStore(node.client, () => 1);
    await store.getState().setPaused('a', true);
    expect(store.getState().feedback['a']).toMatchObject({
      kind: 'error',
      action: 'pause',
      message: 'no operation "a"',
    });
  });

  it('pauses and resumes, showing the new state at once', async () => {
    const node = new FakeNode();
    let paused = false;
    node.handle('operations.list', () => ({
      paused: false,
      operations: [operation('a', { paused })],
      problems: [],
    }));
    node.handle('operations.pause', ({ id }) => {
      paused = true;
      return { id, paused: true };
    });
    const store = createOperationsStore(node.client);
    await store.getState().refresh();
    await store.getState().setPaused('a', true);
    expect(store.getState().operations[0]?.paused).toBe(true);
  });

  it('follows the node’s pause from node.status events', async () => {
    const node = new FakeNode();
    const store = createOperationsStore(node.client);
    node.emit('node.status', {
      id: 'n',
      name: 'box',
      version: '0.1.0',
      pid: 1,
      dataDir: '/d',
      startedAt: '2025-01-01T00:00:00.000Z',
      uptimeMs: 1,
      paused: true,
      operations: 0,
      activeRuns: [],
      nextFires: [],
      eventSeq: 1,
    });
    await settle();
    expect(store.getState().nodePaused).toBe(true);
  });
});
