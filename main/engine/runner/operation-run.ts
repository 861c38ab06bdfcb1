import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import type { Logger } from '../logger.js';
import type {
  Execution,
  Manifest,
  RunStatus,
  TaskRecord,
  TaskStatus,
  TriggerRecord,
} from '../model/manifest.js';
import { manifestVersion } from '../model/manifest.js';
import type { LoadedOperation } from '../model/load-operation.js';
import type { OperationDef, TaskDef, TaskKindName } from '../model/operation.js';
import { logCapFor } from '../model/retention-spec.js';
import type { NodeIdentity } from '../node-identity.js';
import type { StateStores } from '../state/state-stores.js';
import { currentProcess } from '../store/process-liveness.js';
import { RunOutputs } from '../store/run-outputs.js';
import type { Stores } from '../store/stores.js';
import type { TaskKindRegistry } from '../tasks/registry.js';
import {
  TaskFailure,
  type ChildRunRequest,
  type ChildRunResult,
  type TaskKind,
  type TaskResult,
  type TaskRunContext,
} from '../tasks/task-kind.js';
import {
  evaluateExpression,
  isTruthy,
  parseExpression,
  renderDeep,
  renderString,
  renderTemplate,
  shellQuoter,
  stringifyValue,
} from '../template/index.js';
import { abortableDelay, RunCancelled, RunTimedOut, TaskTimedOut } from './abort-reasons.js';
import { ManifestWriter } from './manifest-writer.js';
import { resolveParams } from './params.js';
import type { RunEvent } from './run-events.js';
import { newRunId } from './run-id.js';
import { engineSummary } from './run-summary.js';
import { TaskLog } from './task-log.js';

/** A request to run an operation once. */
export interface RunRequest {
  operation: OperationDef;
  /** The operation's file, when it came from one: relative child files and cwds resolve against it. */
  file?: string;
  params?: Record<string, unknown>;
  trigger?: TriggerRecord;
  parent?: { runId: string; operationId: string; taskId: string };
  /** Nesting depth of child runs; deeper than {@link maxChildDepth} fails the task. */
  depth?: number;
  signal?: AbortSignal;
}

/** What a run needs from the node around it. */
export interface RunServices {
  dataDir: string;
  node: NodeIdentity;
  state: StateStores;
  logger: Logger;
  kinds: TaskKindRegistry;
  resolveOperation(
    ref: { id?: string; file?: string },
    fromFile: string | undefined,
  ): Promise<LoadedOperation>;
  startChild(request: RunRequest): Promise<Manifest>;
  emit(event: RunEvent): void;
  /** Output data and file stores (and node retention); without them data and file tasks fail. */
  stores?: Stores;
}

export const maxChildDepth = 8;

interface TaskScope {
  status: TaskStatus;
  output?: unknown;
  exitCode?: number;
  error?: string;
}

type Decision = { run: true } | { run: false; reason: string; status: 'skipped' | 'failure' | 'cancelled' };

const endedStatuses: ReadonlySet<TaskStatus> = new Set([
  'success',
  'failure',
  'skipped',
  'cancelled',
  'timeout',
]);

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One run of one operation: walks the task graph, runs executions, and keeps the manifest.
 *
 * Construction validates params and allocates the run id without touching the disk, so bad input
 * changes nothing; {@link execute} does the rest and always ends with a complete manifest.
 */
export class OperationRun {
  readonly runId: string;
  readonly dir: string;
  readonly manifest: Manifest;
  private readonly params: Record<string, unknown>;
  private readonly scopeParams: Record<string, unknown>;
  private readonly controller = new AbortController();
  private readonly records = new Map<string, TaskRecord>();
  private readonly taskScope: Record<string, TaskScope> = {};
  private readonly writer: ManifestWriter;
  private readonly staging: string;
  private readonly logs: string;
  private readonly started: number;
  /** `env.*` in templates: the process environment and the operation's `env`, as written. */
  private readonly scopeEnv: Record<string, string | undefined>;
  private readonly outputs: RunOutputs | undefined;
  private readonly logCap: number;

  constructor(
    private readonly services: RunServices,
    private readonly request: RunRequest,
    now = new Date(),
  ) {
    const op = request.operation;
    this.params = resolveParams(op, request.params ?? {});
    this.scopeParams = { ...this.params };
    for (const [name, def] of Object.entries(op.params)) {
      // A param offered as choices with no value is exposed as { choices } so random() can pick.
      if (!(name in this.scopeParams) && def.choices) this.scopeParams[name] = { choices: def.choices };
    }
    this.started = now.getTime();
    this.scopeEnv = { ...process.env, ...op.env };
    this.runId = newRunId(now);
    this.dir = join(services.dataDir, 'runs', op.id, this.runId);
    this.staging = join(this.dir, 'staging');
    this.logs = join(this.dir, 'logs');
    const tasks: TaskRecord[] = op.tasks.map((task) => {
      const record: TaskRecord = {
        id: task.id,
        ...(task.name === undefined ? {} : { name: task.name }),
        kind: task.kind,
        status: 'pending',
        attempts: 0,
        executions: [],
      };
      this.records.set(task.id, record);
      this.taskScope[task.id] = { status: 'pending' };
      return record;
    });
    this.manifest = {
      manifestVersion,
      runId: this.runId,
      operation: {
        id: op.id,
        ...(op.name === undefined ? {} : { name: op.name }),
        ...(request.file ? { file: request.file } : {}),
      },
      node: { id: services.node.id, name: services.node.name },
      trigger: request.trigger ?? { kind: 'manual', firedAt: now.toISOString() },
      ...(request.parent ? { parent: request.parent } : {}),
      params: this.params,
      status: 'running',
      startedAt: now.toISOString(),
      tasks,
      outputs: { files: [], data: [] },
      links: {
        run: this.dir,
        manifest: join(this.dir, 'manifest.json'),
        logs: this.logs,
        staging: this.staging,
      },
      // Who runs it (so a restart can tell a dead run from a live one) and the retention it ran under.
      extra: {
        process: currentProcess(),
        ...(op.retention === undefined ? {} : { retention: op.retention }),
      },
    };
    this.outputs = services.stores === undefined ? undefined : new RunOutputs(services.stores, this.manifest);
    this.logCap = logCapFor(op.retention, services.stores?.retention);
    this.writer = new ManifestWriter(this.manifest.links.manifest, this.manifest, 1000, (err) =>
      services.logger.error({ err, runId: this.runId }, 'manifest write failed'),
    );
  }

  /** Cancels the run: running tasks are stopped (process trees killed), pending ones marked cancelled. */
  cancel(reason = 'cancelled'): void {
    if (!this.controller.signal.aborted) this.controller.abort(new RunCancelled(reason));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Runs the operation to the end and returns the final manifest (also on disk). */
  async execute(): Promise<Manifest> {
    const op = this.request.operation;
    await mkdir(this.logs, { recursive: true });
    await mkdir(this.staging, { recursive: true });
    await this.writer.flush();
    this.services.emit({
      type: 'run-started',
      runId: this.runId,
      operationId: op.id,
      manifest: this.manifest,
    });

    const external = this.request.signal;
    const onExternalAbort = () => {
      this.cancel(external?.reason instanceof Error ? external.reason.message : 'cancelled');
    };
    if (external?.aborted) onExternalAbort();
    external?.addEventListener('abort', onExternalAbort, { once: true });
    const runTimer =
      op.timeout === undefined
        ? undefined
        : setTimeout(() => {
            if (!this.controller.signal.aborted) this.controller.abort(new RunTimedOut(op.timeout ?? 0));
          }, op.timeout);

    try {
      await this.walk();
    } finally {
      if (runTimer) clearTimeout(runTimer);
      external?.removeEventListener('abort', onExternalAbort);
    }
    return this.finish();
  }

  /** Starts every task whose needs have ended, up to the operation's concurrency, until all have ended. */
  private async walk(): Promise<void> {
    const op = this.request.operation;
    const pending = new Map(op.tasks.map((t) => [t.id, t]));
    const running = new Map<string, Promise<void>>();
    for (;;) {
      let progressed = true;
      while (progressed) {
        progressed = false;
        for (const task of pending.values()) {
          if (running.size >= op.concurrency) break;
          if (!task.needs.every((need) => endedStatuses.has(this.record(need).status))) continue;
          pending.delete(task.id);
          const decision = this.decide(task);
          if (!decision.run) {
            this.endWithoutRunning(task, decision.status, decision.reason);
            progressed = true;
            continue;
          }
          running.set(
            task.id,
            this.runTask(task).finally(() => running.delete(task.id)),
          );
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    for (const task of pending.values()) this.endWithoutRunning(task, 'cancelled', 'never started');
  }

  private record(id: string): TaskRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`internal: no record for task ${id}`);
    return record;
  }

  /** Whether a task whose needs have all ended should run, be skipped, or fail before starting. */
  private decide(task: TaskDef): Decision {
    if (this.controller.signal.aborted) {
      return { run: false, status: 'cancelled', reason: errorMessage(this.controller.signal.reason) };
    }
    const needs = task.needs.map((id) => {
      const def = this.request.operation.tasks.find((t) => t.id === id);
      return { id, status: this.record(id).status, tolerated: def?.continueOnError === true };
    });
    const failed = needs.filter((n) => n.status === 'failure' || n.status === 'timeout');
    const blocking = needs.filter(
      (n) => n.status !== 'success' && !(n.tolerated && (n.status === 'failure' || n.status === 'timeout')),
    );
    switch (task.runIf) {
      case 'success':
        if (blocking.length > 0) {
          return {
            run: false,
            status: 'skipped',
            reason: `needs ${blocking.map((n) => `${n.id} (${n.status})`).join(', ')}`,
          };
        }
        break;
      case 'failure':
        if (failed.length === 0)
          return { run: false, status: 'skipped', reason: 'runIf: failure, and no needed task failed' };
        break;
      case 'always':
        break;
      default:
        return task.runIf satisfies never;
    }
    if (task.if !== undefined) {
      try {
        const value = evaluateExpression(parseExpression(task.if), this.scope(undefined, undefined));
        if (!isTruthy(value)) return { run: false, status: 'skipped', reason: `if: ${task.if} was false` };
      } catch (err) {
        return { run: false, status: 'failure', reason: `if: ${errorMessage(err)}` };
      }
    }
    return { run: true };
  }

  private endWithoutRunning(
    task: TaskDef,
    status: 'skipped' | 'failure' | 'cancelled',
    reason: string,
  ): void {
    const record = this.record(task.id);
    record.status = status;
    if (status === 'failure') record.error = reason;
    else record.skipReason = reason;
    this.taskScope[task.id] = { status, ...(status === 'failure' ? { error: reason } : {}) };
    this.services.emit({
      type: 'task-ended',
      runId: this.runId,
      taskId: task.id,
      status,
      ...(status === 'failure' ? { error: reason } : {}),
    });
    this.writer.progress();
  }

  /** The names a template can see. Built per render so `now` and state are current. */
  private scope(item: unknown, index: number | undefined): Record<string, unknown> {
    const state = this.services.state;
    return {
      params: this.scopeParams,
      tasks: this.taskScope,
      state: { global: state.global.get(), node: state.node.get() },
      ...(index === undefined ? {} : { item, index }),
      run: {
        id: this.runId,
        dir: this.dir,
        staging: this.staging,
        operation: this.request.operation.id,
        node: this.services.node.name,
      },
      env: this.scopeEnv,
      now: new Date().toISOString(),
      trigger: this.manifest.trigger,
    };
  }

  private async runTask(task: TaskDef): Promise<void> {
    const record = this.record(task.id);
    const started = Date.now();
    record.status = 'running';
    record.startedAt = new Date(started).toISOString();
    this.taskScope[task.id] = { status: 'running' };

    let items: unknown[] | undefined;
    try {
      items = task.forEach === undefined ? undefined : await this.resolveItems(task);
    } catch (err) {
      this.endTask(task, started, 'failure', `forEach: ${errorMessage(err)}`, undefined);
      return;
    }
    if (items) record.items = items.length;
    // Written before it is announced: listeners (the UI) re-read the manifest when they hear it.
    await this.writer.flush();
    this.services.emit({
      type: 'task-started',
      runId: this.runId,
      taskId: task.id,
      ...(items ? { items: items.length } : {}),
    });

    const total = items?.length ?? 1;
    const results: Execution[] = new Array<Execution>(total);
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (let i = next++; i < total; i = next++) {
        const execution = await this.runExecution(task, items === undefined ? undefined : i, items?.[i]);
        results[i] = execution;
        done++;
        this.services.emit({
          type: 'execution-ended',
          runId: this.runId,
          taskId: task.id,
          index: i,
          status: execution.status,
          done,
          total,
        });
        if (items) this.writer.progress();
      }
    };
    const workers = Math.min(items ? task.concurrency : 1, total);
    await Promise.all(Array.from({ length: workers }, worker));

    const failed = results.filter((e) => e.status !== 'success');
    const status = this.aggregateStatus(results);
    const firstFailure = failed[0];
    const error =
      firstFailure === undefined
        ? undefined
        : items
          ? `${failed.length} of ${total} items did not succeed; item ${firstFailure.index}: ${firstFailure.error ?? firstFailure.status}`
          : firstFailure.error;
    const output = items ? results.map((e) => e.output) : results[0]?.output;
    this.endTask(
      task,
      started,
      status,
      error,
      output,
      firstFailure?.exitCode ?? results[results.length - 1]?.exitCode,
    );
  }

  private aggregateStatus(results: readonly Execution[]): TaskStatus {
    const statuses = new Set(results.map((e) => e.status));
    if (statuses.has('cancelled')) return 'cancelled';
    if (statuses.has('failure')) return 'failure';
    if (statuses.has('timeout')) return 'timeout';
    return 'success';
  }

  private endTask(
    task: TaskDef,
    started: number,
    status: TaskStatus,
    error: string | undefined,
    output: unknown,
    exitCode?: number,
  ): void {
    const record = this.record(task.id);
    const ended = Date.now();
    record.status = status;
    record.endedAt = new Date(ended).toISOString();
    record.durationMs = ended - started;
    if (error !== undefined) record.error = error;
    if (output !== undefined) record.output = output;
    if (exitCode !== undefined) record.exitCode = exitCode;
    const last = record.executions[record.executions.length - 1];
    if (last) record.log = last.log;
    this.taskScope[task.id] = {
      status,
      ...(output === undefined ? {} : { output }),
      ...(exitCode === undefined ? {} : { exitCode }),
      ...(error === undefined ? {} : { error }),
    };
    const event: RunEvent = {
      type: 'task-ended',
      runId: this.runId,
      taskId: task.id,
      status,
      durationMs: record.durationMs,
      ...(error === undefined ? {} : { error }),
    };
    // Announced once the manifest on disk says so: listeners re-read it when they hear this.
    void this.writer.flush().then(() => {
      this.services.emit(event);
    });
  }

  /** The list a forEach iterates: literal, from an expression, lines of text, or files matching a glob. */
  private async resolveItems(task: TaskDef): Promise<unknown[]> {
    const source = task.forEach;
    const scope = this.scope(undefined, undefined);
    if (source === undefined) return [];
    if (Array.isArray(source)) return renderDeep(source, scope) as unknown[];
    if (typeof source === 'string') {
      const value = renderTemplate(source, scope);
      if (Array.isArray(value)) return value as unknown[];
      if (typeof value === 'string') {
        try {
          const parsed: unknown = JSON.parse(value);
          if (Array.isArray(parsed)) return parsed as unknown[];
        } catch {
          // fall through to the error below
        }
      }
      throw new Error(`"${source}" gave ${stringifyValue(value).slice(0, 80) || 'nothing'}, not a list`);
    }
    if ('lines' in source) {
      return renderString(source.lines, scope)
        .split('\n')
        .map((line) => line.replace(/\r$/, ''))
        .filter((line) => line.trim() !== '');
    }
    const cwd =
      source.cwd === undefined
        ? await this.resolveCwd(task, scope)
        : this.resolvePath(renderString(source.cwd, scope));
    const files = await glob(renderString(source.glob, scope), {
      cwd,
      absolute: true,
      onlyFiles: true,
      dot: false,
    });
    return files.sort();
  }

  private resolvePath(path: string): string {
    if (isAbsolute(path)) return path;
    const base = this.request.file ? dirname(this.request.file) : this.staging;
    return resolve(base, path);
  }

  private async resolveCwd(task: TaskDef, scope: Record<string, unknown>): Promise<string> {
    if (task.cwd === undefined) return this.staging;
    const cwd = this.resolvePath(renderString(task.cwd, scope));
    const info = await stat(cwd).catch(() => undefined);
    if (!info?.isDirectory()) throw new Error(`cwd ${cwd} is not a folder`);
    return cwd;
  }

  private logName(task: TaskDef, index: number | undefined): string {
    return index === undefined ? `${task.id}.log` : `${task.id}.${index}.log`;
  }

  /** One item (or the task itself): attempts with retry and backoff, each with its own timeout. */
  private async runExecution(task: TaskDef, index: number | undefined, item: unknown): Promise<Execution> {
    const record = this.record(task.id);
    const logFile = join(this.logs, this.logName(task, index));
    const log = new TaskLog(
      logFile,
      (chunk) => {
        this.services.emit({
          type: 'task-log',
          runId: this.runId,
          taskId: task.id,
          index: index ?? 0,
          chunk,
        });
      },
      { maxBytes: this.logCap },
    );
    const execution: Execution = {
      index: index ?? 0,
      ...(index === undefined ? {} : { item }),
      attempt: 0,
      status: 'running',
      startedAt: new Date().toISOString(),
      log: relative(this.dir, logFile),
    };
    record.executions.push(execution);
    const maxAttempts = task.retry?.attempts ?? 1;
    const started = Date.now();
    try {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        execution.attempt = attempt;
        record.attempts++;
        if (maxAttempts > 1) log.note(`attempt ${attempt} of ${maxAttempts}`, { routine: true });
        const outcome = await this.attempt(task, index, item, log);
        execution.status = outcome.status;
        delete execution.error;
        delete execution.exitCode;
        delete execution.output;
        if (outcome.command !== undefined) execution.command = outcome.command;
        if (outcome.error !== undefined) execution.error = outcome.error;
        if (outcome.exitCode !== undefined) execution.exitCode = outcome.exitCode;
        if (outcome.output !== undefined) execution.output = outcome.output;
        if (outcome.childRunId !== undefined) execution.childRunId = outcome.childRunId;
        if (outcome.status === 'success' || outcome.status === 'cancelled' || attempt === maxAttempts) break;
        const wait = this.backoff(task, attempt);
        log.note(
          `${outcome.status === 'timeout' ? 'timed out' : 'failed'}: ${outcome.error ?? ''}; retrying in ${wait} ms`,
        );
        if (!(await abortableDelay(wait, this.controller.signal))) {
          execution.status = 'cancelled';
          execution.error = errorMessage(this.controller.signal.reason);
          break;
        }
      }
    } finally {
      // A success that printed nothing leaves no log file: the manifest holds all its log would say.
      const written = await log
        .close({ dropRoutine: execution.status === 'success' })
        .catch((err: unknown) => {
          this.services.logger.warn({ err, logFile }, 'closing task log failed');
          return true;
        });
      if (!written) delete execution.log;
    }
    execution.endedAt = new Date().toISOString();
    execution.durationMs = Date.now() - started;
    return execution;
  }

  private backoff(task: TaskDef, attempt: number): number {
    const retry = task.retry;
    if (!retry) return 0;
    const base = retry.strategy === 'exponential' ? retry.backoff * 2 ** (attempt - 1) : retry.backoff;
    return retry.maxBackoff === undefined ? base : Math.min(base, retry.maxBackoff);
  }

  private async attempt(
    task: TaskDef,
    index: number | undefined,
    item: unknown,
    log: TaskLog,
  ): Promise<{
    status: TaskStatus;
    error?: string;
    exitCode?: number;
    output?: unknown;
    childRunId?: string;
    command?: string;
  }> {
    const runSignal = this.controller.signal;
    if (runSignal.aborted) return { status: 'cancelled', error: errorMessage(runSignal.reason) };
    const attemptController = new AbortController();
    const onRunAbort = () => attemptController.abort(runSignal.reason);
    runSignal.addEventListener('abort', onRunAbort, { once: true });
    const timer =
      task.timeout === undefined
        ? undefined
        : setTimeout(() => attemptController.abort(new TaskTimedOut(task.timeout ?? 0)), task.timeout);
    try {
      const ctx = await this.context(task, index, item, log, attemptController.signal);
      const result: TaskResult = await this.runKind(task, ctx);
      if (attemptController.signal.aborted) return this.abortedOutcome(attemptController.signal.reason);
      return {
        status: 'success',
        output: result.output,
        ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }),
        ...(result.childRunId === undefined ? {} : { childRunId: result.childRunId }),
        ...(result.command === undefined ? {} : { command: result.command }),
      };
    } catch (err) {
      if (attemptController.signal.aborted) {
        const details = err instanceof TaskFailure ? err.details : {};
        return { ...this.abortedOutcome(attemptController.signal.reason), ...details };
      }
      const message = errorMessage(err);
      log.note(`error: ${message}`);
      if (err instanceof TaskFailure) return { status: 'failure', error: message, ...err.details };
      return { status: 'failure', error: message };
    } finally {
      if (timer) clearTimeout(timer);
      runSignal.removeEventListener('abort', onRunAbort);
    }
  }

  private abortedOutcome(reason: unknown): { status: TaskStatus; error: string } {
    if (reason instanceof TaskTimedOut) return { status: 'timeout', error: reason.message };
    if (reason instanceof RunTimedOut) return { status: 'timeout', error: reason.message };
    return { status: 'cancelled', error: errorMessage(reason) };
  }

  /** Calls the kind module for a task; the registry is keyed so `kinds[task.kind]` matches `task`. */
  private runKind(task: TaskDef, ctx: TaskRunContext<TaskKindName>): Promise<TaskResult> {
    const kind = this.services.kinds[task.kind] as TaskKind<TaskKindName>;
    return kind.run(ctx);
  }

  private async context(
    task: TaskDef,
    index: number | undefined,
    item: unknown,
    log: TaskLog,
    signal: AbortSignal,
  ): Promise<TaskRunContext<TaskKindName>> {
    const scopeNow = () => this.scope(item, index);
    const baseScope = scopeNow();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    for (const [k, v] of Object.entries(this.request.operation.env)) env[k] = renderString(v, baseScope);
    for (const [k, v] of Object.entries(task.env)) env[k] = renderString(v, baseScope);
    env.ULTRAVISOR_RUN_ID = this.runId;
    env.ULTRAVISOR_STAGING = this.staging;
    return {
      task,
      spec: task.spec,
      operation: this.request.operation,
      signal,
      render: (template) => renderTemplate(template, scopeNow()),
      renderString: (template) => renderString(template, scopeNow()),
      renderShell: (template) => String(renderTemplate(template, scopeNow(), { quoter: shellQuoter })),
      renderDeep: (value) => renderDeep(value, scopeNow()),
      cwd: await this.resolveCwd(task, baseScope),
      env,
      staging: this.staging,
      log,
      killGraceMs: task.killGrace,
      state: this.services.state,
      ...(this.outputs === undefined ? {} : { outputs: this.outputs.forTask(task.id) }),
      runChild: (request) => this.runChild(task, request, signal),
      logger: this.services.logger.child({ runId: this.runId, taskId: task.id }),
    };
  }

  private async runChild(
    task: TaskDef,
    request: ChildRunRequest,
    signal: AbortSignal,
  ): Promise<ChildRunResult> {
    const depth = (this.request.depth ?? 0) + 1;
    if (depth > maxChildDepth) {
      throw new TaskFailure(`child runs nest deeper than ${maxChildDepth}: does an operation run itself?`);
    }
    const loaded = await this.services.resolveOperation(
      {
        ...(request.id === undefined ? {} : { id: request.id }),
        ...(request.file === undefined ? {} : { file: request.file }),
      },
      this.request.file,
    );
    const manifest = await this.services.startChild({
      operation: loaded.operation,
      ...(loaded.file === undefined ? {} : { file: loaded.file }),
      params: request.params,
      trigger: {
        kind: 'operation',
        firedAt: new Date().toISOString(),
        detail: { parentRunId: this.runId, taskId: task.id },
      },
      parent: { runId: this.runId, operationId: this.request.operation.id, taskId: task.id },
      depth,
      signal,
    });
    const children = this.manifest.links.children ?? [];
    children.push(manifest.links.manifest);
    this.manifest.links.children = children;
    return {
      runId: manifest.runId,
      status: manifest.status,
      manifest: manifest.links.manifest,
      outputs: manifest.outputs,
    };
  }

  private runStatus(): { status: RunStatus; error?: string } {
    const reason: unknown = this.controller.signal.reason;
    if (reason instanceof RunTimedOut) return { status: 'failure', error: reason.message };
    if (reason instanceof RunCancelled) return { status: 'cancelled', error: reason.message };
    const op = this.request.operation;
    const failedTask = op.tasks.find((t) => {
      const status = this.record(t.id).status;
      return !t.continueOnError && (status === 'failure' || status === 'timeout');
    });
    if (failedTask)
      return {
        status: 'failure',
        error: `task ${failedTask.id} ${this.record(failedTask.id).status === 'timeout' ? 'timed out' : 'failed'}`,
      };
    return { status: 'success' };
  }

  private async finish(): Promise<Manifest> {
    const ended = Date.now();
    const { status, error } = this.runStatus();
    this.manifest.status = status;
    if (error !== undefined) this.manifest.error = error;
    this.manifest.endedAt = new Date(ended).toISOString();
    this.manifest.durationMs = ended - this.started;
    if (status === 'success' && !this.request.operation.keepStaging) {
      await rm(this.staging, { recursive: true, force: true });
      delete this.manifest.links.staging;
    }
    this.manifest.summary = engineSummary(this.manifest);
    await this.writer.flush();
    if (this.writer.error)
      throw new Error(`could not write ${this.writer.path}: ${this.writer.error.message}`);
    this.services.emit({
      type: 'run-ended',
      runId: this.runId,
      operationId: this.request.operation.id,
      status,
      manifest: this.manifest,
      operation: this.request.operation,
    });
    return this.manifest;
  }
}
