import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../cli-test-helpers.js';

let work: string;
let dataDir: string;
const kills: (() => void)[] = [];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'uv-sched-cli-'));
  dataDir = join(work, 'data');
});

afterEach(async () => {
  for (const kill of kills.splice(0)) kill();
  await rm(work, { recursive: true, force: true });
});

async function opFile(name: string, text: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, text);
  return file;
}

const every = (id: string, interval = '1s'): string =>
  `# ${id}: kept with its comments\nid: ${id}\nparams: { who: { default: nobody } }\ntriggers:\n  - every: ${interval}\ntasks:\n  - id: mark\n    state: { set: "${id}", value: "{{ params.who }}" }\n`;

describe('ops, next and trigger', () => {
  it('ops add rejects a bad file with path-qualified messages and saves nothing', async () => {
    const good = await opFile('good.yaml', every('good'));
    const bad = await opFile(
      'bad.yaml',
      'id: bad\ntriggers:\n  - schedule: "0 0 31 2 MON-FRI-X"\n  - every: 0s\n  - condition: { check: cpu }\ntasks: [{ id: t, state: { set: a, value: 1 } }]\n',
    );
    const r = await runCli(['ops', 'add', good, bad], dataDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:3:\d+ triggers\[0\]\.schedule: invalid cron/);
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+ triggers\[1\]\.every: an interval must be at least 1s/);
    expect(r.stderr).toMatch(/triggers\[2\]\.condition\.above: missing threshold/);
    expect(r.stderr).toMatch(/nothing was saved/);
    expect(await readdir(join(dataDir, 'operations')).catch(() => [])).toEqual([]);
  });

  it('adds, lists, shows, pauses, resumes and removes; next lists fire times without a daemon', async () => {
    const file = await opFile('tick.yaml', every('tick', '5m'));
    const added = await runCli(['ops', 'add', file], dataDir);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/added tick → .*operations\/tick\.yaml/);
    expect(added.stdout).toMatch(/no node is serving/);

    const shown = await runCli(['ops', 'show', 'tick'], dataDir);
    expect(shown.stdout).toContain('# tick: kept with its comments');

    const next = await runCli(['next', 'tick', '--count', '3', '--json'], dataDir);
    const upcoming = (JSON.parse(next.stdout) as { upcoming: { at: string; trigger: string }[] }).upcoming;
    expect(upcoming.map((u) => u.trigger)).toEqual(['every-1', 'every-1', 'every-1']);
    const times = upcoming.map((u) => Date.parse(u.at));
    expect(times.map((t) => t % 300_000)).toEqual([0, 0, 0]);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBe(300_000);

    expect((await runCli(['ops', 'pause', 'tick'], dataDir)).code).toBe(0);
    const listed = JSON.parse((await runCli(['ops', 'list', '--json'], dataDir)).stdout) as {
      operations: { id: string; paused: boolean }[];
    };
    expect(listed.operations).toEqual([expect.objectContaining({ id: 'tick', paused: true })]);
    expect((await runCli(['next', 'tick'], dataDir)).stdout).toMatch(/tick is paused/);
    expect((await runCli(['ops', 'resume', 'tick'], dataDir)).code).toBe(0);
    expect((await runCli(['ops', 'list'], dataDir)).stdout).not.toMatch(/paused/);

    expect((await runCli(['ops', 'pause', 'nope'], dataDir)).code).toBe(2);
    expect((await runCli(['ops', 'remove', 'tick'], dataDir)).code).toBe(0);
    expect((await runCli(['ops', 'remove', 'tick'], dataDir)).stderr).toMatch(/no operation "tick"/);
  });

  it('next previews a file that is not saved', async () => {
    const file = await opFile(
      'cron.yaml',
      'id: cron\ntriggers: [{ schedule: "0 17 * * MON-FRI", timezone: Europe/Oslo }, { after: { operation: x } }]\ntasks: [{ id: t, state: { set: a, value: 1 } }]\n',
    );
    const r = await runCli(['next', file, '-n', '2'], dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/T1[56]:00:00\.000Z .*schedule-1 +cron "0 17 \* \* MON-FRI" \(Europe\/Oslo\)/);
    expect(r.stdout).toMatch(/also after-1: after x ends \(success\)/);
  });

  it('trigger runs in the foreground when no daemon serves the data dir', async () => {
    await runCli(['ops', 'add', await opFile('manual.yaml', every('manual', '1h'))], dataDir);
    const r = await runCli(['trigger', 'manual', '-p', 'who=cli'], dataDir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no node is serving .*: running manual here in the foreground/);
    expect(r.stdout).toMatch(/manual succeeded/);
  });

  it('with `serve` running: ops add arms at once, trigger hands the run to the daemon', async () => {
    const child = spawn(process.execPath, ['bin/ultravisor.js', '--data-dir', dataDir, 'serve'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    kills.push(() => child.kill('SIGKILL'));
    let out = '';
    const seen = (pattern: RegExp, timeoutMs = 15_000): Promise<void> =>
      new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no ${pattern} in:\n${out}`)), timeoutMs);
        const check = (): void => {
          if (!pattern.test(out)) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          ok();
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await seen(/^ready:/m);

    const added = await runCli(['ops', 'add', await opFile('live.yaml', every('live'))], dataDir);
    expect(added.stdout).toMatch(/the running node \(pid \d+\) arms the triggers now/);
    await seen(/▶ live every-1 {2}run \S+ {2}\(\d+ ms late\)/);

    const triggered = await runCli(['trigger', 'live', '--param', 'who=cli'], dataDir);
    expect(triggered.code).toBe(0);
    expect(triggered.stdout).toMatch(/started live on the running node \(pid \d+\): run \S+/);
    await seen(/▶ live manual/);

    const refused = await runCli(['trigger', 'live', '--param', 'nope=1'], dataDir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown param "nope"/);

    child.kill('SIGINT');
    await seen(/^stopped/m);
  });
});
