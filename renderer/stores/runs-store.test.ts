import { describe, expect, it } from 'vitest';
import type { MethodOutput } from '../../main/api/contract';
import { deferred, FakeError, FakeNode, settle } from '../test-support/fake-node';
import { manifest, runRow } from '../test-support/samples';
import { compareRuns, mergeRunItem, type RunItem } from './run-item';
import { createRunsStore } from './runs-store';

const t = (minute: number): string => `2025-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;

function started(runId: string, minute: number) {
  return { runId, operationId: 'hello', operationName: 'Hello', trigger: 'manual', startedAt: t(minute) };
}

describe('run items', () => {
  const running: RunItem = { runId: 'r', operationId: 'o', status: 'running', startedAt: t(1) };
  const ended: RunItem = { ...running, status: 'success', durationMs: 5 };

  it('never lets a stale "running" undo a known end', () => {
    expect(mergeRunItem(ended, running).status).toBe('success');
    expect(mergeRunItem(running, ended).status).toBe('success');
  });

  it('keeps what it knew when news leaves fields out', () => {
    expect(mergeRunItem({ ...running, summaryTitle: 'x' }, ended).summaryTitle).toBe('x');
  });

  it('sorts newest first, by start time then run id', () => {
    const items = [
      { ...running, runId: 'a', startedAt: t(1) },
      { ...running, runId: 'c', startedAt: t(2) },
      { ...running, runId: 'b', startedAt: t(2) },
    ];
    expect(items.sort(compareRuns).map((r) => r.runId)).toEqual(['c', 'b', 'a']);
  });
});

describe('runs store', () => {
  it('lists runs newest first and adds a started run at the top, live', async () => {
    const node = new FakeNode();
    node.handle('runs.list', () => ({ runs: [runRow('r2', t(2)), runRow('r1', t(1))] }));
    const store = createRunsStore(node.client);
    await store.getState().refresh();
    expect(store.getState().runs.map((r) => r.runId)).toEqual(['r2', 'r1']);

    node.emit('run.started', started('r3', 3));
    expect(store.getState().runs[0]).toMatchObject({ runId: 'r3', status: 'running' });

    node.emit('run.ended', {
      runId: 'r3',
      operationId: 'hello',
      status: 'failure',
      startedAt: t(3),
      durationMs: 1200,
      error: 'greet failed',
    });
    expect(store.getState().runs[0]).toMatchObject({
      runId: 'r3',
      status: 'failure',
      durationMs: 1200,
      error: 'greet failed',
      operationName: 'Hello',
    });
  });

  it('keeps runs that events reported while a list request was in flight', async () => {
    const node = new FakeNode();
    const answer = deferred<MethodOutput<'runs.list'>>();
    node.handle('runs.list', () => answer.promise);
    const store = createRunsStore(node.client);
    const refreshed = store.getState().refresh();
    node.emit('run.started', started('r2', 2));
    node.emit('run.ended', { runId: 'r1', operationId: 'hello', status: 'success', startedAt: t(1) });
    // The list was read before r2 started and before r1 ended.
    answer.resolve({ runs: [runRow('r1', t(1), { status: 'running', endedAt: undefined })] });
    await refreshed;
    expect(store.getState().runs.map((r) => [r.runId, r.status])).toEqual([
      ['r2', 'running'],
      ['r1', 'success'],
    ]);
  });

  it('folds a burst of refresh requests into one in flight and one after it', async () => {
    const node = new FakeNode();
    const first = deferred<MethodOutput<'runs.list'>>();
    let calls = 0;
    node.handle('runs.list', () => {
      calls += 1;
      return calls === 1 ? first.promise : { runs: [] };
    });
    const store = createRunsStore(node.client);
    const all = [1, 2, 3, 4].map(() => store.getState().refresh());
    first.resolve({ runs: [] });
    await Promise.all(all);
    expect(calls).toBe(2);
  });

  it('filters by operation, ignoring events of other operations', async () => {
    const node = new FakeNode();
    node.handle('runs.list', (input) => ({
      runs:
        input.operationId === 'hello' ? [runRow('r1', t(1))] : [runRow('x', t(1), { operationId: 'other' })],
    }));
    const store = createRunsStore(node.client);
    await store.getState().setFilter({ operationId: 'hello' });
    expect(node.callsOf('runs.list').at(-1)).toMatchObject({ operationId: 'hello' });
    node.emit('run.started', { ...started('o1', 5), operationId: 'other' });
    expect(store.getState().runs.map((r) => r.runId)).toEqual(['r1']);
  });

  it('pages back with the cursor', async () => {
    const node = new FakeNode();
    node.handle('runs.list', (input) =>
      input.cursor === undefined
        ? { runs: [runRow('r2', t(2))], nextCursor: 'c1' }
        : { runs: [runRow('r1', t(1))] },
    );
    const store = createRunsStore(node.client);
    await store.getState().refresh();
    await store.getState().loadMore();
    expect(node.callsOf('runs.list').at(-1)).toMatchObject({ cursor: 'c1' });
    expect(store.getState().runs.map((r) => r.runId)).toEqual(['r2', 'r1']);
    expect(store.getState().nextCursor).toBeUndefined();
  });

  it('shows an error and keeps the list when a refresh fails', async () => {
    const node = new FakeNode();
    let fail = false;
    node.handle('runs.list', () => {
      if (fail) throw new FakeError('unavailable', 'node is busy');
      return { runs: [runRow('r1', t(1))] };
    });
    const store = createRunsStore(node.client);
    await store.getState().refresh();
    fail = true;
    await store.getState().refresh();
    expect(store.getState().error).toBe('node is busy');
    expect(store.getState().runs).toHaveLength(1);
  });

  it('keeps an open run detail live: progress moves tasks, the end reads the final manifest', async () => {
    const node = new FakeNode();
    let final = false;
    node.handle('runs.get', ({ runId }) => ({
      run: runRow(runId, t(1), { status: final ? 'success' : 'running' }),
      manifest: final
        ? manifest(runId, {
            status: 'success',
            summary: { title: 'all good', text: '', source: 'engine' },
          })
        : manifest(runId),
    }));
    const store = createRunsStore(node.client, () => Date.parse(t(9)));
    await store.getState().loadDetail('r1');
    node.emit('run.progress', { runId: 'r1', taskId: 'greet', phase: 'task-started', items: 4 });
    const task = () => store.getState().details['r1']?.manifest?.tasks.find((x) => x.id === 'greet');
    expect(task()).toMatchObject({ status: 'running', startedAt: t(9) });
    node.emit('run.progress', { runId: 'r1', taskId: 'greet', phase: 'execution-ended', done: 1, total: 4 });
    expect(store.getState().details['r1']?.progress['greet']).toEqual({ done: 1, total: 4 });
    node.emit('run.progress', {
      runId: 'r1',
      taskId: 'greet',
      phase: 'task-ended',
      status: 'failure',
      durationMs: 30,
      error: 'exit 3',
    });
    expect(task()).toMatchObject({ status: 'failure', durationMs: 30, error: 'exit 3' });

    final = true;
    node.emit('run.ended', { runId: 'r1', operationId: 'hello', status: 'success', startedAt: t(1) });
    expect(store.getState().details['r1']?.manifest?.status).toBe('success');
    await settle();
    expect(store.getState().details['r1']?.manifest?.summary?.title).toBe('all good');
  });

  it('shows the LLM summary that follows a run end, in the list and in an open detail', async () => {
    const node = new FakeNode();
    node.handle('runs.list', () => ({ runs: [runRow('r1', t(1), { summaryTitle: 'Hello succeeded' })] }));
    node.handle('runs.get', ({ runId }) => ({
      run: runRow(runId, t(1)),
      manifest: manifest(runId, {
        status: 'success',
        summary: { title: 'Hello succeeded', text: '', source: 'engine' },
      }),
    }));
    const store = createRunsStore(node.client);
    await store.getState().refresh();
    await store.getState().loadDetail('r1');
    const summary = { title: 'Said hello to the world', text: 'All went well.', source: 'llm' as const };
    node.emit('run.summary', { runId: 'r1', operationId: 'hello', summary });
    expect(store.getState().runs[0]?.summaryTitle).toBe('Said hello to the world');
    expect(store.getState().details['r1']?.manifest?.summary).toEqual(summary);
    node.emit('run.summary', { runId: 'r9', operationId: 'hello', summary });
    expect(store.getState().runs.map((r) => r.runId)).toEqual(['r1']);
  });

  it('says when a run does not exist', async () => {
    const node = new FakeNode();
    node.handle('runs.get', () => {
      throw new FakeError('not-found', 'no run r9');
    });
    const store = createRunsStore(node.client);
    await store.getState().loadDetail('r9');
    expect(store.getState().details['r9']).toMatchObject({ notFound: true, loading: false });
  });

  it('retries a run and reports the outcome', async () => {
    const node = new FakeNode();
    node.handle('runs.retry', () => ({ outcome: 'started', runId: 'r2', operationId: 'hello' }));
    const store = createRunsStore(node.client);
    await store.getState().retry('r1');
    expect(store.getState().feedback['r1']).toMatchObject({ error: false, outcome: { runId: 'r2' } });
  });
});
