import type { Manifest } from '../model/manifest.js';
import type { DataInput, DataStore, DataWriteResult } from './data-store.js';
import type { FileSource, FileStore, StoredFile } from './file-store.js';

/**
 * What a task may do with its run's output stores; every write is attributed to the run and task
 * and noted in the manifest's `outputs`.
 */
export interface TaskOutputs {
  /** This run's folder in the file store (created on the first file). */
  readonly fileFolder: string;
  /** Appends or upserts records in one transaction. */
  writeData(collection: string, records: readonly DataInput[], mode: 'append' | 'upsert'): DataWriteResult;
  /** Adds an expression index on a JSON field of a collection (idempotent). */
  ensureDataIndex(collection: string, field: string): void;
  /** Copies, moves or writes one file into this run's folder under `name` and catalogues it. */
  storeFile(source: FileSource, name: string, signal?: AbortSignal): Promise<StoredFile>;
}

/** The file entry a manifest's `outputs.files` gets for a stored file. */
export type ManifestFileEntry = {
  path: string;
  name: string;
  size: number;
  sha256: string;
  mediaType: string;
  id: number;
  task?: string;
};

/** Output stores bound to one run; {@link forTask} hands each task its view. */
export class RunOutputs {
  constructor(
    private readonly stores: { data: DataStore; files: FileStore },
    private readonly manifest: Manifest,
  ) {}

  forTask(taskId: string): TaskOutputs {
    const m = this.manifest;
    const provenance = { operationId: m.operation.id, runId: m.runId, taskId, nodeId: m.node.id };
    const { data, files } = this.stores;
    return {
      fileFolder: files.runFolder(m.operation.id, m.runId),
      writeData: (collection, records, mode) => {
        const result = data.write(collection, records, mode, provenance);
        this.noteData(collection, result.inserted + result.updated);
        return result;
      },
      ensureDataIndex: (collection, field) => {
        data.ensureIndex(collection, field);
      },
      storeFile: async (source, name, signal) => {
        const stored = await files.put(provenance, source, name, signal);
        this.noteFile(stored, taskId);
        return stored;
      },
    };
  }

  /** Adds to the `{collection, count}` entry of this collection (one entry per collection per run). */
  private noteData(collection: string, count: number): void {
    const entries = this.manifest.outputs.data;
    const entry = entries.find((e) => e.collection === collection);
    if (entry === undefined) entries.push({ collection, count });
    else entry.count = (typeof entry.count === 'number' ? entry.count : 0) + count;
  }

  /** Adds or replaces the entry for this file name. */
  private noteFile(stored: StoredFile, taskId: string): void {
    const entry: ManifestFileEntry = {
      path: stored.path,
      name: stored.name,
      size: stored.size,
      sha256: stored.sha256,
      mediaType: stored.mediaType,
      id: stored.id,
      task: taskId,
    };
    const list = this.manifest.outputs.files;
    const at = list.findIndex((f) => f.name === stored.name);
    if (at >= 0) list[at] = entry;
    else list.push(entry);
  }
}
