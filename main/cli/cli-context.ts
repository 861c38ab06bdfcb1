import { resolveDataDir } from '../engine/data-dir.js';
import { createLogger, type Logger } from '../engine/logger.js';

/** What every command gets: where the data lives, a logger, and the output streams. */
export interface CliContext {
  dataDir: string;
  logger: Logger;
  out: NodeJS.WritableStream & { isTTY?: boolean };
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

export function cliContext(dataDirFlag: string | undefined): CliContext {
  return {
    dataDir: resolveDataDir(dataDirFlag),
    logger: createLogger(),
    out: process.stdout,
    err: process.stderr,
  };
}

/** Exit codes: 0 success, 1 the run (or a command's work) failed, 2 invalid input. */
export const exitCodes = { ok: 0, failed: 1, invalid: 2 } as const;

/** Parses repeated `--param k=v` values into an object. */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param "${pair}" must look like name=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** A mistake in how a command was called; printed without a stack, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
