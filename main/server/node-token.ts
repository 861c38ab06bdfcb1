import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../engine/logger.js';

/** Bytes of randomness in a node token (256 bits). */
export const tokenBytes = 32;
const tokenPattern = /^[A-Za-z0-9_-]{43,200}$/;

/** Where the node token lives: `<data-dir>/token`, readable by its owner only. */
export function tokenPath(dataDir: string): string {
  return join(dataDir, 'token');
}

/** A fresh token: 32 random bytes, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(tokenBytes).toString('base64url');
}

/** A token file that exists but is not usable; the message says what to do. */
export class TokenFileError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}; delete it to have a new token generated at the next start`);
    this.name = 'TokenFileError';
  }
}

/**
 * Reads the node token, creating it (mode 0600) on first start.
 *
 * Created with O_EXCL so two processes starting at once cannot end up with different tokens; a
 * file readable by others is tightened to 0600 (and logged), since anyone holding the token can
 * run shell commands through the node.
 */
export async function loadOrCreateToken(dataDir: string, logger?: Logger): Promise<string> {
  const path = tokenPath(dataDir);
  await mkdir(dataDir, { recursive: true });
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      const token = generateToken();
      await handle.writeFile(`${token}\n`);
      await handle.sync();
      return token;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const info = await stat(path);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    await chmod(path, 0o600);
    logger?.warn(
      { path, mode: (info.mode & 0o777).toString(8) },
      'the token file was readable by others: set it to 0600',
    );
  }
  const token = (await readFile(path, 'utf8')).trim();
  if (!tokenPattern.test(token))
    throw new TokenFileError(path, 'does not hold a token (43+ base64url characters)');
  return token;
}

/** Reads an existing token (the CLI, reaching a running node); undefined when there is none. */
export async function readToken(dataDir: string): Promise<string | undefined> {
  try {
    const token = (await readFile(tokenPath(dataDir), 'utf8')).trim();
    return tokenPattern.test(token) ? token : undefined;
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err as NodeJS.ErrnoException).code === 'EACCES'
    ) {
      return undefined;
    }
    throw err;
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Whether `presented` is the token, in constant time.
 *
 * Both sides are hashed first so the comparison always runs over 32 equal-length bytes:
 * timingSafeEqual needs equal lengths, and comparing lengths first would leak the token's length.
 */
export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}
