import type { Manifest, RunStatus, TaskStatus } from '../model/manifest.js';
import type { OperationDef } from '../model/operation.js';

/** What the runner reports while a run goes on; the CLI draws progress and the API streams these. */
export type RunEvent =
  | { type: 'run-started'; runId: string; operationId: string; manifest: Manifest }
  | { type: 'task-started'; runId: string; taskId: string; items?: number }
  | {
      type: 'execution-ended';
      runId: string;
      taskId: string;
      index: number;
      status: TaskStatus;
      done: number;
      total: number;
    }
  | {
      type: 'task-ended';
      runId: string;
      taskId: string;
      status: TaskStatus;
      durationMs?: number;
      error?: string;
    }
  | { type: 'task-log'; runId: string; taskId: string; index: number; chunk: Buffer }
  | {
      type: 'run-ended';
      runId: string;
      operationId: string;
      status: RunStatus;
      manifest: Manifest;
      /** The definition the run used (its summary policy and llm settings); engine-internal, never sent to clients. */
      operation?: OperationDef;
    };

export type RunEventListener = (event: RunEvent) => void;
