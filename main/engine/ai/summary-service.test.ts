import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.js';
import { silentLogger } from '../logger.js';
import { parseOperation } from '../model/load-operation.js';
import { manifestSchema, type Manifest } from '../model/manifest.js';
import { UltravisorNode } from '../node.js';
import { openEngine } from '../open-engine.js';
import { ManualClock } from '../triggers/manual-clock.js';
import type { FakeChatRequest, FakeLlmServer } from './fake-llm-server.js';
import { startFakeOllama } from './fake-ollama-server.js';
import { createNodeLlm, type NodeLlm } from './node-llm.js';
import { RunSummaryService } from './summary-service.js';
import { refusedUrl } from './test-support.js';
import type { LlmTaskOutput } from './llm-task.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const llmTitle = 'Backup failed at upload';
const llmText =
  'The upload step exited with code 3 because the disk was full. Free some space and run it again.';

/** Replies as a model would: JSON for run summaries, plain text for everything else. */
function reply(request: FakeChatRequest): string {
  return request.system?.includes('notifications about automated jobs') === true
    ? JSON.stringify({ title: llmTitle, text: llmText })
    : 'Plain answer.';
}

async function fakeModel(): Promise<FakeLlmServer> {
  const server = await startFakeOllama({ reply });
  cleanups.push(() => server.close());
  return server;
}

interface Setup {
  dir: string;
  engine: Engine;
  llm: NodeLlm;
  service: RunSummaryService;
}

/** A fresh data dir with `settings` as settings.json, an engine over it and the summary service. */
async function setup(settings?: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'uv-summaries-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  if (settings !== undefined) await writeFile(join(dir, 'settings.json'), JSON.stringify(settings));
  const llm = createNodeLlm(dir, { env });
  const engine = await openEngine(dir, silentLogger(), { llm });
  const service = new RunSummaryService({ engine });
  service.attach();
  cleanups.push(() => {
    service.detach();
    engine.close();
    llm.pool.close();
  });
  return { dir, engine, llm, service };
}

async function readRun(path: string): Promise<Manifest> {
  return manifestSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

/** Runs YAML to the end, then waits for its summary; returns the manifest as ended and as stored. */
async function runAndSettle(s: Setup, yaml: string): Promise<{ ended: Manifest; stored: Manifest }> {
  const ended = await s.engine.run({ operation: parseOperation(yaml, 'test.yaml') });
  await s.service.settled(ended.runId);
  return { ended, stored: await readRun(ended.links.manifest) };
}

const failing = `
id: backup
name: Nightly backup
summary: failure
tasks:
  - { id: prepare, shell: 'echo preparing' }
  - { id: upload, needs: [prepare], shell: 'echo "disk full" >&2; exit 3' }
`;

describe('run summaries', () => {
  it('tells onSummary listeners each time it writes a summary, after a run and on retry', async () => {
    const s = await setup();
    const heard: unknown[] = [];
    const stop = s.service.onSummary((w) => heard.push(w));
    const { stored } = await runAndSettle(s, failing);
    expect(heard).toEqual([{ runId: stored.runId, operationId: 'backup', summary: stored.summary }]);
    const again = await s.service.retry(stored.runId);
    expect(heard[1]).toEqual({ runId: stored.runId, operationId: 'backup', summary: again });
    stop();
    await s.service.retry(stored.runId);
    expect(heard).toHaveLength(2);
  });

  it('summarises a failed run with the model and notifies with severity error and links', async () => {
    const server = await fakeModel();
    const s = await setup({ llm: { host: server.url } });
    const { ended, stored } = await runAndSettle(s, failing);
    expect(ended.status).toBe('failure');
    expect(stored.summary).toMatchObject({
      title: llmTitle,
      text: llmText,
      source: 'llm',
      model: 'llama3.2',
    });
    expect(stored.summary?.ms).toEqual(expect.any(Number));
    expect(stored.endedAt).toBe(ended.endedAt);
    expect(stored.status).toBe('failure');
    // The digest the model saw names the failing task, its exit code and its log.
    const [chat] = server.chats('/api/chat');
    expect(chat?.prompt).toContain('upload');
    expect(chat?.prompt).toContain('exit code 3');
    expect(chat?.prompt).toContain('disk full');

    const row = s.engine.stores?.runs.get(ended.runId);
    expect(row?.summaryTitle).toBe(llmTitle);
    const [n] = s.service.feed?.list().items ?? [];
    expect(n).toMatchObject({
      title: llmTitle,
      text: llmText,
      severity: 'error',
      source: 'llm',
      runId: ended.runId,
    });
    expect(n?.links).toMatchObject({
      runId: ended.runId,
      operationId: 'backup',
      run: ended.links.run,
      manifest: ended.links.manifest,
      logs: ended.links.logs,
      log: join(ended.links.run, 'logs', 'upload.log'),
    });
  });

  it('writes status and end time before the summary: the run never waits for the model', async () => {
    const server = await fakeModel();
    server.behaviour = { ...server.behaviour, hold: true };
    const s = await setup({ llm: { host: server.url } });
    const ended = await s.engine.run({ operation: parseOperation(failing, 'test.yaml') });
    await server.waitForHeld(1);
    // The run is over and on disk while the model still holds the summary request.
    const meanwhile = await readRun(ended.links.manifest);
    expect(meanwhile.status).toBe('failure');
    expect(meanwhile.endedAt).toBe(ended.endedAt);
    expect(meanwhile.summary?.source).toBe('engine');
    expect(s.service.pending()).toEqual([ended.runId]);
    server.release();
    await s.service.settled(ended.runId);
    const stored = await readRun(ended.links.manifest);
    expect(stored.summary?.source).toBe('llm');
    expect(stored.endedAt).toBe(ended.endedAt);
    expect(stored.durationMs).toBe(ended.durationMs);
  });

  it('writes the fallback when the model is down, and the run ends as it would have', async () => {
    const s = await setup({ llm: { host: await refusedUrl() } });
    const started = performance.now();
    const { ended, stored } = await runAndSettle(s, failing);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(stored.summary).toMatchObject({ source: 'fallback', title: 'Nightly backup failed at upload' });
    expect(stored.summary?.text).toContain('exit code 3');
    expect(stored.summary).toHaveProperty('fallbackReason');
    expect(stored.endedAt).toBe(ended.endedAt);
    expect(stored.status).toBe('failure');
    expect(s.service.feed?.list().items[0]).toMatchObject({ severity: 'error', source: 'fallback' });
  });

  it('falls back when the model stalls past the timeout, bounded by it', async () => {
    const server = await fakeModel();
    server.behaviour = { ...server.behaviour, stall: 'headers' };
    const s = await setup({ llm: { host: server.url, timeout: '300ms' } });
    const started = performance.now();
    const { stored } = await runAndSettle(s, failing);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(stored.summary?.source).toBe('fallback');
    expect(String(stored.summary?.fallbackReason)).toMatch(/time/i);
  });

  it('settled({ abortAfterMs }) cuts a waiting summary short with the fallback', async () => {
    const server = await fakeModel();
    server.behaviour = { ...server.behaviour, hold: true };
    const s = await setup({ llm: { host: server.url } });
    const ended = await s.engine.run({ operation: parseOperation(failing, 'test.yaml') });
    const outcome = await s.service.settled(ended.runId, { abortAfterMs: 50 });
    expect(outcome?.summary?.source).toBe('fallback');
    expect((await readRun(ended.links.manifest)).summary?.source).toBe('fallback');
  });

  it('without an LLM configured, writes the engine summary without asking anyone', async () => {
    const s = await setup();
    const { stored } = await runAndSettle(s, failing);
    expect(stored.summary).toMatchObject({ source: 'engine', title: 'Nightly backup failed at upload' });
    expect(stored.summary).not.toHaveProperty('fallbackReason');
    expect(s.service.feed?.list().items[0]).toMatchObject({ severity: 'error', source: 'engine' });
  });

  it('OLLAMA_HOST alone configures the model', async () => {
    const server = await fakeModel();
    const s = await setup(undefined, { OLLAMA_HOST: server.url });
    const { stored } = await runAndSettle(s, failing);
    expect(stored.summary?.source).toBe('llm');
  });

  it('follows the policy: summary off leaves the runner’s summary and makes no notification', async () => {
    const server = await fakeModel();
    const s = await setup({ llm: { host: server.url } });
    const { stored } = await runAndSettle(s, failing.replace('summary: failure', 'summary: off'));
    expect(stored.summary?.source).toBe('engine');
    expect(server.count('/api/chat')).toBe(0);
    expect(s.service.feed?.list().items).toEqual([]);
  });

  it('suppresses "nothing changed" notifications across identical runs unless asked', async () => {
    const server = await fakeModel();
    const s = await setup({ llm: { host: server.url } });
    const same = `
id: same
summary: always
tasks:
  - { id: hello, shell: 'echo hello' }
`;
    await runAndSettle(s, same);
    const second = await runAndSettle(s, same);
    expect(second.stored.summary?.source).toBe('llm');
    expect(s.service.feed?.list().items).toHaveLength(1);

    await runAndSettle(s, `${same}notify: { unchanged: true }\n`);
    expect(s.service.feed?.list().items).toHaveLength(2);

    // The default policy (failure, change) does not even summarise an unchanged run.
    const quiet = same.replace('summary: always\n', '');
    const third = await runAndSettle(s, quiet);
    expect(third.stored.summary?.source).toBe('engine');
    expect(s.service.feed?.list().items).toHaveLength(2);
  });

  it('batches runs into a digest of every N runs', async () => {
    const s = await setup();
    const yaml = `
id: batched
summary: always
notify: { unchanged: true, digest: { every: 2 } }
tasks:
  - { id: hello, shell: 'echo hello' }
`;
    await runAndSettle(s, yaml);
    expect(s.service.feed?.list().items).toHaveLength(0);
    await runAndSettle(s, yaml);
    const items = s.service.feed?.list().items ?? [];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ source: 'digest', title: 'batched: 2 runs' });
  });

  it('retries a stored run’s summary once the model is back', async () => {
    const s = await setup({ llm: { host: await refusedUrl() } });
    const { ended, stored } = await runAndSettle(s, failing);
    expect(stored.summary?.source).toBe('fallback');
    const server = await fakeModel();
    await writeFile(
      join(s.dir, 'settings.json'),
      JSON.stringify({ llm: { host: server.url, model: 'llama3.2' } }),
    );
    const summary = await s.service.retry(ended.runId.slice(0, 30));
    expect(summary).toMatchObject({ source: 'llm', title: llmTitle });
    expect((await readRun(ended.links.manifest)).summary?.source).toBe('llm');
    expect(s.engine.stores?.runs.get(ended.runId)?.summaryTitle).toBe(llmTitle);
    await expect(s.service.retry('no-such-run')).rejects.toThrow(/no run "no-such-run"/);
  });
});

describe('the llm task kind in an operation', () => {
  it('returns text, and JSON checked against a schema, with the operation’s llm override', async () => {
    const server = await fakeModel();
    server.behaviour = {
      reply: (request) =>
        request.prompt.includes('JSON')
          ? '{"city": "Oslo", "temp": 4}'
          : `Echo: ${request.prompt.split('\n')[0]}`,
    };
    const s = await setup({ llm: { host: await refusedUrl() } }); // the node's host is wrong ...
    const yaml = `
id: ask
summary: off
llm: { host: '${server.url}' } # ... the operation's wins
params:
  who: { default: Ada }
tasks:
  - id: greet
    llm: { prompt: 'Say hello to {{ params.who }}' }
  - id: weather
    llm:
      prompt: Give the weather as JSON
      schema:
        type: object
        properties: { city: { type: string }, temp: { type: number } }
        required: [city, temp]
`;
    const { ended } = await runAndSettle(s, yaml);
    expect(ended.status).toBe('success');
    const greet = ended.tasks.find((t) => t.id === 'greet')?.output as LlmTaskOutput;
    expect(greet.text).toBe('Echo: Say hello to Ada');
    expect(greet.model).toBe('llama3.2');
    expect(greet.completionTokens).toBeGreaterThan(0);
    const weather = ended.tasks.find((t) => t.id === 'weather')?.output as LlmTaskOutput;
    expect(weather.json).toEqual({ city: 'Oslo', temp: 4 });
  });

  it('fails the task, not the engine, when the model is down', async () => {
    const s = await setup({ llm: { host: await refusedUrl() } });
    const { ended } = await runAndSettle(
      s,
      `id: down\nsummary: off\ntasks:\n  - { id: ask, llm: { prompt: hi } }\n`,
    );
    expect(ended.status).toBe('failure');
    expect(ended.tasks[0]?.status).toBe('failure');
  });
});

describe('the summary service in a node', () => {
  it('flushes an interval digest when it is due, and stops cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'uv-summaries-node-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const clock = new ManualClock(Date.now());
    const node = await UltravisorNode.open({
      dataDir: dir,
      logger: silentLogger(),
      clock,
      watchDataDir: false,
    });
    const service = new RunSummaryService({
      engine: node.engine,
      findOperation: (id) => node.operations.get(id)?.operation,
    });
    await node.use(service);
    await node.addOperation(
      `id: daily\nsummary: always\nnotify: { digest: { interval: 1d } }\ntasks:\n  - { id: hi, shell: 'echo hi' }\n`,
      'daily.yaml',
    );
    await node.start();
    cleanups.push(async () => {
      await node.stop({ graceMs: 0 });
      node.engine.close();
    });
    const outcome = node.trigger('daily');
    if (outcome.type !== 'started') throw new Error(`not started: ${outcome.type}`);
    await node.whenIdle();
    const result = await service.settled(outcome.runId);
    expect(result?.notification?.kind).toBe('pending');
    expect(service.feed?.list().items).toHaveLength(0);
    await clock.advance(24 * 60 * 60 * 1000 + 1000);
    const items = service.feed?.list().items ?? [];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ source: 'digest', title: 'daily: 1 run', severity: 'success' });
  });
});
