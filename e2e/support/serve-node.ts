import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../bin/ultravisor.js', import.meta.url));

/** Runs one `ultravisor` command to completion; throws with its output when it fails. */
export async function ultravisor(args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`ultravisor ${args.join(' ')} exited ${code}:\n${output}`);
  return output;
}

/** A running `ultravisor serve`. */
export interface ServedNode {
  /** The one-click URL it printed: `http://127.0.0.1:<port>/#token=<token>`. */
  openUrl: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  token: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited after a grace period. */
  stop(): Promise<void>;
}

const openLine = /^open: (http:\/\/\S+#token=(\S+))$/m;

/**
 * Starts `node bin/ultravisor.js serve --data-dir <dir> --port <port>` and waits for the one-click
 * URL it prints. Port 0 (the default) lets the OS pick a free one.
 */
export async function startServe(
  dataDir: string,
  options: { port?: number; timeoutMs?: number } = {},
): Promise<ServedNode> {
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'serve', '--data-dir', dataDir, '--port', String(options.port ?? 0), '--grace', '1s'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  let output = '';
  const exited = once(child, 'exit');
  const found = new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(
          `ultravisor serve printed no "open: <url>" line within ${options.timeoutMs ?? 30_000} ms:\n${output}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = openLine.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`ultravisor serve exited (${String(code)}) before printing its URL:\n${output}`));
    });
  });
  let match: RegExpExecArray;
  try {
    match = await found;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const openUrl = match[1] ?? '';
  const token = match[2] ?? '';
  const origin = new URL(openUrl).origin;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  return {
    openUrl,
    origin,
    port: Number(new URL(origin).port),
    token,
    output: () => output,
    stop,
  };
}
