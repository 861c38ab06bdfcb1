import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientFor, sleeperOperation, startTestServer, type TestServer } from './api-test-support.js';

let target: TestServer | undefined;

afterEach(async () => {
  await target?.close();
  target = undefined;
});

describe('logs.read of a running run', () => {
  it('reads a task that has printed nothing yet as empty and live, not as missing', async () => {
    target = await startTestServer();
    const { node } = target;
    await node.addOperation(sleeperOperation, 'sleeper.yaml');
    const outcome = node.trigger('sleeper', {});
    if (outcome.type !== 'started') throw new Error(`sleeper did not start: ${outcome.type}`);
    const runId = outcome.runId;
    // The viewer opens a run as soon as it starts: from the first manifest write on.
    await vi.waitFor(() => {
      const row = node.engine.stores?.runs.get(runId);
      expect(row !== undefined && existsSync(row.manifest)).toBe(true);
    });
    const client = clientFor('in-process', target);
    expect(await client.call('logs.read', { runId, taskId: 'wait' })).toEqual({
      text: '',
      offset: 0,
      nextOffset: 0,
      size: 0,
      eof: true,
      live: true,
    });
    await expect(client.call('logs.read', { runId, taskId: 'nope' })).rejects.toMatchObject({
      code: 'not-found',
    });
    node.engine.cancel(runId, 'test over');
    await node.whenIdle();
  });
});
