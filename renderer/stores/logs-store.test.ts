import { describe, expect, it } from 'vitest';
import type { MethodInput, MethodOutput } from '../../main/api/contract';
import { deferred, FakeNode, settle } from '../test-support/fake-node';
import { createLogsStore, logKeyString, type LogsOptions } from './logs-store';

const key = { runId: 'r1', taskId: 'greet', index: 0 };
const id = logKeyString(key);

/** A log file the fake node serves with logs.read: `content` so far, `live` while the task runs. */
function fakeLog(node: FakeNode, initial = '') {
  const file = { content: initial, live: true };
  const read = (input: MethodInput<'logs.read'>): MethodOutput<'logs.read'> => {
    const bytes = new TextEncoder().encode(file.content);
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
