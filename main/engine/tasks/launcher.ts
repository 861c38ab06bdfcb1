import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { outputHeaderBytes, type LaunchReply, type LaunchRequest } from './launcher-protocol.js';
import type { Leader, LeaderExit } from './process-tree.js';

/** How to start a command with {@link launch}. */
export interface LaunchOptions {
  cwd?: string;
  /** The command's whole environment; default: the engine's. */
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
  /** Hand stdout and stderr to the engine as streams; without it they go to /dev/null. */
  output?: boolean;
}

/** A command that started, leading its own process group. */
export interface LaunchedProcess extends Leader {
  /** The command's stdout (with `output`), to be read until it closes. */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
}

/** A command that could not start; `code` is the system error (ENOENT, EACCES, …) when there is one. */
export class LaunchError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'LaunchError';
  }
}

/**
 * Starts a command as the leader of a new process group and resolves once it runs.
 *
 * Commands are started by a small helper process (launcher-process.js), not by the engine: fork()
 * from a large process copies its page tables and write-protects all its memory, which made
 * starting commands several times slower from the engine than from a plain script (see
 * docs/architecture.md). Rejects with a {@link LaunchError} when the command could not start.
 */
export function launch(
  file: string,
  args: readonly string[],
  options: LaunchOptions = {},
): Promise<LaunchedProcess> {
  launcher ??= new ProcessLauncher();
  return launcher.launch(file, args, options);
}

let launcher: ProcessLauncher | undefined;

/** The launcher could not reach the engine's output socket; the command did not start. */
class OutputSocketError extends LaunchError {}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One request between `launch` and the command's exit. */
interface InFlight {
  id: number;
  output: boolean;
  pid?: number;
  /** stdout and stderr, as they connect. */
  streams: [Socket | undefined, Socket | undefined];
  /** Settled once the command runs (and its streams connected), or could not start. */
  launched?: Deferred<LaunchedProcess>;
  exited: Deferred<LeaderExit>;
  /** The exit report, once it came (it can come before the streams connect). */
  exit?: LeaderExit;
}

/** The first line of an output connection (see {@link outputHeaderBytes}). */
const headerPattern = /^(\d{14}) ([12])\n$/;

/** The engine's side of the launcher: one helper process and one output socket per engine process. */
class ProcessLauncher {
  private child: ChildProcess | undefined;
  /** Resolves once the current helper listens for requests. */
  private ready: Deferred<void> | undefined;
  /** The output socket: its path once it listens. Replaced when it stops answering. */
  private server: Promise<{ path: string; server: Server }> | undefined;
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;

  /**
   * Starts a command; when the output socket no longer answers (a tmp cleaner removed it on a
   * long-running node), listens on a new one and tries once more.
   */
  async launch(file: string, args: readonly string[], options: LaunchOptions): Promise<LaunchedProcess> {
    try {
      return await this.launchOnce(file, args, options);
    } catch (err) {
      if (!(err instanceof OutputSocketError)) throw err;
      const lost = this.server;
      this.server = undefined;
      void lost?.then(({ server }) => server.close());
      return this.launchOnce(file, args, options);
    }
  }

  private async launchOnce(
    file: string,
    args: readonly string[],
    options: LaunchOptions,
  ): Promise<LaunchedProcess> {
    const socketPath = (await (this.server ??= this.listen())).path;
    const id = this.nextId++;
    const output = options.output === true;
    const launched = deferred<LaunchedProcess>();
    const entry: InFlight = { id, output, streams: [undefined, undefined], launched, exited: deferred() };
    // Nobody may be waiting for the exit when the launcher dies; the failure reaches whoever asks.
    entry.exited.promise.catch(() => undefined);
    // In flight from here on, so the event loop stays alive while a new helper starts.
    this.inFlight.set(id, entry);
    const child = this.child ?? this.start();
    if (this.inFlight.size === 1) this.hold(true);
    // A helper that dies before it is ready fails every request in flight, this one included.
    await this.ready?.promise.catch(() => undefined);
    if (this.inFlight.get(id) !== entry) return launched.promise;
    const request: LaunchRequest = {
      type: 'launch',
      id,
      file,
      args: [...args],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: definedEnv(options.env ?? process.env),
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      ...(output ? { output: socketPath } : {}),
    };
    child.send(request, (err) => {
      if (err) this.fail(id, new LaunchError(`could not reach the process launcher: ${err.message}`));
    });
    return launched.promise;
  }

  /** Listens on a socket in a private folder (mode 0700): only this user can connect. */
  private async listen(): Promise<{ path: string; server: Server }> {
    const dir = await mkdtemp(join(tmpdir(), 'uv-launch-'));
    process.once('exit', () => {
      rmSync(dir, { recursive: true, force: true });
    });
    const path = join(dir, 'output.sock');
    const server: Server = createServer((socket) => {
      this.accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    return { path, server };
  }

  private start(): ChildProcess {
    const script = fileURLToPath(new URL('./launcher-process.js', import.meta.url));
    const child = fork(script, [], {
      // No loaders or flags of the engine (tsx, inspectors): the launcher must stay small.
      execArgv: [],
      // Electron runs a forked script as plain Node only with this set; Node ignores it.
      env: { ELECTRON_RUN_AS_NODE: '1' },
      // A crash trace of the launcher (a bug) goes where the engine's own would.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    this.ready = deferred();
    this.ready.promise.catch(() => undefined);
    child.on('message', (reply: LaunchReply) => {
      this.onReply(reply);
    });
    child.on('error', (err) => {
      // Once it ran, 'exit' follows and reports it; a launcher that never started has no 'exit'.
      if (child.pid === undefined) this.onLauncherGone(child, `could not start: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      this.onLauncherExit(child, code, signal);
    });
    this.hold(this.inFlight.size > 0);
    return child;
  }

  /** Keeps the event loop alive while commands are in flight, and lets it end when none are. */
  private hold(active: boolean): void {
    const child = this.child;
    if (child === undefined) return;
    if (active) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }

  private onReply(reply: LaunchReply): void {
    if (reply.type === 'ready') {
      this.ready?.resolve();
      return;
    }
    const entry = this.inFlight.get(reply.id);
    if (entry === undefined) return;
    switch (reply.type) {
      case 'started':
        entry.pid = reply.pid;
        this.settleIfReady(entry);
        break;
      case 'failed':
        this.fail(
          reply.id,
          reply.stage === 'output'
            ? new OutputSocketError(`the output socket did not answer: ${reply.message}`, reply.code)
            : new LaunchError(reply.message, reply.code),
        );
        break;
      case 'exited':
        entry.exit = { code: reply.code, signal: reply.signal };
        entry.exited.resolve(entry.exit);
        if (entry.launched === undefined) this.done(reply.id);
        break;
    }
  }

  /**
   * Reads an output connection's header and gives the connection to its request.
   *
   * Exactly the header is read: the output behind it stays in the stream, and so does its end, so
   * a command that printed and exited before the connection was claimed loses nothing.
   */
  private accept(socket: Socket): void {
    socket.on('error', () => undefined); // A reset connection just ends the stream.
    const onReadable = (): void => {
      const header: unknown = socket.read(outputHeaderBytes);
      if (header === null && !socket.readableEnded && socket.readableLength < outputHeaderBytes) return;
      socket.off('readable', onReadable);
      const match = Buffer.isBuffer(header) ? headerPattern.exec(header.toString('latin1')) : null;
      const entry = match === null ? undefined : this.inFlight.get(Number(match[1]));
      const slot = match?.[2] === '2' ? 1 : 0;
      if (entry?.launched === undefined || entry.streams[slot] !== undefined) {
        socket.destroy();
        return;
      }
      entry.streams[slot] = socket;
      this.settleIfReady(entry);
    };
    socket.on('readable', onReadable);
  }

  private settleIfReady(entry: InFlight): void {
    const { launched, pid, streams } = entry;
    if (launched === undefined || pid === undefined) return;
    const [stdout, stderr] = streams;
    if (entry.output && (stdout === undefined || stderr === undefined)) return;
    entry.launched = undefined;
    launched.resolve({ pid, stdout: stdout ?? null, stderr: stderr ?? null, exited: entry.exited.promise });
    if (entry.exit !== undefined) this.done(entry.id);
  }

  /** A request that could not start: reject it and drop what connected for it. */
  private fail(id: number, err: LaunchError): void {
    const entry = this.inFlight.get(id);
    if (entry === undefined) return;
    this.done(id);
    for (const stream of entry.streams) stream?.destroy();
    if (entry.launched) entry.launched.reject(err);
    else entry.exited.reject(err);
  }

  private done(id: number): void {
    if (this.inFlight.delete(id) && this.inFlight.size === 0) this.hold(false);
  }

  /** The helper died: every request still waiting fails, and the next launch starts a new helper. */
  private onLauncherExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.onLauncherGone(child, signal === null ? `exited with code ${code ?? '?'}` : `exited by ${signal}`);
  }

  private onLauncherGone(child: ChildProcess, how: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    const err = new LaunchError(`the process launcher ${how}`);
    this.ready?.reject(err);
    for (const id of [...this.inFlight.keys()]) this.fail(id, err);
  }
}

/** An environment without unset variables, as the launcher receives it. */
function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}
