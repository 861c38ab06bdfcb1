import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { omittedMarker, TaskLog } from './task-log.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uv-tasklog-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => `line ${String(i).padStart(5, '0')} ${'·'.repeat(i % 7)}\n`).join('');

/** A small seeded PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines of random length (some with multi-byte characters, some very long) adding up to at least `bytes`. */
function generate(bytes: number, random: () => number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const long = random() < 0.02;
    const length = Math.floor(random() * (long ? 20_000 : 120));
    const fill = random() < 0.3 ? 'é€' : 'abcdefghij';
    const line = Buffer.from(`${i}:${fill.repeat(Math.ceil(length / fill.length)).slice(0, length)}\n`);
    parts.push(line);
    size += line.length;
  }
  return Buffer.concat(parts);
}

/** Writes `data` in random-sized chunks, respecting backpressure. */
async function writeChunks(
  log: TaskLog,
  data: Buffer,
  random: () => number,
  maxChunk: number,
): Promise<void> {
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(random() * maxChunk);
    if (!log.write(data.subarray(at, at + n))) await log.drained();
    at += n;
  }
}

/** Splits a capped log into head, omitted count and tail, checked against the data that was written. */
function splitCapped(capped: Buffer, data: Buffer): { head: Buffer; omitted: number; tail: Buffer } {
  const suffix = Buffer.from(' bytes omitted …\n');
  const end = capped.lastIndexOf(suffix);
  expect(end).toBeGreaterThanOrEqual(0);
  const start = capped.lastIndexOf(Buffer.from('… '), end);
  expect(start).toBeGreaterThanOrEqual(0);
  const omitted = Number(capped.subarray(start + Buffer.byteLength('… '), end).toString());
  const tail = capped.subarray(end + suffix.length);
  // The marker keeps its leading line break only when the head does not end with one.
  const headLength = data.length - omitted - tail.length;
  expect([start, start - 1]).toContain(headLength);
  const head = capped.subarray(0, headLength);
  const markerStart = headLength === start ? start : start - 1;
  expect(capped.subarray(markerStart, end + suffix.length).toString()).toBe(
    omittedMarker(omitted).slice(head.length > 0 && head[head.length - 1] === 0x0a ? 1 : 0),
  );
  expect(head.equals(data.subarray(0, head.length))).toBe(true);
  expect(tail.equals(data.subarray(data.length - tail.length))).toBe(true);
  expect(head.length + omitted + tail.length).toBe(data.length);
  return { head, omitted, tail };
}

const markerBytes = (bytes: number) => Buffer.byteLength(omittedMarker(bytes));

/** The head a capped log keeps: half the cap, cut back to the last line break in its last quarter. */
function expectedHeadLength(data: Buffer, cap: number): number {
  const budget = Math.floor(cap / 2);
  const snap = Math.floor(budget / 4);
  const lastBreak = data.subarray(budget - snap, budget).lastIndexOf(0x0a);
  return lastBreak < 0 ? budget : budget - snap + lastBreak + 1;
}

/** The tail: the rest of the cap less the marker, moved past the first line break in its first quarter. */
function expectedTailLength(data: Buffer, cap: number): number {
  const budget = Math.max(0, cap - Math.floor(cap / 2) - markerBytes(data.length));
  const start = data.length - budget;
  const firstBreak = data.subarray(start, start + Math.floor(budget / 4)).indexOf(0x0a);
  return firstBreak < 0 ? budget : budget - firstBreak - 1;
}

async function writeAll(path: string, data: Buffer | string, maxBytes?: number): Promise<Buffer> {
  const log = new TaskLog(path, undefined, maxBytes === undefined ? {} : { maxBytes });
  log.write(data);
  await log.close();
  return readFile(path);
}

/** Writes `data` through a log capped at `cap` and checks the result: within the cap, head and tail where expected. */
async function writeCapped(
  path: string,
  data: Buffer,
  cap: number,
  random: () => number,
  maxChunk: number,
): Promise<{ head: Buffer; tail: Buffer }> {
  const log = new TaskLog(path, undefined, { maxBytes: cap });
  await writeChunks(log, data, random, maxChunk);
  expect(log.size).toBe(data.length);
  await log.close();
  const capped = await readFile(path);
  expect(capped.length).toBeLessThanOrEqual(cap);
  const parts = splitCapped(capped, data);
  expect(parts.head.length).toBe(expectedHeadLength(data, cap));
  expect(parts.tail.length).toBe(expectedTailLength(data, cap));
  return parts;
}

describe('TaskLog with a cap', () => {
  it('leaves a log within the cap untouched', async () => {
    const path = join(dir, 'a.log');
    expect((await writeAll(path, 'short\n', 100)).toString()).toBe('short\n');
    expect(await readdir(dir)).toEqual(['a.log']);
  });

  it('keeps whole lines of the head and tail, a marker with the omitted count, and stays within the cap', async () => {
    const path = join(dir, 'a.log');
    const text = lines(5000);
    const size = Buffer.byteLength(text);
    const log = new TaskLog(path, undefined, { maxBytes: 4096 });
    // Line by line, as a task prints.
    for (const line of text.split(/(?<=\n)/)) log.write(line);
    expect(log.size).toBe(size);
    await log.close();
    const capped = await readFile(path, 'utf8');
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(4096);
    expect(Buffer.byteLength(capped)).toBeGreaterThan(3000);
    expect(capped.startsWith('line 00000 \n')).toBe(true);
    expect(capped.endsWith(`line 04999 ${'·'.repeat(4999 % 7)}\n`)).toBe(true);
    const omitted = Number(/… (\d+) bytes omitted …/.exec(capped)?.[1]);
    const [head = '', tail = ''] = capped.split(omittedMarker(omitted).slice(1));
    expect(head.endsWith('\n')).toBe(true);
    expect(text.startsWith(head)).toBe(true);
    expect(text.endsWith(tail)).toBe(true);
    expect(Buffer.byteLength(head) + omitted + Buffer.byteLength(tail)).toBe(size);
    // Every kept line is a whole line (the multi-byte dots were not cut).
    for (const line of capped.split('\n').filter((l) => l.startsWith('line')))
      expect(line).toMatch(/^line \d{5} ·*$/);
    expect(await readdir(dir)).toEqual(['a.log']);
  });

  it('caps a log without line breaks too', async () => {
    const path = join(dir, 'a.log');
    const data = Buffer.from('x'.repeat(100_000));
    const capped = await writeAll(path, data, 1000);
    const { head, omitted, tail } = splitCapped(capped, data);
    expect(capped.toString()).toContain(`\n… ${omitted} bytes omitted …\n`);
    expect(capped.length).toBeLessThanOrEqual(1000);
    expect(head.length).toBe(500);
    expect(tail.length).toBeGreaterThan(400);
    expect(await readdir(dir)).toEqual(['a.log']);
  });

  it('caps output far larger than the cap, written in many odd-sized chunks', async () => {
    const random = prng(20240611);
    const data = generate(7 * 1024 * 1024, random);
    const cap = 64 * 1024;
    await writeCapped(join(dir, 'big.log'), data, cap, random, 70_000);
    expect(await readdir(dir)).toEqual(['big.log']);
  });

  it('cuts at line breaks near the budgets, or exactly at them when there is none', async () => {
    const random = prng(99);
    // Lines of up to 20,000 bytes: some cuts find a break within a quarter of the budget, some do not.
    let cutMidLine = 0;
    for (let round = 0; round < 12; round++) {
      const data = generate(200_000 + Math.floor(random() * 100_000), random);
      const cap = 4096 + Math.floor(random() * 60_000);
      const { head, tail } = await writeCapped(join(dir, `r${round}.log`), data, cap, random, 9000);
      // A cut at a line break keeps whole UTF-8 characters; without one near, the cut is at the budget.
      if (head[head.length - 1] === 0x0a) expect(Buffer.from(head.toString()).equals(head)).toBe(true);
      else cutMidLine++;
      if (data[data.length - tail.length - 1] === 0x0a)
        expect(Buffer.from(tail.toString()).equals(tail)).toBe(true);
      else cutMidLine++;
    }
    expect(cutMidLine).toBeGreaterThan(0);
    expect(cutMidLine).toBeLessThan(24);
    expect((await readdir(dir)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('moves a cut to a line break only within a quarter of its budget', async () => {
    // Cap 1000: the head budget is 500, so a break at 375 or later moves the cut, one before does not.
    const far = Buffer.from(`${'a'.repeat(374)}\n${'b'.repeat(5000)}`);
    expect(splitCapped(await writeAll(join(dir, 'far.log'), far, 1000), far).head.length).toBe(500);
    const near = Buffer.from(`${'a'.repeat(375)}\n${'b'.repeat(5000)}`);
    expect(splitCapped(await writeAll(join(dir, 'near.log'), near, 1000), near).head.length).toBe(376);
    // The tail budget is 500 less the marker; a break in its first quarter moves its start past it.
    const tailBudget = 500 - markerBytes(5376);
    const quarter = Math.floor(tailBudget / 4);
    // A break just past the first quarter leaves the tail alone; one at its last byte moves it.
    const late = Buffer.from(`${'c'.repeat(5000)}\n${'d'.repeat(tailBudget - quarter - 1)}`);
    expect(splitCapped(await writeAll(join(dir, 'late.log'), late, 1000), late).tail.length).toBe(tailBudget);
    const early = Buffer.from(`${'c'.repeat(5000)}\n${'d'.repeat(tailBudget - quarter)}`);
    expect(splitCapped(await writeAll(join(dir, 'early.log'), early, 1000), early).tail.length).toBe(
      tailBudget - quarter,
    );
  });

  it('keeps the newest bytes when one write wraps the ring many times', async () => {
    const random = prng(7);
    const data = generate(3 * 1024 * 1024, random);
    const capped = await writeAll(join(dir, 'a.log'), data, 10_000);
    expect(capped.length).toBeLessThanOrEqual(10_000);
    splitCapped(capped, data);
  });

  it('keeps a log of exactly the cap whole, and caps one byte more', async () => {
    const data = Buffer.from(lines(200)).subarray(0, 1000);
    expect((await writeAll(join(dir, 'exact.log'), data, 1000)).equals(data)).toBe(true);
    const over = Buffer.from(lines(200)).subarray(0, 1001);
    const capped = await writeAll(join(dir, 'over.log'), over, 1000);
    expect(capped.length).toBeLessThanOrEqual(1000);
    const { head, omitted, tail } = splitCapped(capped, over);
    expect(omitted).toBeGreaterThan(0);
    expect(head[head.length - 1]).toBe(0x0a);
    expect(tail.length).toBeGreaterThan(0);
    expect((await readdir(dir)).sort()).toEqual(['exact.log', 'over.log']);
  });

  it('keeps a log between half the cap and the cap whole', async () => {
    const random = prng(3);
    const data = generate(700, random).subarray(0, 700);
    const path = join(dir, 'a.log');
    const log = new TaskLog(path, undefined, { maxBytes: 1000 });
    await writeChunks(log, data, random, 50);
    await log.close();
    expect((await readFile(path)).equals(data)).toBe(true);
    expect(await readdir(dir)).toEqual(['a.log']);
  });

  it('never throws nor grows past the cap by more than the marker when the cap is tiny', async () => {
    const data = Buffer.from(lines(500));
    for (const cap of [0, 1, 2, 3, 5, 10, 30, 57, 64, 100]) {
      const path = join(dir, `tiny-${cap}.log`);
      const capped = await writeAll(path, data, cap);
      expect(capped.length).toBeLessThanOrEqual(cap + markerBytes(data.length));
      splitCapped(capped, data);
    }
    expect((await readdir(dir)).filter((name) => name.startsWith('.'))).toEqual([]);
  });

  it('applies the cap and counts every byte written', async () => {
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

  it('never takes much more disk than the cap while streaming', async () => {
    const cap = 256 * 1024;
    const path = join(dir, 'task.log');
    const log = new TaskLog(path, undefined, { maxBytes: cap });
    const chunk = Buffer.alloc(64 * 1024, 'y\n');
    let peak = 0;
    for (let i = 0; i < 128; i++) {
      if (!log.write(chunk)) await log.drained();
      if (i % 8 === 7) {
        await log.drained();
        const sizes = await Promise.all(
          (await readdir(dir)).map(async (name) => (await stat(join(dir, name))).size),
        );
        peak = Math.max(
          peak,
          sizes.reduce((a, b) => a + b, 0),
        );
      }
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(cap + 1024 * 1024);
    await log.close();
    expect((await stat(path)).size).toBeLessThanOrEqual(cap);
    expect(await readdir(dir)).toEqual(['task.log']);
  });
});

describe('TaskLog', () => {
  it('keeps everything without a cap', async () => {
    const random = prng(11);
    const data = generate(3 * 1024 * 1024, random);
    const path = join(dir, 'task.log');
    const log = new TaskLog(path);
    await writeChunks(log, data, random, 70_000);
    await log.close();
    expect((await readFile(path)).equals(data)).toBe(true);
    expect(await readdir(dir)).toEqual(['task.log']);
  });

  it('creates the file even when nothing was written', async () => {
    const path = join(dir, 'empty.log');
    await new TaskLog(path, undefined, { maxBytes: 100 }).close();
    expect(await readFile(path, 'utf8')).toBe('');
  });

  it('asks the producer to wait once a mebibyte is pending, and lets it go on when the batch is taken', async () => {
    const path = join(dir, 'task.log');
    const seen: number[] = [];
    const log = new TaskLog(path, (chunk) => seen.push(chunk.length));
    const chunk = Buffer.alloc(64 * 1024, 'z');
    let writes = 0;
    while (log.write(chunk)) writes++;
    writes++;
    expect(writes).toBe(16);
    await log.drained();
    expect(log.write(chunk)).toBe(true);
    await log.close();
    expect(seen).toHaveLength(17);
    expect((await stat(path)).size).toBe(17 * chunk.length);
  });

  it('interleaves notes with output in order', async () => {
    const path = join(dir, 'task.log');
    const log = new TaskLog(path);
    log.write('a');
    log.note('attempt 1 of 2');
    log.write(Buffer.from('b\n'));
    log.note('done');
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('a» attempt 1 of 2\nb\n» done\n');
  });

  it('writes nothing for routine notes alone when asked to drop them, and says so', async () => {
    const path = join(dir, 'quiet.log');
    const seen: string[] = [];
    const log = new TaskLog(path, (chunk) => seen.push(chunk.toString()));
    log.note('$ true', { routine: true });
    log.note('exited with code 0 after 2ms', { routine: true });
    expect(await log.close({ dropRoutine: true })).toBe(false);
    expect(await readdir(dir)).toEqual([]);
    // Live listeners still saw the notes.
    expect(seen).toEqual(['» $ true\n', '» exited with code 0 after 2ms\n']);
  });

  it('keeps routine notes, in order, once there is output or another note', async () => {
    const withOutput = new TaskLog(join(dir, 'a.log'));
    withOutput.note('$ echo hi', { routine: true });
    withOutput.write('hi\n');
    withOutput.note('exited with code 0 after 1ms', { routine: true });
    expect(await withOutput.close({ dropRoutine: true })).toBe(true);
    expect(await readFile(join(dir, 'a.log'), 'utf8')).toBe(
      '» $ echo hi\nhi\n» exited with code 0 after 1ms\n',
    );
    const withNote = new TaskLog(join(dir, 'b.log'));
    withNote.note('attempt 1 of 2', { routine: true });
    withNote.note('set global.x = 1');
    expect(await withNote.close({ dropRoutine: true })).toBe(true);
    expect(await readFile(join(dir, 'b.log'), 'utf8')).toBe('» attempt 1 of 2\n» set global.x = 1\n');
    const kept = new TaskLog(join(dir, 'c.log'));
    kept.note('$ false', { routine: true });
    expect(await kept.close()).toBe(true);
    expect(await readFile(join(dir, 'c.log'), 'utf8')).toBe('» $ false\n');
  });

  it('does not create the file while only routine notes came', async () => {
    const path = join(dir, 'waiting.log');
    const log = new TaskLog(path);
    log.note('$ sleep 10', { routine: true });
    // Absence has no event to await: give a file open (which would start at once) time to land.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await readdir(dir)).toEqual([]);
    log.write('now\n');
    // Output is streamed before close: the notes and the output reach the file while it is open.
    await vi.waitFor(async () => {
      expect(await readFile(path, 'utf8').catch(() => '')).toBe('» $ sleep 10\nnow\n');
    });
    await log.close();
  });

  it('can be closed twice, and drops writes after close', async () => {
    const path = join(dir, 'task.log');
    const log = new TaskLog(path);
    log.write('one\n');
    await Promise.all([log.close(), log.close()]);
    expect(log.write('two\n')).toBe(true);
    await log.close();
    expect(await readFile(path, 'utf8')).toBe('one\n');
  });

  it('reports a write error on close when the log directory is gone', async () => {
    const sub = join(dir, 'logs');
    await mkdir(sub);
    const chunks: string[] = [];
    const log = new TaskLog(join(sub, 'task.log'), (chunk) => chunks.push(chunk.toString()), {
      maxBytes: 100,
    });
    await rm(sub, { recursive: true });
    log.write('lost\n');
    await log.drained();
    expect(log.write('also lost\n')).toBe(true);
    await expect(log.close()).rejects.toThrow(/ENOENT/);
    await expect(log.close()).rejects.toThrow(/ENOENT/);
    expect(chunks).toEqual(['lost\n', 'also lost\n']);
    expect(log.size).toBe(15);
  });

  it('releases a waiting producer after a write error', async () => {
    const log = new TaskLog(dir);
    expect(log.write(Buffer.alloc(2 * 1024 * 1024))).toBe(false);
    await log.drained();
    expect(log.write(Buffer.alloc(2 * 1024 * 1024))).toBe(true);
    await log.drained();
    await expect(log.close()).rejects.toThrow(/EISDIR/);
  });
});
