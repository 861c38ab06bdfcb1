import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordEvents } from '../api/api-test-support.js';
import { nodeApiClient } from '../api/node-api-client.js';
import type { FakeChatRequest, FakeLlmServer } from '../engine/ai/fake-llm-server.js';
import { startFakeOllama } from '../engine/ai/fake-ollama-server.js';
import { refusedUrl } from '../engine/ai/test-support.js';
import { manifestSchema } from '../engine/model/manifest.js';
import { repoRoot, runCli } from './cli-test-helpers.js';

/** No LLM from the environment of whoever runs the tests. */
const noOllamaEnv = { OLLAMA_HOST: undefined };

const summaryTitle = 'Notes summarised';
const summaryText = 'Three notes were summarised and stored. Nothing failed.';

/** Run summaries get JSON; file summaries get a sentence naming the file's first line. */
function reply(request: FakeChatRequest): string {
  if (request.system?.includes('notifications about automated jobs') === true) {
    return JSON.stringify({ title: summaryTitle, text: summaryText });
  }
  const firstLine = /=== file: .*? ===\n(.*)/.exec(request.prompt)?.[1] ?? 'a note';
  return `A note titled "${firstLine}".`;
}

let work: string;
let dataDir: string;
let server: FakeLlmServer | undefined;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'uv-ai-cli-'));
  dataDir = join(work, 'data');
  await mkdir(dataDir);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(work, { recursive: true, force: true });
});

async function useFakeModel(): Promise<FakeLlmServer> {
  server = await startFakeOllama({ reply });
  await writeFile(join(dataDir, 'settings.json'), JSON.stringify({ llm: { host: server.url } }));
  return server;
}

const failingOp = `id: flaky\nname: Flaky job\ntasks:\n  - { id: fetch, shell: 'echo "connection refused" >&2; exit 7' }\n`;

describe('ultravisor run with an LLM', () => {
  it('prints and records the LLM summary when a model is configured', async () => {
    const model = await useFakeModel();
    const file = join(work, 'flaky.yaml');
    await writeFile(file, failingOp);
    const r = await runCli(['run', file], dataDir, { env: noOllamaEnv });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(summaryTitle);
    expect(r.stdout).toContain(summaryText);
    expect(model.count('/api/chat')).toBe(1);

    const json = await runCli(['run', file, '--json'], dataDir, { env: noOllamaEnv });
    const manifest = manifestSchema.parse(JSON.parse(json.stdout));
    expect(manifest.summary).toMatchObject({ source: 'llm', title: summaryTitle, model: 'llama3.2' });

    // The notifications the runs made, as the CLI lists them (no node running: straight from the
    // store). The second run failed the same way as the first: "nothing changed", no second one.
    const list = await runCli(['notifications', '--unread'], dataDir);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(summaryTitle);
    expect(list.stdout).toContain('error');
    expect(list.stdout).toMatch(/^1 unread$/m);
    const read = await runCli(['notifications', 'read', '--all'], dataDir);
    expect(read.stdout).toContain('marked 1 read; 0 unread');
    expect((await runCli(['notifications', '--unread'], dataDir)).stdout).toContain('no notifications');
  });

  it('prints the fallback when the configured model is down', async () => {
    await writeFile(join(dataDir, 'settings.json'), JSON.stringify({ llm: { host: await refusedUrl() } }));
    const file = join(work, 'flaky.yaml');
    await writeFile(file, failingOp);
    const r = await runCli(['run', file, '--json'], dataDir, { env: noOllamaEnv });
    expect(r.code).toBe(1);
    const manifest = manifestSchema.parse(JSON.parse(r.stdout));
    expect(manifest.summary).toMatchObject({ source: 'fallback', title: 'Flaky job failed at fetch' });
    expect(manifest.summary?.text).toContain('exit code 7');
  });

  it('prints the plain summary when no model is configured', async () => {
    const file = join(work, 'flaky.yaml');
    await writeFile(file, failingOp);
    const r = await runCli(['run', file], dataDir, { env: noOllamaEnv });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Flaky job failed at fetch');
    expect(r.stdout).toContain('Task fetch failed with exit code 7');
  });
});

describe('shipped examples that need a model', () => {
  it('folder-summaries runs against a local model and stores one record per file', async () => {
    const model = await useFakeModel();
    const r = await runCli(
      ['run', join(repoRoot, 'resources/examples/folder-summaries.yaml'), '--json'],
      dataDir,
      { env: noOllamaEnv },
    );
    expect(r.stderr).not.toContain('✖');
    expect(r.code).toBe(0);
    const manifest = manifestSchema.parse(JSON.parse(r.stdout));
    expect(manifest.status).toBe('success');
    expect(manifest.summary).toMatchObject({ source: 'llm', title: summaryTitle });
    // Three file summaries and one run summary.
    expect(model.count('/api/chat')).toBe(4);

    const data = await runCli(['data', 'query', 'file-summaries', '--json'], dataDir);
    expect(data.code).toBe(0);
    for (const name of ['backup-plan.txt', 'garden-log.txt', 'meeting-notes.txt']) {
      expect(data.stdout).toContain(name);
    }
    expect(data.stdout).toContain('A note titled \\"Garden log, week 18.\\"');
    const list = await runCli(['notifications'], dataDir);
    expect(list.stdout).toContain(summaryTitle);
  });
});

/** Starts `ultravisor serve --port 0`; resolves with its URL, token and a stop function once ready. */
function serve(dir: string): Promise<{ url: string; token: string; stop: () => Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'ultravisor.js'), '--data-dir', dir, 'serve', '--port', '0'],
      {
        cwd: repoRoot,
        env: { ...process.env, ULTRAVISOR_LOG: 'warn', OLLAMA_HOST: undefined },
      },
    );
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.once('close', done));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /open: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(stdout);
      if (match?.[1] !== undefined && match[2] !== undefined && stdout.includes('ready:')) {
        resolve({
          url: match[1],
          token: match[2],
          stop: () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    child.once('error', reject);
    void exited.then((code) =>
      reject(new Error(`serve exited (${code}) before it was ready:\n${stdout}\n${stderr}`)),
    );
  });
}

describe('ultravisor serve', () => {
  it('summarises runs with the model and sends notification.added to API clients', async () => {
    await useFakeModel();
    const opFile = join(work, 'flaky.yaml');
    await writeFile(opFile, failingOp);
    const served = await serve(dataDir);
    const api = nodeApiClient({ url: served.url, token: served.token });
    try {
      expect((await runCli(['ops', 'add', opFile], dataDir)).code).toBe(0);
      const events = await recordEvents(api, ['notification.added']);
      const triggered = await runCli(['trigger', 'flaky', '--json'], dataDir);
      expect(triggered.code).toBe(0);
      const { runId } = JSON.parse(triggered.stdout) as { runId: string };
      const added = await events.waitFor('notification.added', (n) => n.runId === runId);
      expect(added).toMatchObject({ title: summaryTitle, severity: 'error', source: 'llm' });
      const listed = await api.call('notifications.list', { unread: true });
      expect(listed.items.map((n) => n.id)).toContain(added.id);
      // The CLI asks the node, and sees the same.
      const cli = await runCli(['notifications', '--unread'], dataDir);
      expect(cli.stdout).toContain(summaryTitle);
      const run = await api.call('runs.get', { runId });
      expect(run.run.summaryTitle).toBe(summaryTitle);
      expect(run.manifest.summary).toMatchObject({ source: 'llm', title: summaryTitle });
    } finally {
      api.close();
      expect(await served.stop()).toBe(0);
    }
  }, 60_000);
});
