import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskLog } from '../runner/task-log.js';
import { capLogFile, omittedMarker } from './log-cap.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uv-logcap-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => `line ${String(i).padStart(5, '0')} ${'·'.repeat(i % 7)}\n`).join('');

describe('capLogFile', () => {
  it('leaves a log within the cap untouched', async () => {
    const path = join(dir, 'a.log');
    await writeFile(path, 'short\n');
    expect(await capLogFile(path, 100)).toBe(0);
    expect(await readFile(path, 'utf8')).toBe('short\n');
  });

  it('keeps whole lines of the head and tail, a marker with the omitted count, and stays within the cap', async () => {
    const path = join(dir, 'a.log');
    const text = lines(5000);
    await writeFile(path, text);
    const size = Buffer.byteLength(text);
    const omitted = await capLogFile(path, 4096);
    const capped = await readFile(path, 'utf8');
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(capped)).toBeGreaterThan(3000);
    expect(capped.startsWith('line 00000 \n')).toBe(true);
    expect(capped.endsWith(`line 04999 ${'·'.repeat(4999 % 7)}\n`)).toBe(true);
    const [head = '', tail = ''] = capped.split(omittedMarker(omitted).slice(1));
    expect(head.endsWith('\n')).toBe(true);
    expect(text.startsWith(head)).toBe(true);
    expect(text.endsWith(tail)).toBe(true);
    expect(Buffer.byteLength(head) + omitted + Buffer.byteLength(tail)).toBe(size);
    // Every kept line is a whole line (the multi-byte dots were not cut).
    for (const line of capped.split('\n').filter((l) => l.startsWith('line')))
      expect(line).toMatch(/^line \d{5} ·*$/);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('caps a log without line breaks too', async () => {
    const path = join(dir, 'a.log');
    await writeFile(path, 'x'.repeat(100_000));
    const omitted = await capLogFile(path, 1000);
    const capped = await readFile(path, 'utf8');
    expect(capped).toContain(`… ${omitted} bytes omitted …`);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(1000);
  });
});

describe('TaskLog with a cap', () => {
  it('applies the cap when the log closes, and counts every byte written', async () => {
    const path = join(dir, 'task.log');
    const log = new TaskLog(path, undefined, { maxBytes: 2000 });
    for (let i = 0; i < 1000; i++) log.write(`output line ${i}\n`);
    const written = log.size;
    await log.close();
    const capped = await readFile(path, 'utf8');
    expect(written).toBeGreaterThan(10_000);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(2000);
    expect(capped).toMatch(/^output line 0\n/);
    expect(capped).toMatch(/output line 999\n$/);
    expect(capped).toMatch(/… \d+ bytes omitted …/);
  });

  it('keeps everything without a cap', async () => {
    const path = join(dir, 'task.log');
    const log = new TaskLog(path);
    for (let i = 0; i < 1000; i++) log.write(`output line ${i}\n`);
    await log.close();
    expect((await readFile(path, 'utf8')).split('\n')).toHaveLength(1001);
  });
});
