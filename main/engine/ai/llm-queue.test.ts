import { afterEach, describe, expect, it } from 'vitest';
import { startFakeOllama } from './fake-ollama-server.js';
import type { FakeLlmServer } from './fake-llm-server.js';
import { LlmQueue, type QueueResult } from './llm-queue.js';
import { OllamaProvider } from './ollama-provider.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A job that records when it starts and finishes when the test says. */
function gatedJob(
  name: string,
  started: string[],
): { run: (signal: AbortSignal) => Promise<string>; finish(): void; signal?: AbortSignal } {
  const gate = deferred<undefined>();
  const job = {
    signal: undefined as AbortSignal | undefined,
    run: async (signal: AbortSignal): Promise<string> => {
      job.signal = signal;
      started.push(name);
      await gate.promise;
      return name;
    },
    finish: () => {
      gate.resolve(undefined);
    },
  };
  return job;
}

describe('LlmQueue', () => {
  it('runs one job at a time by default, in order', async () => {
    const queue = new LlmQueue();
    const started: string[] = [];
    const a = gatedJob('a', started);
    const b = gatedJob('b', started);
    const pa = queue.enqueue({ run: a.run });
    const pb = queue.enqueue({ run: b.run });
    expect(started).toEqual(['a']);
    expect(queue.state).toMatchObject({ running: 1, pending: 1 });
    a.finish();
    await expect(pa).resolves.toMatchObject({ dropped: false, value: 'a' });
    expect(started).toEqual(['a', 'b']);
    b.finish();
    await expect(pb).resolves.toMatchObject({ dropped: false, value: 'b' });
    await queue.onIdle();
  });

  it('replaces an older waiting job with the same key, keeping its place in line', async () => {
    const queue = new LlmQueue({ maxPending: 10 });
    const started: string[] = [];
    const blocker = gatedJob('blocker', started);
    const jobs = { b: gatedJob('b', started), c: gatedJob('c', started), d: gatedJob('d', started) };
    void queue.enqueue({ run: blocker.run });
    const pb = queue.enqueue({ run: jobs.b.run, coalesceKey: 'backup', label: 'run-b' });
    const pc = queue.enqueue({ run: jobs.c.run, coalesceKey: 'report', label: 'run-c' });
    const pd = queue.enqueue({ run: jobs.d.run, coalesceKey: 'backup', label: 'run-d' });
    await expect(pb).resolves.toMatchObject({ dropped: true, reason: 'superseded', supersededBy: 'run-d' });
    expect(queue.state.pending).toBe(2);
    blocker.finish();
    jobs.d.finish();
    jobs.c.finish();
    await Promise.all([pc, pd]);
    expect(started).toEqual(['blocker', 'd', 'c']);
  });

  it('drops the oldest waiting background job when full', async () => {
    const queue = new LlmQueue({ maxPending: 2 });
    const started: string[] = [];
    const blocker = gatedJob('blocker', started);
    void queue.enqueue({ run: blocker.run });
    const results = ['x', 'y', 'z'].map((name) =>
      queue.enqueue({ run: gatedJob(name, started).run, label: name }),
    );
    await expect(results[0]).resolves.toMatchObject({
      dropped: true,
      reason: 'queue-full',
      supersededBy: 'z',
    });
    expect(queue.state).toMatchObject({ pending: 2, dropped: 1 });
    queue.close();
    await expect(results[1]).resolves.toMatchObject({ dropped: true, reason: 'closed' });
  });

  it('never drops foreground jobs and runs them before background ones', async () => {
    const queue = new LlmQueue({ maxPending: 1 });
    const started: string[] = [];
    const blocker = gatedJob('blocker', started);
    const jobs = ['bg1', 'fg1', 'fg2', 'bg2'].map((n) => gatedJob(n, started));
    void queue.enqueue({ run: blocker.run });
    const [bg1, fg1, fg2, bg2] = jobs;
    if (!bg1 || !fg1 || !fg2 || !bg2) throw new Error('jobs');
    const pbg1 = queue.enqueue({ run: bg1.run });
    const pfg1 = queue.enqueue({ run: fg1.run, priority: 'foreground' });
    const pfg2 = queue.enqueue({ run: fg2.run, priority: 'foreground' });
    const pbg2 = queue.enqueue({ run: bg2.run });
    await expect(pbg1).resolves.toMatchObject({ dropped: true, reason: 'queue-full' });
    expect(queue.state).toMatchObject({ pending: 1, foreground: 2 });
    for (const job of [blocker, ...jobs]) job.finish();
    await Promise.all([pfg1, pfg2, pbg2]);
    expect(started).toEqual(['blocker', 'fg1', 'fg2', 'bg2']);
  });

  it('drops a waiting job whose signal aborts, and aborts a running one', async () => {
    const queue = new LlmQueue();
    const started: string[] = [];
    const running = new AbortController();
    const waiting = new AbortController();
    const first = {
      run: (signal: AbortSignal) =>
        new Promise<string>((_resolve, reject) => {
          started.push('first');
          signal.addEventListener('abort', () => {
            reject(new Error('stopped'));
          });
        }),
    };
    const pFirst = queue.enqueue({ ...first, signal: running.signal });
    const pSecond = queue.enqueue({ run: gatedJob('second', started).run, signal: waiting.signal });
    waiting.abort();
    await expect(pSecond).resolves.toMatchObject({ dropped: true, reason: 'aborted' });
    running.abort();
    await expect(pFirst).rejects.toThrow('stopped');
    expect(started).toEqual(['first']);
    await queue.onIdle();
  });

  it('passes a job failure to its caller and goes on with the next', async () => {
    const queue = new LlmQueue();
    const failing = queue.enqueue({ run: () => Promise.reject(new Error('model exploded')) });
    const next = queue.enqueue({ run: () => Promise.resolve(42) });
    await expect(failing).rejects.toThrow('model exploded');
    await expect(next).resolves.toMatchObject({ dropped: false, value: 42 });
  });

  describe('a burst of 100 requests against a model that is busy', () => {
    let server: FakeLlmServer;
    afterEach(async () => {
      await server.close();
    });

    it('keeps the waiting line bounded and answers every caller', async () => {
      server = await startFakeOllama({ hold: true, contextLength: 4096 });
      const provider = new OllamaProvider({
        host: server.url,
        model: 'llama3.2',
        timeoutMs: 10_000,
        env: {},
      });
      const queue = new LlmQueue({ concurrency: 1, maxPending: 4 });
      let maxPending = 0;
      queue.onChange((s) => {
        maxPending = Math.max(maxPending, s.pending);
      });
      const results: Promise<QueueResult<string>>[] = [];
      for (let i = 0; i < 100; i++) {
        results.push(
          queue.enqueue({
            // Three busy operations, and now and then a run of a rarely seen one.
            coalesceKey: i % 10 === 9 ? `rare-${i}` : `op-${i % 3}`,
            label: `run-${i}`,
            run: async (signal) => (await provider.chat({ prompt: `summarise run ${i}`, signal })).text,
          }),
        );
        expect(queue.state.pending).toBeLessThanOrEqual(4);
      }
      await server.waitForHeld(1);
      server.behaviour = { ...server.behaviour, hold: false };
      server.release();
      const settled = await Promise.all(results);
      const answered = settled.filter((r) => !r.dropped);
      const dropped = settled.filter((r) => r.dropped);
      expect(settled).toHaveLength(100);
      expect(maxPending).toBeLessThanOrEqual(4);
      expect(answered.length).toBe(5);
      expect(dropped.length).toBe(95);
      expect(new Set(dropped.map((r) => r.reason))).toEqual(new Set(['superseded', 'queue-full']));
      expect(server.count('/api/chat')).toBe(5);
      expect(queue.state).toMatchObject({ running: 0, pending: 0 });
    });
  });
});
