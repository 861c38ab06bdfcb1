import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { launch, type LaunchedProcess } from './launcher.js';
import { isGroupAlive, killTree, liveGroupMembers, superviseGroup } from './process-tree.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const started: LaunchedProcess[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((child) => killTree(child.pid, 0)));
});

async function readAll(stream: Readable | null): Promise<string> {
  if (stream === null) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** The launcher helper of this process, found in /proc by its parent and name. */
async function launcherPid(): Promise<number> {
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid && comm.startsWith('ultravisor-laun')) return Number(name);
  }
  throw new Error('no launcher process found');
}

/** The path of the output socket this process listens on, from /proc (Linux). */
async function ownOutputSocket(): Promise<string> {
  const inodes = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match?.[1] !== undefined) inodes.add(match[1]);
  }
  for (const line of (await readFile('/proc/net/unix', 'utf8')).split('\n')) {
    const fields = line.trim().split(/\s+/);
    const path = fields[7];
    if (path?.includes('uv-launch-') === true && inodes.has(fields[6] ?? '')) return path;
  }
  throw new Error('no output socket found');
}

describe('launch', () => {
  it('starts the command as the leader of its own process group', async () => {
    const child = await launch('sh', [join(fixtures, 'hang.sh')], { output: true });
    started.push(child);
    child.stderr?.resume();
    const ready = await new Promise<string>((resolve) =>
      child.stdout?.once('data', (b: Buffer) => resolve(b.toString())),
    );
    expect(ready).toBe(`ready ${child.pid}\n`);
    const members = await liveGroupMembers(child.pid);
    expect(members).toContain(child.pid);
    expect(members.length).toBeGreaterThanOrEqual(2); // The shell and its sleep.
  });

  it('keeps stdout and stderr apart, feeds stdin, and reports the exit', async () => {
    const child = await launch('sh', ['-c', 'read line; echo "out:$line"; echo err >&2; exit 3'], {
      output: true,
      stdin: 'hello\n',
    });
    const [out, err, exit] = await Promise.all([readAll(child.stdout), readAll(child.stderr), child.exited]);
    expect(out).toBe('out:hello\n');
    expect(err).toBe('err\n');
    expect(exit).toEqual({ code: 3, signal: null });
  });

  it('never loses the first bytes of a command that prints and exits at once, under load', async () => {
    const runs = Array.from({ length: 200 }, async (_, i) => {
      const child = await launch('printf', [`%s`, `line ${i}`], { output: true });
      const [out, err] = await Promise.all([readAll(child.stdout), readAll(child.stderr), child.exited]);
      return `${out}|${err}`;
    });
    const outputs = await Promise.all(runs);
    expect(outputs).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}|`));
  });

  it('gives the command exactly the environment and working directory asked for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'uv-launch-test-'));
    try {
      const child = await launch('/usr/bin/env', [], {
        output: true,
        cwd: dir,
        env: { ONLY_THIS: 'yes', UNSET: undefined },
      });
      expect(await readAll(child.stdout)).toBe('ONLY_THIS=yes\n');
      const pwd = await launch('/bin/pwd', [], { output: true, cwd: dir });
      expect(await readAll(pwd.stdout)).toBe(`${dir}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects with the system error when the command or the folder does not exist', async () => {
    await expect(launch('ultravisor-no-such-command', [], { output: true })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(launch('true', [], { cwd: '/no/such/folder' })).rejects.toMatchObject({ code: 'ENOENT' });
    const dir = await mkdtemp(join(tmpdir(), 'uv-launch-test-'));
    try {
      await writeFile(join(dir, 'not-executable'), 'echo hi\n', { mode: 0o644 });
      await expect(launch(join(dir, 'not-executable'), [])).rejects.toMatchObject({ code: 'EACCES' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('outlives signals sent to the whole process group, so the engine decides what stops', async () => {
    const pid = await launcherPid();
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.kill(pid, signal);
    const child = await launch('echo', ['still here'], { output: true });
    expect(await readAll(child.stdout)).toBe('still here\n');
    expect(await launcherPid()).toBe(pid);
  });

  it('fails running commands clearly when the launcher dies, stops their groups, and starts a new launcher', async () => {
    const child = await launch('sh', [join(fixtures, 'hang.sh')], { output: true });
    started.push(child);
    child.stdout?.resume();
    child.stderr?.resume();
    const supervised = superviseGroup(child, { graceMs: 2000 });
    process.kill(await launcherPid(), 'SIGKILL');
    await expect(supervised).rejects.toThrow(/process launcher exited by SIGKILL/);
    expect(await isGroupAlive(child.pid)).toBe(false);
    const next = await launch('echo', ['again'], { output: true });
    expect(await readAll(next.stdout)).toBe('again\n');
  });

  it('listens again when its output socket was removed (a tmp cleaner on a long-running node)', async () => {
    const before = await launch('echo', ['one'], { output: true });
    expect(await readAll(before.stdout)).toBe('one\n');
    const socket = await ownOutputSocket();
    await rm(dirname(socket), { recursive: true, force: true });
    const after = await launch('echo', ['two'], { output: true });
    expect(await readAll(after.stdout)).toBe('two\n');
    expect(await ownOutputSocket()).not.toBe(socket);
  });

  it('fails a launch clearly when the launcher itself cannot start', async () => {
    const script = [
      `import { launch } from ${JSON.stringify(join(import.meta.dirname, 'launcher.ts'))};`,
      `process.execPath = '/nonexistent/node';`,
      `await launch('true', []).then(() => console.log('started'), (err) => console.log(err.message));`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 20_000 },
    );
    expect(stdout).toMatch(/^the process launcher could not start: .*ENOENT/);
  });

  it('does not keep the engine process alive once its commands have exited', async () => {
    const script = [
      `import { launch } from ${JSON.stringify(join(import.meta.dirname, 'launcher.ts'))};`,
      `const child = await launch('true', []);`,
      `console.log(JSON.stringify(await child.exited));`,
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        timeout: 20_000,
      },
    );
    expect(stdout).toBe('{"code":0,"signal":null}\n');
  });
});
