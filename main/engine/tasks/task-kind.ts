import type { Logger } from 'pino';
import type { TaskDef, TaskKindName, TaskSpecOf } from '../model/operation.js';
import type { LlmOverride } from '../model/task-specs/llm-spec.js';
import type { StateStores } from '../state/state-stores.js';
import type { TaskOutputs } from '../store/run-outputs.js';
import type { TaskLog } from '../runner/task-log.js';

/** What a task kind may ask of the runner while it runs one execution. */
export interface TaskRunContext<K extends TaskKindName> {
  task: Extract<TaskDef, { kind: K }>;
  spec: TaskSpecOf<K>;
  /** The operation the task belongs to: its id and the settings that apply to all its tasks. */
  operation: { id: string; llm?: LlmOverride };
  /** Aborts on cancel or timeout; `signal.reason` says which. Stop promptly and clean up. */
  signal: AbortSignal;
  /** Renders a template; a string that is one lone `{{ expr }}` keeps the value's type. */
  render(template: string): unknown;
  /** Renders a template to a string (objects as JSON, null and undefined as empty). */
  renderString(template: string): string;
  /** Renders a shell command string: every templated value is single-quoted for /bin/sh. */
  renderShell(template: string): string;
  /** Renders every string inside a JSON-like value. */
  renderDeep(value: unknown): unknown;
  /** Working directory (exists): the task's `cwd` or the run's staging folder. */
  cwd: string;
  /** Process environment merged with the operation's and the task's `env` (rendered). */
  env: Record<string, string>;
  /** The run's staging folder. */
  staging: string;
  /** This execution's log file, streamed to disk. */
  log: TaskLog;
  /** Grace period between SIGTERM and SIGKILL when the signal aborts. */
  killGraceMs: number;
  state: StateStores;
  /** This run's output data and file stores (writes are attributed to the run and task); absent without stores. */
  outputs?: TaskOutputs;
  /** Runs another operation as a child of this run. */
  runChild(request: ChildRunRequest): Promise<ChildRunResult>;
  logger: Logger;
}

export interface ChildRunRequest {
  id?: string;
  file?: string;
  params: Record<string, unknown>;
}

export interface ChildRunResult {
  runId: string;
  status: string;
  manifest: string;
  outputs: unknown;
}

/** What a successful execution produced. */
export interface TaskResult {
  output: unknown;
  exitCode?: number;
  childRunId?: string;
  /** The command as it ran (shell tasks), for the manifest. */
  command?: string;
}

/**
 * A failed execution. Thrown by a task kind; `output` and `exitCode` still reach the manifest.
 *
 * Kinds throw this for failures they understand (exit code 1, HTTP 404); anything else thrown is
 * treated the same way with the error's message.
 */
export class TaskFailure extends Error {
  constructor(
    message: string,
    readonly details: { exitCode?: number; output?: unknown; childRunId?: string; command?: string } = {},
  ) {
    super(message);
    this.name = 'TaskFailure';
  }
}

/** One task kind: a module that runs one execution of a task of that kind. */
export interface TaskKind<K extends TaskKindName> {
  readonly kind: K;
  run(ctx: TaskRunContext<K>): Promise<TaskResult>;
}
