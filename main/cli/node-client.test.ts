import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { helloOperation, recordEvents, tempDataDir } from '../api/api-test-support.js';
import { nodeApiClient } from '../api/node-api-client.js';
import { serveInfoPath } from '../server/serve-info.js';
import { repoRoot, type CliResult } from './cli-test-helpers.js';
import { exposureWarning } from './commands/serve-command.js';
import { findRunningNode } from './node-client.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const bin = join(repoRoot, 'bin', 'ultravisor.js');

/** Runs the CLI as a user would, with extra environment. */
function cli(args: readonly string[], dataDir: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--data-dir', dataDir, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ULTRAVISOR_LOG: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  token: string;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** Starts `ultravisor serve --port 0` and resolves once it prints its one-click URL. */
function serve(dataDir: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--data-dir', dataDir, 'serve', '--port', '0'], {
      cwd: repoRoot,
      env: { ...process.env, ULTRAVISOR_LOG: 'debug' },
    });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.once('close', done));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /open: (http:\/\/127\.0\.0\.1:\d+)\/#token=([A-Za-z0-9_-]+)/.exec(stdout);
      if (match?.[1] !== undefined && match[2] !== undefined && /ready:/.test(stdout)) {
        resolve({
          child,
          url: match[1],
          token: match[2],
          stdout: () => stdout,
          stderr: () => stderr,
          stop: () => {
            child.kill('SIGTERM');
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

/** API calls the serving node logged (debug level), by method name. */
function callsLogged(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes('"msg":"api call"'))
    .map((line) => (JSON.parse(line) as { method: string }).method);
}

describe('the CLI against a running node', () => {
  it('finds the node through serve.json and does its work through the API, with the same output as offline', async () => {
    const { dir, remove } = await tempDataDir('uv-cli-api-');
    cleanups.push(remove);
    const opFile = join(dir, 'hello.yaml');
    await writeFile(opFile, helloOperation);

    const served = await serve(dir);
    cleanups.push(async () => {
      if (served.child.exitCode === null) await served.stop();
    });
    expect(served.stdout()).toContain('ultravisor serve:');
    expect(await findRunningNode({ dataDir: dir })).toMatchObject({
      info: { url: served.url, pid: served.child.pid },
    });

    const added = await cli(['ops', 'add', opFile], dir);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toBe(
      `added hello → ${join(dir, 'operations', 'hello.yaml')}\nthe running node (pid ${served.child.pid}) arms the triggers now\n`,
    );

    const listed = await cli(['ops', 'list'], dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe('hello\n    manual only\n');

    const api = nodeApiClient({ url: served.url, token: served.token });
    cleanups.push(() => api.close());
    const events = await recordEvents(api, ['run.ended']);
    const triggered = await cli(['trigger', 'hello', '--json', '--param', 'who=cli'], dir);
    expect(triggered.stderr).toBe('');
    expect(triggered.code).toBe(0);
    const started = JSON.parse(triggered.stdout) as { runId: string; manifest: string; pid: number };
    expect(started.pid).toBe(served.child.pid);
    expect(started.manifest).toBe(join(dir, 'runs', 'hello', started.runId, 'manifest.json'));
    expect(await events.waitFor('run.ended', (e) => e.runId === started.runId)).toMatchObject({
      status: 'success',
    });

    const badParam = await cli(['trigger', 'hello', '--param', 'city=Oslo'], dir);
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('unknown param "city"');
    const unknown = await cli(['trigger', 'nope'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no operation "nope" is saved');

    const set = await cli(['state', 'set', 'weather.oslo', '{"temp": 21}'], dir);
    expect(set.stdout).toBe('set global weather.oslo\n');
    expect(await api.call('state.get', { scope: 'global', path: 'weather.oslo' })).toMatchObject({
      value: { temp: 21 },
    });
    const got = await cli(['state', 'get', 'weather'], dir);
    expect(JSON.parse(got.stdout)).toEqual({ oslo: { temp: 21 } });

    const paused = await cli(['ops', 'pause', 'hello'], dir);
    expect(paused.code).toBe(0);
    expect((await api.call('operations.list')).operations[0]?.paused).toBe(true);

    // Each command above went through the API (the node logs every call at debug level).
    const calls = callsLogged(served.stderr());
    for (const method of [
      'operations.save',
      'operations.list',
      'operations.trigger',
      'state.set',
      'state.get',
      'operations.pause',
    ]) {
      expect(calls, method).toContain(method);
    }

    // Online and offline answers are the same, byte for byte.
    const same = [
      ['ops', 'list', '--json'],
      ['ops', 'show', 'hello'],
      ['runs', 'list', '--json'],
      ['runs', 'show', started.runId, '--json'],
      ['data', 'query', 'greetings', '--json'],
      ['notifications', 'list', '--json'],
      ['state', 'get', '--node'],
    ];
    for (const args of same) {
      const online = await cli(args, dir);
      const offline = await cli(args, dir, { ULTRAVISOR_OFFLINE: '1' });
      expect(online.code, args.join(' ')).toBe(0);
      expect(online.stdout, args.join(' ')).toBe(offline.stdout);
    }

    expect(await served.stop()).toBe(0);
    await expect(stat(serveInfoPath(dir))).rejects.toThrow();
    expect(await findRunningNode({ dataDir: dir })).toBeUndefined();

    // With no node running, the same commands work on the data dir.
    const afterStop = await cli(['ops', 'list'], dir);
    expect(afterStop.stdout).toBe('hello  (paused)\n    manual only\n');
    const resumed = await cli(['ops', 'resume', 'hello'], dir);
    expect(resumed.stdout).toContain('resumed hello');
  }, 60_000);

  it('ignores a serve.json left by a node that died', async () => {
    const { dir, remove } = await tempDataDir('uv-cli-stale-');
    cleanups.push(remove);
    await writeFile(serveInfoPath(dir), JSON.stringify({ url: 'http://127.0.0.1:9', pid: 2 ** 22 + 12345 }));
    expect(await findRunningNode({ dataDir: dir })).toBeUndefined();
    const listed = await cli(['ops', 'list'], dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('no operations saved');
  });
});

describe('serve --host', () => {
  it('warns when the API listens beyond loopback', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1'])
      expect(exposureWarning(host, 4717)).toBeUndefined();
    for (const host of ['0.0.0.0', '192.168.1.10', '::'])
      expect(exposureWarning(host, 4717)).toMatch(/^warning: listening on/);
  });
});
