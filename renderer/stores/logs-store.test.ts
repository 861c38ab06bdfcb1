import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MethodInput, MethodOutput } from '../../main/api/contract';
import { deferred, FakeNode, settle } from '../test-support/fake-node';
import { createLogsStore, logKeyString, type LogsOptions } from './logs-store';

const key = { runId: 'r1', taskId: 'greet', index: 0 };
const id = logKeyString(key);

/**
 * A log file the fake node serves with logs.read: `content` so far, `live` while the task runs.
 *
 * Reads see only the first `onDisk` bytes: fewer than written stands for bytes still on their way
 * to disk, or for a capped log whose file stops at its head while the task runs.
 */
function fakeLog(node: FakeNode, initial = '') {
  const file = { content: initial, live: true, onDisk: Infinity };
  const read = (input: MethodInput<'logs.read'>): MethodOutput<'logs.read'> => {
    const bytes = new TextEncoder().encode(file.content).subarray(0, file.onDisk);
    const offset = input.offset ?? 0;
    const end = Math.min(bytes.length, offset + (input.length ?? 65536));
    return {
      text: new TextDecoder().decode(bytes.subarray(offset, end)),
      offset,
      nextOffset: end,
      size: bytes.length,
      eof: end >= bytes.length,
      live: file.live,
    };
  };
  node.handle('logs.read', read);
  /** Appends to the file and returns the task.log event the node would send for it. */
  const write = (text: string) => {
    const offset = new TextEncoder().encode(file.content).length;
    file.content += text;
    return { runId: key.runId, taskId: key.taskId, index: key.index, offset, text };
  };
  return { file, write, read };
}

function open(node: FakeNode, options: LogsOptions = {}) {
  const store = createLogsStore(node.client, { retryMs: 1, ...options });
  const close = store.getState().open(key);
  return { store, close, view: () => store.getState().logs[id] };
}

describe('logs store', () => {
  it('reads a finished log to the end in chunks', async () => {
    const node = new FakeNode();
    const { file } = fakeLog(node, 'line one\nline two\n');
    file.live = false;
    const { view } = open(node, { readBytes: 5 });
    await settle(50);
    expect(view()).toMatchObject({ text: 'line one\nline two\n', loading: false, live: false, size: 18 });
    expect(node.callsOf('logs.read').length).toBeGreaterThan(3);
  });

  it('follows live chunks after the first read and asks for the run’s task.log events', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'a\n');
    const { view, close } = open(node);
    await settle();
    expect(node.subscription?.logs).toEqual(['r1']);
    node.emit('task.log', log.write('b\n'));
    node.emit('task.log', log.write('c\n'));
    expect(view()?.text).toBe('a\nb\nc\n');
    close();
    expect(node.subscription?.logs).toEqual([]);
  });

  it('stitches chunks that overlap the first read, or arrive during it, without repeats', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'one\n');
    const answer = deferred<undefined>();
    node.handle('logs.read', async (input) => {
      await answer.promise;
      return log.read(input);
    });
    const { view } = open(node);
    // Written and sent while the first read is still on its way: the read will include it too.
    node.emit('task.log', log.write('two\n'));
    answer.resolve(undefined);
    await settle();
    node.emit('task.log', log.write('three\n'));
    expect(view()?.text).toBe('one\ntwo\nthree\n');
  });

  it('trims a live chunk that straddles the end of what a read returned', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'one\n');
    const answer = deferred<undefined>();
    node.handle('logs.read', async (input) => {
      await answer.promise;
      return log.read(input);
    });
    const { view } = open(node, { readBytes: 6 });
    node.emit('task.log', log.write('two\n'));
    answer.resolve(undefined); // the first read returns 'one\ntw', then the chunk 'two\n' at offset 4 applies as 'o\n'
    await settle();
    expect(view()?.text).toBe('one\ntwo\n');
  });

  it('fills a gap with a read when a chunk arrives ahead of what it has', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'a\n');
    const { view } = open(node);
    await settle();
    log.write('lost\n'); // its event never arrived
    node.emit('task.log', log.write('c\n'));
    await settle();
    expect(view()?.text).toBe('a\nlost\nc\n');
  });

  it('re-reads when the node says it dropped log events for the run', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'a\n');
    const { view } = open(node);
    await settle();
    log.write('dropped\n');
    node.dropped(['r1']);
    await settle();
    expect(view()?.text).toBe('a\ndropped\n');
  });

  it('opens a long log at its tail, from a line start, and says how much it left out', async () => {
    const node = new FakeNode();
    const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`).join('');
    const { file } = fakeLog(node, lines);
    file.live = false;
    const { view } = open(node, { tailBytes: 100 });
    await settle(50);
    const shown = view();
    expect(shown?.text.startsWith('line ')).toBe(true);
    expect(shown?.text.endsWith('line 099\n')).toBe(true);
    expect((shown?.omittedBytes ?? 0) + new TextEncoder().encode(shown?.text ?? '').length).toBe(
      lines.length,
    );
  });

  it('keeps memory bounded by dropping the head of a log that keeps growing', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, '');
    const { view } = open(node, { maxChars: 1000 });
    await settle();
    for (let i = 0; i < 200; i++) node.emit('task.log', log.write(`chunk ${i}\n`));
    const shown = view();
    expect(shown?.text.length).toBeLessThanOrEqual(1000);
    expect(shown?.text.endsWith('chunk 199\n')).toBe(true);
    expect(shown?.omittedBytes).toBeGreaterThan(0);
  });

  it('counts bytes, not characters, when stitching UTF-8', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'é€\n');
    const { view } = open(node);
    await settle();
    node.emit('task.log', log.write('😀\n'));
    node.emit('task.log', { ...log.write('z\n') });
    expect(view()?.text).toBe('é€\n😀\nz\n');
    expect(view()?.nextOffset).toBe(new TextEncoder().encode('é€\n😀\nz\n').length);
  });
});

describe('logs store, with a gap the file does not fill at once', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const bytes = (text: string) => new TextEncoder().encode(text).length;
  const marker = (n: number) =>
    `… ${n} bytes not shown live (the log keeps only its head and tail while it runs; reopen it when the task ends) …\n`;

  it('skips what a capped log’s file holds back while the task runs, says how much, and stops reading', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'first\nsecond\nthird\n');
    log.file.onDisk = 10; // the file stopped at its head, mid-line: 'first\nseco'
    const { view } = open(node, { retryMs: 250 });
    await vi.advanceTimersByTimeAsync(0);
    expect(view()?.text).toBe('first\nseco');

    node.emit('task.log', log.write('fourth\n')); // at 19: bytes 10..19 will never be in the file
    await vi.advanceTimersByTimeAsync(0);
    node.emit('task.log', log.write('fifth\n')); // arrives while the retry waits
    await vi.advanceTimersByTimeAsync(250);

    const gap = bytes('nd\nthird\n');
    expect(gap).toBe(9);
    expect(view()?.text).toBe(`first\nseco\n${marker(gap)}fourth\nfifth\n`);
    expect(view()?.nextOffset).toBe(bytes('first\nsecond\nthird\nfourth\nfifth\n'));
    expect(view()?.omittedBytes).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    // After the skip, live chunks append as usual and the file is not asked again.
    const reads = node.callsOf('logs.read').length;
    node.emit('task.log', log.write('sixth\n'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(view()?.text).toBe(`first\nseco\n${marker(gap)}fourth\nfifth\nsixth\n`);
    expect(node.callsOf('logs.read').length).toBe(reads);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('after a skip, does not stitch the file’s bytes, which no longer line up with live offsets', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'head\nlost\n');
    log.file.onDisk = 5;
    const { view } = open(node, { retryMs: 250 });
    await vi.advanceTimersByTimeAsync(0);
    node.emit('task.log', log.write('tail\n'));
    await vi.advanceTimersByTimeAsync(250);
    expect(view()?.text).toBe(`head\n${marker(5)}tail\n`);
    // The task ends and the file is rewritten as head + omitted marker + tail; then the stream reconnects.
    log.file.content = 'head\n… 5 bytes omitted …\ntail\n';
    log.file.onDisk = Infinity;
    log.file.live = false;
    node.status({ state: 'open', seq: 0, gap: true });
    await vi.advanceTimersByTimeAsync(0);
    expect(view()).toMatchObject({ text: `head\n${marker(5)}tail\n`, live: false, loading: false });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('counts a skipped gap as omitted once the marker scrolls out of a bounded view', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'head\nlost\n');
    log.file.onDisk = 5;
    const { view } = open(node, { retryMs: 250, maxChars: 200 });
    await vi.advanceTimersByTimeAsync(0);
    node.emit('task.log', log.write('live 0\n'));
    await vi.advanceTimersByTimeAsync(250);
    expect(view()?.text).toBe(`head\n${marker(5)}live 0\n`);
    for (let i = 1; i < 60; i++) node.emit('task.log', log.write(`live ${i}\n`));
    const shown = view();
    expect(shown?.text.startsWith('live ')).toBe(true);
    expect(shown?.text).not.toContain('not shown live');
    expect(shown?.text.endsWith('live 59\n')).toBe(true);
    expect((shown?.omittedBytes ?? 0) + bytes(shown?.text ?? '')).toBe(shown?.nextOffset);
  });

  it('fills a gap from the file while each read finds more, without a marker', async () => {
    const node = new FakeNode();
    const log = fakeLog(node, 'a\n');
    const { view } = open(node, { retryMs: 250 });
    await vi.advanceTimersByTimeAsync(0);
    log.file.onDisk = 2; // what follows is still on its way to disk
    log.write('lost\n'); // its event never arrived
    node.emit('task.log', log.write('c\n'));
    await vi.advanceTimersByTimeAsync(0);
    expect(view()?.text).toBe('a\n');

    log.file.onDisk = 4; // part of it lands
    await vi.advanceTimersByTimeAsync(250);
    expect(view()?.text).toBe('a\nlo');
    node.emit('task.log', log.write('d\n')); // arrives while the next retry waits

    log.file.onDisk = Infinity; // the rest lands
    await vi.advanceTimersByTimeAsync(250);
    expect(view()?.text).toBe('a\nlost\nc\nd\n');
    expect(vi.getTimerCount()).toBe(0);
    node.emit('task.log', log.write('e\n'));
    expect(view()?.text).toBe('a\nlost\nc\nd\ne\n');
  });
});
