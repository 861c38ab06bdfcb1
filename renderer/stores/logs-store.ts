import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ApiClient } from '../../main/api/contract-client';
import type { EventPayload } from '../../main/api/contract';
import { errorMessage } from '../api/api-error';
import { withoutKey } from './records';

/** One task execution's log: a run, a task and a forEach index (0 without forEach). */
export interface LogKey {
  runId: string;
  taskId: string;
  index: number;
}

export interface LogView {
  /** The text shown: the log from byte `omittedBytes` up to `nextOffset`. */
  text: string;
  /** Bytes at the head not shown (a long log shows its tail). */
  omittedBytes: number;
  /** The byte offset just after `text`: where the next read or live chunk continues. */
  nextOffset: number;
  /** The log's size when last read. */
  size: number;
  /** The task was still running at the last read, so more may come. */
  live: boolean;
  /** The first read has not answered yet. */
  loading: boolean;
  error: string | undefined;
}

export interface LogsState {
  logs: Record<string, LogView | undefined>;
  /** Starts showing a log (reading it and following it live); returns the function that stops. */
  open: (key: LogKey) => () => void;
}

export type LogsStore = StoreApi<LogsState>;

export interface LogsOptions {
  /** Most text kept per log; beyond it the head is dropped (default 2 MB of text). */
  maxChars?: number;
  /** Bytes per logs.read (default 256 KiB). */
  readBytes?: number;
  /** A log bigger than this opens at its tail (default 1 MiB). */
  tailBytes?: number;
  /** Delay before reading again when a live chunk is ahead of what the file holds yet. */
  retryMs?: number;
}

export function logKeyString(key: LogKey): string {
  return `${key.runId}\u0000${key.taskId}\u0000${key.index}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/** `text` without its first `bytes` bytes (as UTF-8). */
function dropBytes(text: string, bytes: number): string {
  if (bytes <= 0) return text;
  return decoder.decode(encoder.encode(text).subarray(bytes));
}

/** Drops whole lines from the head until `text` fits in `maxChars`; returns the text and the bytes dropped. */
function capHead(text: string, maxChars: number): { text: string; dropped: number } {
  if (text.length <= maxChars) return { text, dropped: 0 };
  let cut = text.length - Math.floor(maxChars * 0.8);
  const newline = text.indexOf('\n', cut);
  if (newline !== -1 && newline - cut < 10_000) cut = newline + 1;
  const head = text.slice(0, cut);
  return { text: text.slice(cut), dropped: byteLength(head) };
}

/** Read through a call, so checks after an `await` are not narrowed away by the one before it. */
function isClosed(follower: Follower): boolean {
  return follower.closed;
}

interface Follower {
  key: LogKey;
  refs: number;
  reading: boolean;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Live chunks that arrived ahead of what we have (or while a read was in flight). */
  queue: EventPayload<'task.log'>[];
  unfollow: () => void;
  closed: boolean;
  /** The view jumped to a long log's tail: drop the partial line the next read starts with. */
  skipPartialLine: boolean;
}

/**
 * Task logs for the log viewer: read with logs.read, then followed through task.log events.
 *
 * Every chunk carries its byte offset, so reads and live chunks stitch together without gaps or
 * repeats whatever order they arrive in: a chunk ahead of what we have waits while a read fills
 * the gap; a chunk that overlaps is trimmed. Only the tail of a huge log is held.
 */
export function createLogsStore(client: ApiClient, options: LogsOptions = {}): LogsStore {
  const maxChars = options.maxChars ?? 2_000_000;
  const readBytes = options.readBytes ?? 256 * 1024;
  const tailBytes = options.tailBytes ?? 1024 * 1024;
  const retryMs = options.retryMs ?? 250;
  const followers = new Map<string, Follower>();

  const store = createStore<LogsState>()((set, get) => {
    const view = (id: string): LogView | undefined => get().logs[id];
    const put = (id: string, next: LogView): void => {
      set({ logs: { ...get().logs, [id]: next } });
    };

    /** Appends bytes [offset, offset + text) to the view, trimming what it already has. */
    const append = (id: string, offset: number, text: string, extra: Partial<LogView> = {}): boolean => {
      const current = view(id);
      if (current === undefined) return false;
      if (offset > current.nextOffset) return false;
      const length = byteLength(text);
      const end = offset + length;
      if (end <= current.nextOffset) {
        if (Object.keys(extra).length > 0) put(id, { ...current, ...extra });
        return true;
      }
      const fresh = dropBytes(text, current.nextOffset - offset);
      const capped = capHead(current.text + fresh, maxChars);
      put(id, {
        ...current,
        ...extra,
        text: capped.text,
        omittedBytes: current.omittedBytes + capped.dropped,
        nextOffset: end,
        size: Math.max(current.size, end, extra.size ?? 0),
      });
      return true;
    };

    /** Applies queued live chunks that now connect; true when one is still ahead (a gap remains). */
    const drain = (id: string, follower: Follower): boolean => {
      follower.queue.sort((a, b) => a.offset - b.offset);
      while (follower.queue.length > 0) {
        const next = follower.queue[0];
        if (next === undefined || !append(id, next.offset, next.text)) break;
        follower.queue.shift();
      }
      return follower.queue.length > 0;
    };

    const read = async (id: string, follower: Follower): Promise<void> => {
      if (follower.reading || follower.closed) return;
      follower.reading = true;
      if (follower.retryTimer !== undefined) clearTimeout(follower.retryTimer);
      follower.retryTimer = undefined;
      let gap: boolean;
      try {
        for (;;) {
          const current = view(id);
          if (current === undefined || isClosed(follower)) return;
          const result = await client.call('logs.read', {
            runId: follower.key.runId,
            taskId: follower.key.taskId,
            index: follower.key.index,
            offset: current.nextOffset,
            length: readBytes,
          });
          if (isClosed(follower)) return;
          const before = view(id);
          if (before === undefined) return;
          if (before.nextOffset === 0 && before.text === '' && result.size > tailBytes) {
            // A long log opens at its tail, from the first line break there.
            const start = result.size - tailBytes;
            put(id, { ...before, omittedBytes: start, nextOffset: start, size: result.size });
            follower.skipPartialLine = true;
            continue;
          }
          let offset = result.offset;
          let text = result.text;
          if (follower.skipPartialLine) {
            follower.skipPartialLine = false;
            const newline = text.indexOf('\n');
            if (newline !== -1 && newline < 10_000) {
              const skipped = byteLength(text.slice(0, newline + 1));
              text = text.slice(newline + 1);
              offset += skipped;
              put(id, { ...before, omittedBytes: offset, nextOffset: offset });
            }
          }
          append(id, offset, text, {
            size: result.size,
            live: result.live,
            loading: false,
            error: undefined,
          });
          gap = drain(id, follower);
          if (result.eof || result.nextOffset <= result.offset) break;
        }
      } catch (err) {
        const current = view(id);
        if (current !== undefined) put(id, { ...current, loading: false, error: errorMessage(err) });
        return;
      } finally {
        follower.reading = false;
      }
      if (gap && !isClosed(follower)) {
        // A live chunk is ahead of the end of the file: its bytes are on their way to disk.
        follower.retryTimer = setTimeout(() => {
          follower.retryTimer = undefined;
          void read(id, follower);
        }, retryMs);
      }
    };

    client.on('task.log', (e) => {
      const id = logKeyString({ runId: e.runId, taskId: e.taskId, index: e.index });
      const follower = followers.get(id);
      const current = view(id);
      if (follower === undefined || current === undefined) return;
      if (follower.reading || current.loading || !append(id, e.offset, e.text)) {
        follower.queue.push(e);
        if (!follower.reading && !current.loading) void read(id, follower);
        return;
      }
      drain(id, follower);
    });
    client.onDropped(({ runIds }) => {
      for (const [id, follower] of followers) {
        if (runIds.includes(follower.key.runId)) void read(id, follower);
      }
    });
    client.onStatus((status) => {
      // After a reconnect, chunks sent while we were away are gone: read from where we are.
      if (status.state !== 'open') return;
      for (const [id, follower] of followers) void read(id, follower);
    });

    return {
      logs: {},
      open(key) {
        const id = logKeyString(key);
        let follower = followers.get(id);
        if (follower === undefined) {
          follower = {
            key,
            refs: 0,
            reading: false,
            retryTimer: undefined,
            queue: [],
            unfollow: client.followLogs(key.runId),
            closed: false,
            skipPartialLine: false,
          };
          followers.set(id, follower);
          put(id, {
            text: '',
            omittedBytes: 0,
            nextOffset: 0,
            size: 0,
            live: true,
            loading: true,
            error: undefined,
          });
          void read(id, follower);
        }
        follower.refs += 1;
        const mine = follower;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          mine.refs -= 1;
          if (mine.refs > 0) return;
          mine.closed = true;
          if (mine.retryTimer !== undefined) clearTimeout(mine.retryTimer);
          mine.unfollow();
          followers.delete(id);
          set({ logs: withoutKey(get().logs, id) });
        };
      },
    };
  });
  return store;
}
