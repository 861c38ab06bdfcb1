import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ApiClient } from '../../main/api/contract-client';
import type { EventPayload, MethodOutput } from '../../main/api/contract';
import { errorMessage } from '../api/api-error';
import { withoutKey } from './records';

/** One task execution's log: a run, a task and a forEach index (0 without forEach). */
export interface LogKey {
  runId: string;
  taskId: string;
  index: number;
}

export interface LogView {
  /**
   * The text shown: the log from byte `omittedBytes` up to `nextOffset`, with a
   * `… N bytes not shown live …` line where a gap the file could not fill was skipped.
   */
  text: string;
  /** Bytes at the head not shown (a long log shows its tail; a skipped gap that scrolls out joins them). */
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
  /**
   * Delay before reading again when a live chunk is ahead of what the file holds yet.
   *
   * When a read this long after the last one finds the file no further on, the gap is skipped.
   */
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

/** The line that stands in the view text for `bytes` the file could not provide while the task ran. */
export function notShownLiveLine(bytes: number): string {
  return `… ${bytes} bytes not shown live (the log keeps only its head and tail while it runs; reopen it when the task ends) …\n`;
}

/** A gap skipped in the view text: the marker line's place in the text and the log bytes it stands for. */
interface Skip {
  /** The marker's first character in the text. */
  start: number;
  /** Just after the marker's last character. */
  end: number;
  /** Log bytes left out. */
  bytes: number;
  /** The marker's own size in UTF-8 (it is not log bytes). */
  markerBytes: number;
}

/** `text` without its first `bytes` bytes (as UTF-8). */
function dropBytes(text: string, bytes: number): string {
  if (bytes <= 0) return text;
  return decoder.decode(encoder.encode(text).subarray(bytes));
}

/**
 * Drops whole lines from the head until `text` fits in `maxChars`; returns the text, the log bytes
 * dropped and the skips still in the text (moved to their new places).
 *
 * A skip's marker goes whole or not at all; once gone, the bytes it stood for count as dropped.
 */
function capHead(
  text: string,
  maxChars: number,
  skips: readonly Skip[],
): { text: string; dropped: number; skips: readonly Skip[] } {
  if (text.length <= maxChars) return { text, dropped: 0, skips };
  let cut = text.length - Math.floor(maxChars * 0.8);
  const newline = text.indexOf('\n', cut);
  if (newline !== -1 && newline - cut < 10_000) cut = newline + 1;
  for (const skip of skips) if (skip.start < cut && cut < skip.end) cut = skip.end;
  let dropped = byteLength(text.slice(0, cut));
  const kept: Skip[] = [];
  for (const skip of skips) {
    if (skip.end <= cut) dropped += skip.bytes - skip.markerBytes;
    else kept.push({ ...skip, start: skip.start - cut, end: skip.end - cut });
  }
  return { text: text.slice(cut), dropped, skips: kept };
}

/** What a read that left a gap found, to tell on the next try whether the file got any further. */
interface Miss {
  size: number;
  end: number;
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
  /** Gaps skipped in the view text, oldest first. */
  skips: readonly Skip[];
  /** The last read that left a gap, while the gap lasts. */
  lastMiss: Miss | undefined;
  /**
   * A gap was skipped, so the view is past the end the file had stopped at: the file stays there
   * while the task runs (its cap keeps the rest in a hidden tail file) and is rewritten when it
   * ends, so its bytes from here on no longer line up with live offsets. Reads then only refresh
   * the status.
   */
  pastFile: boolean;
}

/**
 * Task logs for the log viewer: read with logs.read, then followed through task.log events.
 *
 * Every chunk carries its byte offset, so reads and live chunks stitch together without gaps or
 * repeats whatever order they arrive in: a chunk ahead of what we have waits while a read fills
 * the gap; a chunk that overlaps is trimmed. Only the tail of a huge log is held.
 *
 * A gap the file will never fill — a capped log's file stops at its head while the task runs, and
 * live offsets go on counting every byte — is skipped once a retry finds the file no further on:
 * a marker line takes its place and the view carries on from the first queued chunk.
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
    const append = (
      id: string,
      follower: Follower,
      offset: number,
      text: string,
      extra: Partial<LogView> = {},
    ): boolean => {
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
      const capped = capHead(current.text + fresh, maxChars, follower.skips);
      follower.skips = capped.skips;
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
        if (next === undefined || !append(id, follower, next.offset, next.text)) break;
        follower.queue.shift();
      }
      return follower.queue.length > 0;
    };

    /** Skips the gap before the first queued chunk (the queue is sorted), leaving a marker line in its place. */
    const skipGap = (id: string, follower: Follower): void => {
      const current = view(id);
      const first = follower.queue[0];
      if (current === undefined || first === undefined || first.offset <= current.nextOffset) return;
      const bytes = first.offset - current.nextOffset;
      const line = notShownLiveLine(bytes);
      const marker = current.text === '' || current.text.endsWith('\n') ? line : `\n${line}`;
      const start = current.text.length;
      follower.skips = [
        ...follower.skips,
        { start, end: start + marker.length, bytes, markerBytes: byteLength(marker) },
      ];
      follower.pastFile = true;
      put(id, { ...current, text: current.text + marker, nextOffset: first.offset });
    };

    /** True when `last`, read a retry after `previous`, found the file no further on. */
    const noProgress = (previous: Miss | undefined, last: MethodOutput<'logs.read'>): boolean =>
      previous !== undefined && last.eof && last.size <= previous.size && last.nextOffset <= previous.end;

    /** Reads from where the view is to the end of the file; `retry` when the retry timer started it. */
    const read = async (id: string, follower: Follower, retry = false): Promise<void> => {
      if (follower.reading || follower.closed) return;
      follower.reading = true;
      if (follower.retryTimer !== undefined) clearTimeout(follower.retryTimer);
      follower.retryTimer = undefined;
      let gap: boolean;
      let last: MethodOutput<'logs.read'>;
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
          last = result;
          if (follower.pastFile) {
            put(id, {
              ...before,
              size: Math.max(before.size, result.size),
              live: result.live,
              loading: false,
              error: undefined,
            });
            gap = drain(id, follower);
            break;
          }
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
          append(id, follower, offset, text, {
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
      if (isClosed(follower)) return;
      if (gap && (follower.pastFile || (retry && noProgress(follower.lastMiss, last)))) {
        // The file will never hold these bytes: show what comes after them instead.
        skipGap(id, follower);
        gap = drain(id, follower);
      }
      if (!gap) {
        follower.lastMiss = undefined;
        return;
      }
      // A live chunk is ahead of the end of the file: its bytes may be on their way to disk.
      follower.lastMiss = { size: last.size, end: last.nextOffset };
      follower.retryTimer = setTimeout(() => {
        follower.retryTimer = undefined;
        void read(id, follower, true);
      }, retryMs);
    };

    client.on('task.log', (e) => {
      const id = logKeyString({ runId: e.runId, taskId: e.taskId, index: e.index });
      const follower = followers.get(id);
      const current = view(id);
      if (follower === undefined || current === undefined) return;
      if (follower.reading || current.loading || !append(id, follower, e.offset, e.text)) {
        follower.queue.push(e);
        // With a retry due, the chunk waits for it: a read now would judge the file too soon.
        if (!follower.reading && !current.loading && follower.retryTimer === undefined)
          void read(id, follower);
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
            skips: [],
            lastMiss: undefined,
            pastFile: false,
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
