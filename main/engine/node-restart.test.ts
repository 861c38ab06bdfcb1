import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { manifestSchema, type Manifest } from './model/manifest.js';
import { OperationStore } from './operations/operation-store.js';

const repo = resolve(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

interface Daemon {
  child: ChildProcess;
  output: () => string;
  /** Resolves when stdout has printed `count` lines matching. */
  waitFor(pattern: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

function serve(dataDir: string): Daemon {
  const child = spawn(
    process.execPath,
    ['bin/ultravisor.js', '--data-dir', dataDir, 'serve', '--grace', '1s'],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ULTRAVISOR_LOG: 'warn' },
    },
  );
  children.push(child);
  let out = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (pattern, count = 1, timeoutMs = 15_000) =>
      new Promise((ok, fail) => {
        const global = new RegExp(pattern.source, 'gm');
        const timer = setTimeout(
          () => fail(new Error(`timed out waiting for ${pattern}; output:\n${out}`)),
          timeoutMs,
        );
        const check = (): void => {
          if ((out.match(global) ?? []).length >= count) {
            clearTimeout(timer);
            ok();
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            fail(new Error(`the daemon exited (${child.exitCode}); output:\n${out}`));
          } else waiters.push(check);
        };
        check();
      }),
  };
}

async function manifests(dataDir: string, operationId: string): Promise<Manifest[]> {
  const dir = join(dataDir, 'runs', operationId);
  const runIds = (await readdir(dir).catch(() => [] as string[])).sort();
  const out: Manifest[] = [];
  for (const runId of runIds) {
    try {
      out.push(manifestSchema.parse(JSON.parse(await readFile(join(dir, runId, 'manifest.json'), 'utf8'))));
    } catch {
      // A run killed before its manifest landed never started.
    }
  }
  return out;
}

const catchUps = (ms: Manifest[]): Manifest[] => ms.filter((m) => m.trigger.detail?.catchUp === true);

describe('daemon restart after SIGKILL', () => {
  it('runs what was missed according to each trigger’s policy, and never fires a due time twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'uv-restart-'));
    dirs.push(dataDir);
    const store = await OperationStore.open(dataDir, silentLogger());
    for (const policy of ['skip', 'once', 'all']) {
      await store.add(
        `id: ${policy}-op\ntriggers:\n  - every: 1s\n    missed: ${policy}\ntasks:\n  - id: mark\n    state: { set: "${policy}", value: "{{ trigger.dueAt }}" }\n`,
        `${policy}.yaml`,
      );
    }

    const first = serve(dataDir);
    await first.waitFor(/^ready:/m);
    for (const policy of ['skip', 'once', 'all']) await first.waitFor(new RegExp(`✔ ${policy}-op `), 2);
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    await new Promise((done) => setTimeout(done, 3200));

    const second = serve(dataDir);
    await second.waitFor(/^ready:/m);
    const restartedAt = Date.now();
    // Catch-ups run at start; then at least two live firings of every operation.
    for (const policy of ['skip', 'once', 'all']) {
      await second.waitFor(new RegExp(`▶ ${policy}-op every-1 `), catchUpsExpected(policy) + 2);
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/SIGTERM: no new firings/);

    const missedAtLeast = Math.floor((restartedAt - killedAt) / 1000) - 1;
    const byPolicy = Object.fromEntries(
      await Promise.all(
        ['skip', 'once', 'all'].map(async (p) => [p, await manifests(dataDir, `${p}-op`)] as const),
      ),
    );
    for (const [policy, runs] of Object.entries(byPolicy)) {
      const due = runs.map((m) => m.trigger.dueAt);
      expect(new Set(due).size, `${policy}: a due time fired twice: ${due.join(', ')}`).toBe(due.length);
      for (const m of runs) expect(m.status).not.toBe('failure');
    }
    expect(catchUps(byPolicy.skip ?? [])).toHaveLength(0);
    const once = catchUps(byPolicy.once ?? []);
    expect(once).toHaveLength(1);
    expect(once[0]?.trigger.detail?.missed).toBeGreaterThanOrEqual(missedAtLeast);
    const all = catchUps(byPolicy.all ?? []);
    expect(all.length).toBeGreaterThanOrEqual(missedAtLeast);
    expect(all.length).toBe(once[0]?.trigger.detail?.missed);
    // Catch-ups of `all` are consecutive seconds, oldest first, each its own run.
    const allDue = all.map((m) => Date.parse(m.trigger.dueAt ?? ''));
    expect(allDue.slice(1).map((t, i) => t - (allDue[i] ?? 0))).toEqual(allDue.slice(1).map(() => 1000));

    function catchUpsExpected(policy: string): number {
      return policy === 'all' ? 3 : policy === 'once' ? 1 : 0;
    }
  }, 60_000);
});
