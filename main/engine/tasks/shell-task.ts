import { stat } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../model/duration.js';
import { abortMessage } from './process-abort.js';
import { OutputTail, pipeToLog, type LogPipe } from './process-output.js';
import { launch, type LaunchedProcess } from './launcher.js';
import { errorCode, superviseGroup, type GroupExit } from './process-tree.js';
import { TaskFailure, type TaskKind, type TaskResult, type TaskRunContext } from './task-kind.js';

/** How much of stdout the output keeps (the end of it). */
export const stdoutTailBytes = 64 * 1024;
const stderrTailBytes = 4 * 1024;

/** What a shell task puts in its output (on success, and with a failure). */
export interface ShellOutput {
  /** The exit code; 128 + the signal number when a signal ended the process, like a shell reports it. */
  exitCode: number;
  /** The signal that ended the process, if one did. */
  signal?: NodeJS.Signals;
  /** The last {@link stdoutTailBytes} of stdout, decoded as UTF-8 (invalid bytes become U+FFFD). */
  stdout: string;
  /** True when stdout was longer than what `stdout` holds. */
  stdoutTruncated: boolean;
  /** Stdout parsed as JSON, when all of it was kept and it is valid JSON. */
  json?: unknown;
}

export interface ShellTaskOptions {
  /**
   * How long to wait for the output pipes to close once the process group is gone.
   *
   * A process that left the group (setsid, a daemon) can hold the pipes open forever; after this
   * long without the log holding things up, the pipes are closed and the task ends.
   */
  stdioLingerMs?: number;
}

/** A shell task kind; options exist so tests can shorten waits. */
export function createShellTask(options: ShellTaskOptions = {}): TaskKind<'shell'> {
  const lingerMs = options.stdioLingerMs ?? 2000;
  return { kind: 'shell', run: (ctx) => runShell(ctx, lingerMs) };
}

/** `shell:` — runs a command (argv without a shell, or a string through `shell -c`). */
export const shellTask: TaskKind<'shell'> = createShellTask();

type ShellContext = TaskRunContext<'shell'>;

/** The program to start, its arguments, and how to show the command in the log. */
interface Invocation {
  file: string;
  args: string[];
  display: string;
  /** True for the string form, where `file` is the shell. */
  viaShell: boolean;
}

interface ProcessRun {
  exit: GroupExit;
  stdout: OutputTail;
  stderr: OutputTail;
  ms: number;
}

async function runShell(ctx: ShellContext, lingerMs: number): Promise<TaskResult> {
  const invocation = invocationOf(ctx);
  const stdin = ctx.spec.stdin === undefined ? undefined : ctx.renderString(ctx.spec.stdin);
  if (ctx.signal.aborted) throw new TaskFailure(abortMessage(ctx.signal, 'not started'));
  ctx.log.note(`$ ${invocation.display}`, { routine: true });
  const child = await start(ctx, invocation, stdin);
  ctx.logger.debug({ pid: child.pid, command: invocation.display }, 'shell task started');
  const run = await watch(ctx, child, lingerMs);
  return settle(ctx, run, invocation.display);
}

/** Renders the command: each argv element on its own, or the whole string with quoted values. */
function invocationOf(ctx: ShellContext): Invocation {
  const { command, shell } = ctx.spec;
  if (typeof command === 'string') {
    const script = ctx.renderShell(command);
    return { file: shell, args: ['-c', script], display: script, viaShell: true };
  }
  const argv = command.map((part) => ctx.renderString(part));
  const [file = '', ...args] = argv;
  if (file === '')
    throw new TaskFailure('the command is empty after rendering: check the first element of shell');
  return { file, args, display: argv.map(quoteForDisplay).join(' '), viaShell: false };
}

/** Quotes an argument the way a shell user would type it; only for showing the command. */
function quoteForDisplay(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

async function start(
  ctx: ShellContext,
  invocation: Invocation,
  stdin: string | undefined,
): Promise<LaunchedProcess> {
  try {
    return await launch(invocation.file, invocation.args, {
      cwd: ctx.cwd,
      env: ctx.env,
      output: true,
      ...(stdin === undefined ? {} : { stdin }),
    });
  } catch (err) {
    throw new TaskFailure(await spawnErrorMessage(err, invocation, ctx.cwd));
  }
}

/** Says what went wrong starting the command and what to do about it. */
async function spawnErrorMessage(err: unknown, invocation: Invocation, cwd: string): Promise<string> {
  const { file } = invocation;
  const code = errorCode(err);
  if (code === 'ENOENT' && !(await isDirectory(cwd)))
    return `working directory not found: ${cwd} — create it or fix the task's cwd`;
  if (code === 'ENOENT' && invocation.viaShell) return `shell not found: ${file} — check the task's shell`;
  if (code === 'ENOENT' && file.includes('/'))
    return `no such file: ${file} — check the path (or the interpreter on its #! line)`;
  if (code === 'ENOENT') return `command not found: ${file} — check the name or PATH`;
  if (code === 'EACCES')
    return `permission denied running ${file} — make it executable (chmod +x) or check the path`;
  return `could not start ${file}: ${err instanceof Error ? err.message : String(err)}`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Streams the output to the log until the process group is gone and the pipes are closed. */
async function watch(ctx: ShellContext, child: LaunchedProcess, lingerMs: number): Promise<ProcessRun> {
  const started = performance.now();
  const stdout = new OutputTail(stdoutTailBytes);
  const stderr = new OutputTail(stderrTailBytes);
  const pipes: LogPipe[] = [];
  if (child.stdout)
    pipes.push(
      pipeToLog(child.stdout, ctx.log, (chunk) => {
        stdout.push(chunk);
      }),
    );
  if (child.stderr)
    pipes.push(
      pipeToLog(child.stderr, ctx.log, (chunk) => {
        stderr.push(chunk);
      }),
    );
  const exit = await superviseGroup(child, {
    signal: ctx.signal,
    graceMs: ctx.killGraceMs,
    onLeftovers: () => {
      ctx.log.note(`the command exited but left processes running in its group ${child.pid}; stopping them`);
    },
  });
  await closeOut(pipes, lingerMs, ctx);
  return { exit, stdout, stderr, ms: performance.now() - started };
}

/**
 * Waits for the output pipes to close; closes them after `lingerMs` if something outside the group holds them.
 *
 * The wait restarts while a pipe is paused for the log, so slow disks never cost output.
 */
async function closeOut(pipes: LogPipe[], lingerMs: number, ctx: ShellContext): Promise<void> {
  const closed = Promise.all(pipes.map((pipe) => pipe.done));
  while (!(await settlesWithin(closed, lingerMs))) {
    if (pipes.some((pipe) => pipe.waitingForDrain)) continue;
    ctx.log.note(
      'output is still open after the process group ended (a detached process holds it); closing it',
    );
    for (const pipe of pipes) pipe.destroy();
    await closed;
    return;
  }
}

/** True when the promise settles within `ms`, false when the time runs out first. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Turns the finished process into the task's result, or throws its failure. */
function settle(ctx: ShellContext, run: ProcessRun, command: string): TaskResult {
  const { exit } = run;
  const exitCode = exitCodeOf(exit);
  const output = outputOf(run, exitCode);
  if (exit.stop === 'stuck')
    ctx.log.note('some processes survived SIGKILL (uninterruptible sleep?) and were left running');
  if (exit.aborted) {
    const message = abortMessage(ctx.signal, stopDetail(exit, ctx.killGraceMs));
    ctx.log.note(message);
    throw new TaskFailure(message, { ...(exitCode === undefined ? {} : { exitCode }), output, command });
  }
  const how = exit.signal === null ? `exited with code ${exitCode ?? '?'}` : `killed by ${exit.signal}`;
  ctx.log.note(`${how} after ${formatDuration(run.ms)}`, { routine: true });
  if (exitCode !== undefined && ctx.spec.exitCodes.includes(exitCode)) return { output, exitCode, command };
  const lastError = lastLine(run.stderr.text());
  const message = lastError === '' ? how : `${how}: ${lastError}`;
  throw new TaskFailure(message, { ...(exitCode === undefined ? {} : { exitCode }), output, command });
}

/** The exit code, with a signal death reported as 128 + its number like a shell does. */
function exitCodeOf(exit: GroupExit): number | undefined {
  if (exit.code !== null) return exit.code;
  if (exit.signal === null) return undefined;
  return 128 + osConstants.signals[exit.signal];
}

function outputOf(run: ProcessRun, exitCode: number | undefined): ShellOutput {
  const stdout = run.stdout.text();
  const json = run.stdout.truncated ? undefined : parseJson(stdout);
  return {
    exitCode: exitCode ?? -1,
    ...(run.exit.signal === null ? {} : { signal: run.exit.signal }),
    stdout,
    stdoutTruncated: run.stdout.truncated,
    ...(json === undefined ? {} : { json: json.value }),
  };
}

/** Parses text that is one JSON document; undefined when it is not. Wrapped so `null` counts. */
function parseJson(text: string): { value: unknown } | undefined {
  if (text.trim() === '') return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

/** What stopping the group took, for the cancel/timeout message. */
function stopDetail(exit: GroupExit, graceMs: number): string {
  switch (exit.stop) {
    case 'killed':
      return `process group killed with SIGKILL after ignoring SIGTERM for ${formatDuration(graceMs)}`;
    case 'stuck':
      return 'some processes survived SIGKILL and were left running';
    case 'terminated':
      return 'process group stopped with SIGTERM';
    case 'gone':
    case undefined:
      return 'the process had already exited';
  }
}

/** The last non-empty line of some text, shortened for a one-line message. */
function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const line = lines.findLast((candidate) => candidate !== '') ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
