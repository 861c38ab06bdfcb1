import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskLog } from '../runner/task-log.js';
import { OutputTail, pipeToLog } from './process-output.js';

describe('OutputTail', () => {
  it('keeps everything while under the limit', () => {
    const tail = new OutputTail(10);
    tail.push(Buffer.from('abc'));
    tail.push(Buffer.from('def'));
    expect(tail.text()).toBe('abcdef');
    expect(tail.truncated).toBe(false);
    expect(tail.size).toBe(6);
  });

  it('keeps only the last bytes once over the limit, across chunk boundaries', () => {
    const tail = new OutputTail(5);
    for (const part of ['abc', 'def', 'gh']) tail.push(Buffer.from(part));
    expect(tail.text()).toBe('defgh');
    expect(tail.truncated).toBe(true);
    expect(tail.size).toBe(8);
  });

  it('keeps the end of a single chunk larger than the limit', () => {
    const tail = new OutputTail(4);
    tail.push(Buffer.from('0123456789'));
    expect(tail.toBuffer().toString()).toBe('6789');
  });

  it('skips a character cut in half at the front instead of showing U+FFFD', () => {
    const tail = new OutputTail(5);
    tail.push(Buffer.from('aé€')); // 61 c3a9 e282ac: the cut leaves a9 e2 82 ac.
    tail.push(Buffer.from('b'));
    expect(tail.text()).toBe('€b');
  });

  it('still replaces invalid bytes that were not cut', () => {
    const tail = new OutputTail(100);
    tail.push(Buffer.from([0x61, 0xff, 0x62]));
    expect(tail.text()).toBe('a\uFFFDb');
  });
});

describe('pipeToLog', () => {
  let dir = '';

  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('pauses the source while the log drains and copies every byte', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ultravisor-pipe-'));
    const log = new TaskLog(join(dir, 'out.log'));
    const source = new PassThrough();
    let sawPause = false;
    let bytes = 0;
    const pipe = pipeToLog(source, log, (chunk) => {
      bytes += chunk.length;
    });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    for (let i = 0; i < 160; i++) {
      const more = source.write(chunk);
      sawPause ||= pipe.waitingForDrain && source.isPaused();
      if (!more) await new Promise((resolve) => source.once('drain', resolve));
    }
    source.end();
    await pipe.done;
    await log.close();
    expect(sawPause).toBe(true);
    expect(bytes).toBe(160 * chunk.length);
    expect((await readFile(log.path)).length).toBe(160 * chunk.length);
  });

  it('resolves done when the stream is destroyed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ultravisor-pipe-'));
    const log = new TaskLog(join(dir, 'out.log'));
    const source = new PassThrough();
    const pipe = pipeToLog(source, log);
    source.write('partial');
    pipe.destroy();
    await pipe.done;
    await log.close();
    expect(source.destroyed).toBe(true);
  });
});
