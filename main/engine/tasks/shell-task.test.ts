import { chmod, open, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isGroupAlive, liveGroupMembers } from './process-tree.js';
import { createShellTask, shellTask, stdoutTailBytes, type ShellOutput } from './shell-task.js';
import { TaskFailure, type TaskKind, type TaskResult } from './task-kind.js';
import { createTaskTestContext, type TaskTestContext, type TaskTestOptions } from './task-test-context.js';

const fixture = (name: string): string => join(import.meta.dirname, 'fixtures', name);
const contexts: TaskTestContext<'shell'>[] = [];
const escapedPids: number[] = [];

async function context(spec: unknown, options: TaskTestOptions = {}): Promise<TaskTestContext<'shell'>> {
  const created = await createTaskTestContext('shell', spec, options);
  contexts.push(created);
  return created;
}

/** Runs a spec to completion; returns the result, its output and the closed log's bytes. */
async function run(
  spec: unknown,
  options: TaskTestOptions = {},
  kind: TaskKind<'shell'> = shellTask,
): Promise<{ result: TaskResult; output: ShellOutput; log: Buffer; ctx: TaskTestContext<'shell'>['ctx'] }> {
  const { ctx, readLog } = await context(spec, options);
  const result = await kind.run(ctx);
  return { result, output: result.output as ShellOutput, log: await readLog(), ctx };
}

/** Runs a task that must fail and returns its failure. */
async function failure(running: Promise<TaskResult>): Promise<TaskFailure> {
  const err: unknown = await running.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TaskFailure);
  return err as TaskFailure;
}

async function fail(spec: unknown): Promise<TaskFailure> {
  const { ctx } = await context(spec);
  return failure(shellTask.run(ctx));
}

/** Waits for a fixture's `ready <pid>` line and returns the pid, which is also its process group id. */
async function readyGroup(tc: TaskTestContext<'shell'>): Promise<number> {
  return pidFrom(await tc.waitForLog(/ready \d+\n/), 'ready');
}

function pidFrom(text: string, label: string): number {
  const match = new RegExp(`${label} (\\d+)`).exec(text);
  if (match?.[1] === undefined) throw new Error(`no "${label} <pid>" in ${JSON.stringify(text)}`);
  return Number(match[1]);
}

/**
 * Asserts that no process of the group survives.
 *
 * `kill(-pgid, 0)` throws ESRCH once init has reaped the killed orphans; until then they are
 * zombies (a container's init can be slow to reap), so a raw success must leave no live member.
 */
async function expectGroupGone(pgid: number): Promise<void> {
  let raw: unknown;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    raw = err;
  }
  if (raw === undefined) expect(await liveGroupMembers(pgid)).toEqual([]);
  else expect(raw).toMatchObject({ code: 'ESRCH' });
  expect(await isGroupAlive(pgid)).toBe(false);
}

afterEach(async () => {
  for (const pid of escapedPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await Promise.all(contexts.splice(0).map((c) => c.cleanup()));
});

describe('shell task: success', () => {
  it('runs the string form through the shell and returns stdout', async () => {
    const { result, output, log } = await run('echo hello && echo world');
    expect(result.exitCode).toBe(0);
    expect(output).toEqual({ exitCode: 0, stdout: 'hello\nworld\n', stdoutTruncated: false });
    expect(log.toString()).toMatch(
      /^» \$ echo hello && echo world\nhello\nworld\n» exited with code 0 after \S+\n$/,
    );
  });

  it('uses the configured shell for the string form', async () => {
    const { output } = await run({ command: 'echo "$0"', shell: 'bash' });
    expect(output.stdout).toBe('bash\n');
  });

  it('passes an argv element such as "; rm -rf ~" as one literal argument', async () => {
    const { output } = await run(['sh', fixture('print-args.sh'), '; rm -rf ~', '$(whoami)', "it's"]);
    expect(output.stdout).toBe("3\n<; rm -rf ~>\n<$(whoami)>\n<it's>\n");
  });

  it('shows argv with shell quoting in the log', async () => {
    const { log } = await run(['echo', '; rm -rf ~', "it's"]);
    expect(log.toString()).toContain(`» $ echo '; rm -rf ~' 'it'\\''s'\n`);
  });

  it('streams stdout and stderr into one log', async () => {
    const { log, output } = await run('echo out1; echo err1 >&2; echo out2');
    // Two pipes: each stream keeps its order, but how they interleave is up to the scheduler.
    expect(log.toString()).toMatch(/out1\n(err1\n)?out2\n/);
    expect(log.toString()).toContain('err1\n');
    expect(output.stdout).toBe('out1\nout2\n');
  });

  it('accepts exit codes listed in exitCodes', async () => {
    const { result, output } = await run({
      command: ['sh', fixture('exit-code.sh'), '3'],
      exitCodes: [0, 3],
    });
    expect(result.exitCode).toBe(3);
    expect(output).toMatchObject({ exitCode: 3, stdout: 'about to fail\n' });
  });

  it('writes stdin and closes it', async () => {
    const { output } = await run({ command: ['cat'], stdin: 'line one\nline two\n' });
    expect(output.stdout).toBe('line one\nline two\n');
  });

  it('gives a command without stdin a closed stdin, so it does not wait for input', async () => {
    const { output } = await run(['cat']);
    expect(output).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('copes with a command that exits without reading a large stdin', async () => {
    const { output } = await run({ command: ['true'], stdin: 'x'.repeat(4 * 1024 * 1024) });
    expect(output.exitCode).toBe(0);
  });

  it('runs in ctx.cwd with ctx.env', async () => {
    const { output, ctx } = await run('pwd; echo "$GREETING"', { env: { GREETING: 'hi there' } });
    expect(output.stdout).toBe(`${ctx.cwd}\nhi there\n`);
  });

  it('parses stdout that is one JSON document', async () => {
    const { output } = await run(['sh', fixture('json.sh')]);
    expect(output.json).toEqual({ name: 'ultravisor', list: [1, 2, 3], nested: { ok: true } });
  });

  it('keeps JSON null, and leaves json out when stdout is not JSON', async () => {
    expect((await run('echo null')).output).toHaveProperty('json', null);
    expect((await run('echo not json')).output).not.toHaveProperty('json');
  });

  it('keeps binary and invalid UTF-8 as raw bytes in the log, and as U+FFFD in stdout', async () => {
    const { output, log } = await run(['sh', fixture('binary.sh')]);
    expect(output.stdout).toBe('ok \uFFFD\uFFFD\u0000\uFFFD( end\n');
    expect(log.includes(Buffer.from([0x6f, 0x6b, 0x20, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x20]))).toBe(true);
  });
});

describe('shell task: failures', () => {
  it('fails on an exit code outside exitCodes, quoting the last stderr line', async () => {
    const err = await fail(['sh', fixture('exit-code.sh')]);
    expect(err.message).toBe('exited with code 3: boom: the widget broke');
    expect(err.details.exitCode).toBe(3);
    expect(err.details.output).toMatchObject({ exitCode: 3, stdout: 'about to fail\n' });
  });

  it('reports a process killed by a signal', async () => {
    const err = await fail(['sh', fixture('segfault.sh')]);
    expect(err.message).toBe('killed by SIGSEGV');
    expect(err.details.exitCode).toBe(139);
    expect(err.details.output).toMatchObject({ signal: 'SIGSEGV', stdout: 'before the crash\n' });
  });

  it('says a command was not found and how to fix it', async () => {
    const err = await fail(['ultravisor-no-such-command', '--flag']);
    expect(err.message).toBe('command not found: ultravisor-no-such-command — check the name or PATH');
  });

  it('says the shell is missing for the string form', async () => {
    const err = await fail({ command: 'echo hi', shell: '/nonexistent/sh' });
    expect(err.message).toBe("shell not found: /nonexistent/sh — check the task's shell");
  });

  it('says a script is not executable', async () => {
    const { ctx, dir } = await context(['placeholder']);
    const script = join(dir, 'not-executable.sh');
    await writeFile(script, 'echo hi\n');
    await chmod(script, 0o644);
    const err = await failure(shellTask.run({ ...ctx, spec: { ...ctx.spec, command: [script] } }));
    expect(err.message).toBe(
      `permission denied running ${script} — make it executable (chmod +x) or check the path`,
    );
  });

  it('says the working directory is missing', async () => {
    const { ctx, dir } = await context(['true']);
    const cwd = join(dir, 'gone');
    const err = await failure(shellTask.run({ ...ctx, cwd }));
    expect(err.message).toBe(`working directory not found: ${cwd} — create it or fix the task's cwd`);
  });
});

describe('shell task: stopping', () => {
  it('cancels a hanging command and stops its whole group', async () => {
    const tc = await context(['sh', fixture('hang.sh')]);
    const running = failure(shellTask.run(tc.ctx));
    const pgid = await readyGroup(tc);
    expect((await liveGroupMembers(pgid)).length).toBeGreaterThanOrEqual(2);
    tc.controller.abort(new Error('cancelled'));
    const err = await running;
    expect(err.message).toBe('cancelled: process group stopped with SIGTERM');
    expect(err.details.output).toMatchObject({ signal: 'SIGTERM', stdout: `ready ${pgid}\n` });
    await expectGroupGone(pgid);
  });

  it('on timeout, kills a tree that ignores SIGTERM within the grace period plus a margin', async () => {
    const graceMs = 300;
    const tc = await context(['sh', fixture('ignore-term.sh')], { killGraceMs: graceMs });
    const running = failure(shellTask.run(tc.ctx));
    const pgid = await readyGroup(tc);
    expect((await liveGroupMembers(pgid)).length).toBeGreaterThanOrEqual(3);
    const timeout = new Error('timed out after 1000 ms');
    timeout.name = 'TaskTimedOut';
    const abortedAt = performance.now();
    tc.controller.abort(timeout);
    const err = await running;
    const elapsed = performance.now() - abortedAt;
    expect(err.message).toBe(
      'timed out after 1000 ms: process group killed with SIGKILL after ignoring SIGTERM for 300ms',
    );
    expect(elapsed).toBeGreaterThanOrEqual(graceMs - 20);
    expect(elapsed).toBeLessThan(graceMs + 3000);
    await expectGroupGone(pgid);
  });

  it('does not start a command when the signal is already aborted', async () => {
    const { ctx, controller } = await context(['sh', '-c', 'echo started > started.txt']);
    controller.abort(new Error('cancelled'));
    const err = await failure(shellTask.run(ctx));
    expect(err.message).toBe('cancelled: not started');
    await expect(stat(join(ctx.cwd, 'started.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('stops processes left holding stdout after the command exits, and succeeds', async () => {
    const { result, output, log } = await run(['sh', fixture('grandchildren.sh')]);
    const pgid = pidFrom(output.stdout, 'ready');
    expect(result.exitCode).toBe(0);
    expect(log.toString()).toContain(`left processes running in its group ${pgid}; stopping them`);
    await expectGroupGone(pgid);
  });

  it('closes output held by a process that left the group instead of waiting for it forever', async () => {
    const task = createShellTask({ stdioLingerMs: 200 });
    const { result, log } = await run(['sh', fixture('escapee.sh')], {}, task);
    escapedPids.push(pidFrom(log.toString(), 'escapee'));
    expect(result.exitCode).toBe(0);
    expect(log.toString()).toContain('output is still open after the process group ended');
  });
});

describe('shell task: big output', () => {
  it('streams ~200 MB to the log with bounded memory and keeps only the last 64 KiB', async () => {
    const bytes = 200 * 1024 * 1024;
    const rssBefore = process.memoryUsage.rss();
    let peakRss = rssBefore;
    const { output, ctx } = await run(['sh', fixture('spew.sh'), String(bytes)], {
      onLog: () => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      },
    });

    expect(peakRss - rssBefore).toBeLessThan(150 * 1024 * 1024);
    expect(output.stdoutTruncated).toBe(true);
    expect(Buffer.byteLength(output.stdout)).toBe(stdoutTailBytes);
    expect(output.stdout.endsWith('backpressure\nEND\n')).toBe(false); // Cut mid-line by head -c.
    expect(output.stdout.endsWith('\nEND\n')).toBe(true);
    expect(output).not.toHaveProperty('json');

    const { size } = await stat(ctx.log.path);
    expect(size).toBe(ctx.log.size);
    const startNote = `» $ sh ${fixture('spew.sh')} ${bytes}\n`;
    const { head, tail } = await headAndTail(ctx.log.path, 512);
    expect(head.startsWith(startNote)).toBe(true);
    const endNotes = tail.slice(tail.lastIndexOf('\nEND\n') + '\nEND\n'.length);
    expect(endNotes).toMatch(/^» exited with code 0 after \S+\n$/);
    expect(size).toBe(Buffer.byteLength(startNote) + bytes + '\nEND\n'.length + Buffer.byteLength(endNotes));
  });
});

/** The first and last `bytes` of a file as text, without reading the middle. */
async function headAndTail(path: string, bytes: number): Promise<{ head: string; tail: string }> {
  const file = await open(path);
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(bytes, size));
    const tail = Buffer.alloc(Math.min(bytes, size));
    await file.read(head, 0, head.length, 0);
    await file.read(tail, 0, tail.length, size - tail.length);
    return { head: head.toString(), tail: tail.toString() };
  } finally {
    await file.close();
  }
}
