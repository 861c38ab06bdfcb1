import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/ultravisor.js ...args` as a user would, with its own data dir. */
export function runCli(
  args: readonly string[],
  dataDir: string,
  options: { signalAfter?: RegExp; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin', 'ultravisor.js'), '--data-dir', dataDir, ...args],
      {
        cwd: repoRoot,
        // An undefined value in options.env removes that variable.
        env: { ...process.env, ULTRAVISOR_LOG: 'warn', ...options.env },
      },
    );
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (options.signalAfter && !signalled && options.signalAfter.test(stdout)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
