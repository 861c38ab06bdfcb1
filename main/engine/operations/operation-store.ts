import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import type { Logger } from '../logger.js';
import type { LoadedOperation } from '../model/load-operation.js';
import { parseOperation } from '../model/load-operation.js';
import { OperationFileError } from '../model/operation-error.js';
import { operationIdPattern, type OperationDef } from '../model/operation.js';

/** An operation saved on this node: the parsed definition and the text it came from, comments and all. */
export interface SavedOperation {
  id: string;
  operation: OperationDef;
  /** The text exactly as added; `ops add` of it again is a no-op. */
  text: string;
  /** `<data-dir>/operations/<id>.yaml`; relative paths in the operation resolve against its folder. */
  file: string;
  savedAt: Date;
}

/** A saved file that could not be loaded; the previous good version (if any) stays in use. */
export interface OperationProblem {
  file: string;
  error: string;
}

/** What changed when the folder was read again. */
export interface ReloadResult {
  added: string[];
  changed: string[];
  removed: string[];
  rejected: OperationProblem[];
}

export type OperationChange =
  | { type: 'saved'; id: string; operation: SavedOperation; replaced: boolean }
  | { type: 'removed'; id: string };

const extensions = ['.yaml', '.yml', '.json'] as const;

function idFromFile(name: string): string | undefined {
  if (name.startsWith('.')) return undefined;
  const ext = extensions.find((e) => name.endsWith(e));
  if (ext === undefined) return undefined;
  const id = name.slice(0, -ext.length);
  return operationIdPattern.test(id) ? id : undefined;
}

/** Warnings about an operation that is valid but may not do what was meant. */
export function operationWarnings(operation: OperationDef, known: (id: string) => boolean): string[] {
  const warnings: string[] = [];
  operation.triggers.forEach((trigger, i) => {
    if (trigger.kind !== 'after') return;
    const upstream = trigger.after.operation;
    if (upstream === operation.id) {
      warnings.push(
        `triggers[${i}].after.operation: "${upstream}" is this operation: each run starts the next`,
      );
    } else if (!known(upstream)) {
      warnings.push(
        `triggers[${i}].after.operation: no operation "${upstream}" is saved on this node yet; the trigger waits until one is`,
      );
    }
  });
  return warnings;
}

/**
 * The node's saved operations: `<data-dir>/operations/<id>.yaml`, one file per operation.
 *
 * The text is kept as given so comments survive. Saving validates first and writes atomically, so
 * a rejected operation never replaces the saved one. {@link reload} picks up changes made by
 * another process (the CLI, a hand edit); a file that no longer parses is reported and the last
 * good version stays in use.
 */
export class OperationStore extends EventEmitter<{ change: [OperationChange] }> {
  private readonly saved = new Map<string, SavedOperation>();
  private readonly problems = new Map<string, OperationProblem>();

  private constructor(
    readonly dir: string,
    private readonly logger: Logger,
  ) {
    super();
  }

  /** Opens (creating) `<data-dir>/operations` and loads every operation in it. */
  static async open(dataDir: string, logger: Logger): Promise<OperationStore> {
    const dir = join(dataDir, 'operations');
    await mkdir(dir, { recursive: true });
    const store = new OperationStore(dir, logger);
    await store.reload();
    return store;
  }

  get(id: string): SavedOperation | undefined {
    return this.saved.get(id);
  }

  /** The saved operation in the shape the engine's `findOperation` hook wants. */
  find(id: string): LoadedOperation | undefined {
    const saved = this.saved.get(id);
    return saved === undefined ? undefined : { operation: saved.operation, file: saved.file };
  }

  has(id: string): boolean {
    return this.saved.has(id);
  }

  /** Every saved operation, by id. */
  list(): SavedOperation[] {
    return [...this.saved.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Files in the folder that do not load, with why. */
  listProblems(): OperationProblem[] {
    return [...this.problems.values()];
  }

  fileOf(id: string): string {
    return join(this.dir, `${id}.yaml`);
  }

  /**
   * Validates operation text and saves it as `<id>.yaml`, replacing a saved version of the same id.
   *
   * Throws {@link OperationFileError} (naming `source`) and changes nothing when the text is invalid.
   */
  async add(
    text: string,
    source: string,
  ): Promise<{ saved: SavedOperation; replaced: boolean; warnings: string[] }> {
    const operation = parseOperation(text, source);
    const warnings = operationWarnings(operation, (id) => this.saved.has(id) || id === operation.id);
    const file = this.fileOf(operation.id);
    const replaced = this.saved.has(operation.id);
    await writeFileAtomic(file, text);
    // Another extension for the same id would be a second definition: the new file wins.
    for (const ext of extensions.filter((e) => e !== '.yaml')) {
      await rm(join(this.dir, `${operation.id}${ext}`), { force: true });
    }
    const saved: SavedOperation = { id: operation.id, operation, text, file, savedAt: new Date() };
    this.saved.set(operation.id, saved);
    this.problems.delete(file);
    this.emit('change', { type: 'saved', id: operation.id, operation: saved, replaced });
    return { saved, replaced, warnings };
  }

  /** Removes a saved operation; false when there was none. */
  async remove(id: string): Promise<boolean> {
    let found = this.saved.delete(id);
    for (const ext of extensions) {
      const file = join(this.dir, `${id}${ext}`);
      const existed = await stat(file).then(
        () => true,
        () => false,
      );
      if (existed) {
        await rm(file, { force: true });
        this.problems.delete(file);
        found = true;
      }
    }
    if (found) this.emit('change', { type: 'removed', id });
    return found;
  }

  /**
   * Reads the folder again and applies what changed, emitting `change` for each operation that did.
   *
   * A file whose text is unchanged is not parsed again; one that fails to parse keeps the last good
   * version in use (if there is one) and is reported in `rejected`.
   */
  async reload(): Promise<ReloadResult> {
    const result: ReloadResult = { added: [], changed: [], removed: [], rejected: [] };
    const names = await readdir(this.dir).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [] as string[];
      throw err;
    });
    const seen = new Set<string>();
    const problemFiles = new Set<string>();
    for (const name of names.sort()) {
      const id = idFromFile(name);
      if (id === undefined || seen.has(id)) continue;
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      seen.add(id);
      const current = this.saved.get(id);
      if (current?.text === text && current.file === file) continue;
      let operation: OperationDef;
      try {
        operation = parseOperation(text, file);
        if (operation.id !== id) {
          throw new OperationFileError(file, [
            {
              path: 'id',
              message: `the file is named ${name} but holds operation "${operation.id}": rename one`,
            },
          ]);
        }
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        const problem = { file, error };
        this.problems.set(file, problem);
        problemFiles.add(file);
        result.rejected.push(problem);
        this.logger.error(
          { file, kept: current !== undefined },
          `operation file rejected${current === undefined ? '' : '; the previous version stays in use'}: ${error}`,
        );
        continue;
      }
      const info = await stat(file).catch(() => undefined);
      const saved: SavedOperation = { id, operation, text, file, savedAt: info?.mtime ?? new Date() };
      this.saved.set(id, saved);
      this.problems.delete(file);
      (current === undefined ? result.added : result.changed).push(id);
      this.emit('change', { type: 'saved', id, operation: saved, replaced: current !== undefined });
    }
    for (const id of [...this.saved.keys()]) {
      if (seen.has(id)) continue;
      this.saved.delete(id);
      result.removed.push(id);
      this.emit('change', { type: 'removed', id });
    }
    for (const file of this.problems.keys()) if (!problemFiles.has(file)) this.problems.delete(file);
    return result;
  }
}
