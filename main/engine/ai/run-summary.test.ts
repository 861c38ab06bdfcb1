import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startFakeOllama } from './fake-ollama-server.js';
import type { FakeLlmServer } from './fake-llm-server.js';
import { LlmPool } from './llm-pool.js';
import { llmSettingsSchema } from './llm-settings.js';
import {
  buildDigest,
  digestMaxChars,
  fallbackSummary,
  shouldSummarize,
  summarizeRun,
  type RunSummaryRecord,
} from './run-summary.js';
import { refusedUrl, taskRecord, testManifest } from './test-support.js';

const logLines = Array.from({ length: 50 }, (_, i) => `\u001b[31mbuild line ${i + 1}\u001b[0m`).join('\n');

function failedRun(runId = '20240502-120000-efgh') {
  return testManifest({
    runId,
    status: 'failure',
    durationMs: 12_300,
    error: 'task build failed',
    tasks: [
      taskRecord({ id: 'fetch', kind: 'http', output: { status: 200, body: 'x'.repeat(5000) } }),
      taskRecord({
        id: 'build',
        status: 'failure',
        attempts: 3,
        exitCode: 2,
        error: 'make: *** [all] Error 2\nmore detail',
        log: 'logs/build.log',
      }),
      taskRecord({
        id: 'upload',
        kind: 'http',
        status: 'skipped',
        skipReason: 'needs build',
        durationMs: undefined,
        log: undefined,
      }),
    ],
  });
}

/** The same operation's previous run, which went fine. */
function goodRun() {
  return testManifest({
    runId: '20240501-120000-abcd',
    tasks: [
      taskRecord({ id: 'fetch', kind: 'http', output: { status: 200 } }),
      taskRecord({ id: 'build' }),
      taskRecord({ id: 'upload', kind: 'http' }),
    ],
  });
}

const readLogTail = (rel: string): Promise<string> =>
  rel === 'logs/build.log' ? Promise.resolve(logLines) : Promise.resolve('fine\n');

describe('buildDigest', () => {
  it('gives status, durations, the failing task with exit code and error, its last 20 log lines and the changes', async () => {
    const digest = await buildDigest(failedRun(), goodRun(), readLogTail);
    expect(digest).toContain('Operation: Nightly backup (backup)');
    expect(digest).toContain('FAILURE after 12.3s (trigger: schedule)');
    expect(digest).toContain(
      '- build [shell]: failure after 3 attempts in 1.2s, exit code 2: make: *** [all] Error 2',
    );
    expect(digest).toContain('- upload [http]: skipped (needs build)');
    expect(digest).toContain('  | build line 50');
    expect(digest).toContain('  | build line 31');
    expect(digest).not.toContain('build line 30\n');
    expect(digest).not.toContain('\u001b');
    expect(digest).toContain('- run status: success → failure');
    expect(digest).toContain('- build: success → failure');
    expect(digest).toContain('- fetch: output changed');
    expect(digest).toContain('Previous run 20240501-120000-abcd: success after 12.3s');
    expect(digest).toMatch(/- fetch: \{"status":200,"body":"x+…/);
    expect(digest.length).toBeLessThan(digestMaxChars);
  });

  it('says when nothing changed, and when a log cannot be read', async () => {
    const run = failedRun();
    const digest = await buildDigest(run, failedRun('older'), () => Promise.reject(new Error('ENOENT')));
    expect(digest).toContain('Nothing changed since the previous run');
    expect(digest).toContain('(log unavailable: ENOENT)');
  });

  it('stays bounded however large the run is', async () => {
    const tasks = Array.from({ length: 200 }, (_, i) =>
      taskRecord({ id: `t${i}`, error: 'e'.repeat(500), status: 'failure' }),
    );
    const digest = await buildDigest(testManifest({ status: 'failure', tasks }), undefined, () =>
      Promise.resolve('z'.repeat(100_000)),
    );
    expect(digest.length).toBeLessThanOrEqual(digestMaxChars);
  });
});

describe('shouldSummarize', () => {
  const ok = testManifest();
  const failed = failedRun();
  it.each([
    ['default, failed run', undefined, failed, ok, true],
    ['default, first run', undefined, ok, undefined, true],
    ['default, unchanged success', undefined, ok, testManifest({ runId: 'older' }), false],
    [
      'default, changed output',
      undefined,
      testManifest({ outputs: { files: [], data: [{ n: 1 }] } }),
      ok,
      true,
    ],
    ['off', 'off', failed, ok, false],
    ['always, unchanged', 'always', ok, ok, true],
    ['failure only, changed success', ['failure'], testManifest({ status: 'success', tasks: [] }), ok, false],
    ['change only, failure repeated', ['change'], failed, failedRun('older'), false],
    ['cancelled run under failure', 'failure', testManifest({ status: 'cancelled' }), ok, false],
  ] as const)('%s → %s', (_name, policy, manifest, previous, expected) => {
    expect(
      shouldSummarize(
        policy === undefined ? undefined : typeof policy === 'string' ? policy : [...policy],
        manifest,
        previous,
      ),
    ).toBe(expected);
  });

  it('never summarises a run that is still going', () => {
    expect(shouldSummarize('always', testManifest({ status: 'running' }))).toBe(false);
  });
});

describe('fallbackSummary', () => {
  it('is deterministic and says which task failed, how and where to look', () => {
    const summary = fallbackSummary(failedRun(), { reason: 'down' });
    expect(summary).toMatchObject({
      title: 'Nightly backup failed at build',
      text: 'Task build failed with exit code 2 after 3 attempts: make: *** [all] Error 2. 1 of 3 tasks succeeded in 12.3s.',
      source: 'fallback',
      fallbackReason: 'down',
      links: { runId: '20240502-120000-efgh', log: '/data/runs/backup/20240502-120000-efgh/logs/build.log' },
    });
    expect(fallbackSummary(failedRun())).toEqual(fallbackSummary(failedRun()));
  });

  it('words success, and notes when nothing changed', () => {
    const summary = fallbackSummary(testManifest(), { previous: testManifest({ runId: 'older' }) });
    expect(summary.title).toBe('Nightly backup succeeded');
    expect(summary.text).toBe('All 2 tasks succeeded in 12.3s. Nothing changed since the previous run.');
  });
});

describe('summarizeRun', () => {
  let server: FakeLlmServer;
  let pool: LlmPool;
  beforeEach(async () => {
    server = await startFakeOllama({ contextLength: 4096 });
    pool = new LlmPool({ env: {} });
  });
  afterEach(async () => {
    pool.close();
    await server.close();
  });

  const handle = (overrides: Record<string, unknown> = {}) =>
    pool.handle(llmSettingsSchema.parse({ host: server.url, timeout: '10s', ...overrides }));

  it('asks the model for a title and text and records model, time and links', async () => {
    server.behaviour = {
      ...server.behaviour,
      reply: JSON.stringify({
        title: 'Backup failed at build',
        text: 'The build step stopped with exit code 2.',
      }),
    };
    const summary = await summarizeRun({
      manifest: failedRun(),
      previous: testManifest(),
      readLogTail,
      llm: handle(),
    });
    expect(summary).toMatchObject({
      title: 'Backup failed at build',
      text: 'The build step stopped with exit code 2.',
      source: 'llm',
      model: 'llama3.2',
      links: {
        runId: '20240502-120000-efgh',
        operationId: 'backup',
        run: '/data/runs/backup/20240502-120000-efgh',
      },
    });
    expect(summary.ms).toBeTypeOf('number');
    const [seen] = server.chats('/api/chat');
    expect(seen?.prompt).toContain('build line 50');
    expect(seen?.format).toMatchObject({ required: ['title', 'text'] });
  });

  async function expectFallback(summary: Promise<RunSummaryRecord>, reason: RegExp): Promise<void> {
    const result = await summary;
    expect(result.source).toBe('fallback');
    expect(result.title).toBe('Nightly backup failed at build');
    expect(result.fallbackReason).toMatch(reason);
  }

  it('falls back when the provider is down', async () => {
    const llm = pool.handle(llmSettingsSchema.parse({ host: await refusedUrl() }));
    await expectFallback(summarizeRun({ manifest: failedRun(), readLogTail, llm }), /not reachable/);
  });

  it('falls back when the model is too slow', async () => {
    server.behaviour = { ...server.behaviour, stall: 'headers' };
    await expectFallback(
      summarizeRun({ manifest: failedRun(), readLogTail, llm: handle({ timeout: 300 }) }),
      /within 300ms/,
    );
  });

  it('falls back on HTTP 500', async () => {
    server.behaviour = { ...server.behaviour, status: 500 };
    await expectFallback(summarizeRun({ manifest: failedRun(), readLogTail, llm: handle() }), /HTTP 500/);
  });

  it('falls back on a malformed stream', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      server.behaviour = { ...server.behaviour, malformed: true };
      await expectFallback(
        summarizeRun({ manifest: failedRun(), readLogTail, llm: handle() }),
        /early or sent garbage/,
      );
    } finally {
      warn.mockRestore();
    }
  });

  it('falls back on a reply that is not JSON', async () => {
    server.behaviour = { ...server.behaviour, reply: 'The backup failed, sorry!' };
    await expectFallback(
      summarizeRun({ manifest: failedRun(), readLogTail, llm: handle() }),
      /not valid JSON/,
    );
  });

  it('falls back on JSON that breaks the schema', async () => {
    server.behaviour = { ...server.behaviour, reply: '{"title": "", "summary": "wrong keys"}' };
    await expectFallback(
      summarizeRun({ manifest: failedRun(), readLogTail, llm: handle() }),
      /does not match the schema/,
    );
  });

  it('answers a burst of 100 runs in a short time with a bounded queue and few model calls', async () => {
    server.behaviour = {
      ...server.behaviour,
      hold: true,
      reply: JSON.stringify({ title: 'Done', text: 'It ran.' }),
    };
    const llm = handle({ maxQueue: 4 });
    let maxPending = 0;
    llm.queue.onChange((s) => {
      maxPending = Math.max(maxPending, s.pending);
    });
    const summaries: Promise<RunSummaryRecord>[] = [];
    for (let i = 0; i < 100; i++) {
      const manifest = testManifest({
        runId: `run-${i}`,
        operation: { id: `op-${i % 10}` },
        status: i % 7 === 0 ? 'failure' : 'success',
      });
      summaries.push(summarizeRun({ manifest, readLogTail, llm }));
    }
    await server.waitForHeld(1);
    server.behaviour = { ...server.behaviour, hold: false };
    server.release();
    const results = await Promise.all(summaries);
    expect(results).toHaveLength(100);
    expect(maxPending).toBeLessThanOrEqual(4);
    const fromLlm = results.filter((r) => r.source === 'llm');
    expect(fromLlm.length).toBeGreaterThan(0);
    expect(fromLlm.length).toBeLessThanOrEqual(5);
    expect(server.count('/api/chat')).toBe(fromLlm.length);
    for (const r of results.filter((x) => x.source === 'fallback')) {
      expect(r.fallbackReason).toMatch(
        /superseded by run run-\d+ of the same operation|too many summaries waiting/,
      );
    }
    expect(results.at(-1)?.source).toBe('llm');
  });
});
