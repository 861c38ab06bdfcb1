import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/atomic-writer.ts', import.meta.url));
const iterations = 30;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uv-crash-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts the writer and resolves once it has completed its first write (it says "ready"). */
async function startWriter(target: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, target], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited early with code ${String(code)}`)));
  });
  return child;
}

describe('writeJsonAtomic under SIGKILL', () => {
  it(`never leaves a torn or empty file across ${iterations} kills at random moments`, async () => {
    const target = join(dir, 'state.json');
    const seenCounts: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const child = await startWriter(target);
      // A random moment in the writer's loop; the randomness is the point, not a wait for an event.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 40));
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      expect(signal).toBe('SIGKILL');
      const text = await readFile(target, 'utf8');
      expect(text.length, `iteration ${i}: empty file`).toBeGreaterThan(0);
      const parsed = JSON.parse(text) as { n: number; padding: string };
      expect(parsed.padding).toBe('x'.repeat((parsed.n * 7919) % 20_000));
      seenCounts.push(parsed.n);
    }
    // The kills landed at different points in the loop, not all before the second write.
    expect(new Set(seenCounts).size).toBeGreaterThan(1);
    // Only temp files may be left over, never a second copy of the target.
    const others = (await readdir(dir)).filter((n) => n !== 'state.json');
    expect(others.every((n) => n.startsWith('.state.json.') && n.endsWith('.tmp'))).toBe(true);
  }, 120_000);
});
