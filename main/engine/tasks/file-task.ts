import { stat } from 'node:fs/promises';
import { posix, resolve } from 'node:path';
import picomatch from 'picomatch';
import { glob } from 'tinyglobby';
import type { StoredFile } from '../store/file-store.js';
import { TaskFailure, type TaskKind } from './task-kind.js';

/** One file a pattern matched: where it is and its name relative to the pattern's fixed base. */
interface Match {
  from: string;
  name: string;
}

/**
 * Files matching one glob, named relative to the glob's fixed base (`out/**\/*.csv` gives `a.csv`
 * and `2024/b.csv` for `out/a.csv` and `out/2024/b.csv`), so `to` receives the matched tree.
 */
async function matchPattern(pattern: string, cwd: string): Promise<Match[]> {
  const { base, glob: rest } = picomatch.scan(pattern);
  const root = resolve(cwd, base);
  if (rest === '') {
    const info = await stat(root).catch(() => undefined);
    return info?.isFile() ? [{ from: root, name: posix.basename(root.split(/[\\/]/).join('/')) }] : [];
  }
  const names = await glob(rest, { cwd: root, onlyFiles: true, dot: false, expandDirectories: false });
  return names.sort().map((name) => ({ from: resolve(root, name), name }));
}

function summary(file: StoredFile) {
  return {
    id: file.id,
    name: file.name,
    path: file.path,
    size: file.size,
    sha256: file.sha256,
    mediaType: file.mediaType,
  };
}

/** `file:` — copy or move files (globs) into the run's folder of the file store, or write one there. */
export const fileTask: TaskKind<'file'> = {
  kind: 'file',
  async run(ctx) {
    const { spec, outputs } = ctx;
    if (outputs === undefined)
      throw new TaskFailure('the file task needs the output file store, and this engine has none');
    const to = spec.to === undefined ? '' : ctx.renderString(spec.to);
    const stored: StoredFile[] = [];
    if (spec.write !== undefined) {
      const name = ctx.renderString(spec.write.path);
      const content =
        spec.write.text !== undefined
          ? ctx.renderString(spec.write.text)
          : `${JSON.stringify(ctx.renderDeep(spec.write.json), null, 2)}\n`;
      stored.push(await outputs.storeFile({ content }, posix.join(to, name), ctx.signal));
    } else {
      const move = spec.move !== undefined;
      const source = spec.move ?? spec.copy ?? [];
      const patterns = (Array.isArray(source) ? source : [source]).map((p) => ctx.renderString(p));
      const seen = new Set<string>();
      const matches: Match[] = [];
      for (const pattern of patterns) {
        for (const match of await matchPattern(pattern, ctx.cwd)) {
          if (seen.has(match.from)) continue;
          seen.add(match.from);
          matches.push(match);
        }
      }
      if (matches.length === 0 && !spec.allowEmpty) {
        throw new TaskFailure(
          `${move ? 'move' : 'copy'}: no file matches ${patterns.map((p) => `"${p}"`).join(', ')} in ${ctx.cwd} (set allowEmpty: true if that is fine)`,
        );
      }
      for (const match of matches) {
        ctx.signal.throwIfAborted();
        stored.push(
          await outputs.storeFile({ from: match.from, move }, posix.join(to, match.name), ctx.signal),
        );
      }
    }
    for (const file of stored)
      ctx.log.note(`stored ${file.name} (${file.size} bytes, sha256 ${file.sha256.slice(0, 12)})`);
    return { output: { folder: outputs.fileFolder, files: stored.map(summary) } };
  },
};
