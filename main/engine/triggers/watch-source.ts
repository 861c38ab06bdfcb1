import { isAbsolute, resolve, sep } from 'node:path';
import { watch } from 'chokidar';
import picomatch from 'picomatch';

/** A file-system event a `watch` trigger reacts to. */
export type WatchEvent = 'add' | 'change' | 'unlink';

/** A running watch: resolves `ready` once the initial scan is done; `close` stops it. */
export interface WatchHandle {
  ready: Promise<void>;
  close(): Promise<void>;
}

/** Starts watching paths; injectable so tests can feed events without a file system. */
export type WatchFactory = (
  paths: readonly string[],
  onEvent: (event: WatchEvent, path: string) => void,
  onError: (error: Error) => void,
) => WatchHandle;

const globChars = /[*?[\]{}!]/;

/** Splits `dir/**\/*.csv` into the folder to watch and a matcher; plain paths have no matcher. */
export function splitGlob(path: string): { base: string; match?: (file: string) => boolean } {
  if (!globChars.test(path)) return { base: path };
  const parts = path.split(/[\\/]/);
  const firstGlob = parts.findIndex((part) => globChars.test(part));
  const base = parts.slice(0, firstGlob).join(sep) || (isAbsolute(path) ? sep : '.');
  const isMatch = picomatch(path, { dot: false });
  return { base, match: (file) => isMatch(file) };
}

/** Resolves watch paths against a folder (the operation file's), keeping glob patterns intact. */
export function resolveWatchPaths(paths: readonly string[], baseDir: string): string[] {
  return paths.map((p) => (isAbsolute(p) ? p : resolve(baseDir, p)));
}

/**
 * Watches with chokidar. Globs (`*`, `**`, `{a,b}`) are supported by watching their base folder
 * and filtering events with picomatch, since chokidar 4 dropped glob support.
 */
export const chokidarWatch: WatchFactory = (paths, onEvent, onError) => {
  const targets = paths.map(splitGlob);
  const matchers = targets.flatMap((t) => (t.match === undefined ? [] : [t.match]));
  const plain = new Set(targets.filter((t) => t.match === undefined).map((t) => t.base));
  const watcher = watch([...new Set(targets.map((t) => t.base))], {
    ignoreInitial: true,
    persistent: true,
    awaitWriteFinish: false,
  });
  const wanted = (file: string): boolean =>
    plain.has(file) || [...plain].some((p) => file.startsWith(p + sep)) || matchers.some((m) => m(file));
  watcher.on('all', (event, path) => {
    if ((event === 'add' || event === 'change' || event === 'unlink') && wanted(path)) onEvent(event, path);
  });
  watcher.on('error', (err) => {
    onError(err instanceof Error ? err : new Error(String(err)));
  });
  const ready = new Promise<void>((done) =>
    watcher.once('ready', () => {
      done();
    }),
  );
  return { ready, close: () => watcher.close() };
};
