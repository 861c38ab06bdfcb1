import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { taskSpecSchemas, type TaskDef, type TaskKindName, type TaskSpecOf } from '../model/operation.js';
import { TaskLog } from '../runner/task-log.js';
import type { StateStores } from '../state/state-stores.js';
import type { TaskRunContext } from './task-kind.js';

/** A task context for tests of one kind, without a runner, and what a test needs around it. */
export interface TaskTestContext<K extends TaskKindName> {
  ctx: TaskRunContext<K>;
  /** Aborting it aborts `ctx.signal`. */
  controller: AbortController;
  /** Temporary folder holding `work/` (the cwd), `staging/` and the log; removed by {@link cleanup}. */
  dir: string;
  /** Resolves with the matched text once the log (its last 64 KiB, read as Latin-1) matches. */
  waitForLog: (pattern: RegExp | string) => Promise<string>;
  /** Closes the log and returns its bytes. */
  readLog: () => Promise<Buffer>;
  cleanup: () => Promise<void>;
}

export interface TaskTestOptions {
  killGraceMs?: number;
  env?: Record<string, string>;
  /** Sees every chunk written to the log. */
  onLog?: (chunk: Buffer) => void;
}

const logWindowChars = 64 * 1024;

/**
 * Builds a context around a spec as written in an operation file (parsed with the kind's schema).
 *
 * Rendering is the identity: these tests are about the kind, not the templating. `state` and
 * `runChild` throw, since no runner is behind the context.
 */
export async function createTaskTestContext<K extends TaskKindName>(
  kind: K,
  specInput: unknown,
  options: TaskTestOptions = {},
): Promise<TaskTestContext<K>> {
  const dir = await mkdtemp(join(tmpdir(), `ultravisor-${kind}-`));
  const cwd = join(dir, 'work');
  const staging = join(dir, 'staging');
  await Promise.all([mkdir(cwd), mkdir(staging)]);
  const watcher = new LogWatcher();
  const log = new TaskLog(join(dir, 'task.log'), (chunk) => {
    options.onLog?.(chunk);
    watcher.see(chunk);
  });
  const controller = new AbortController();
  const spec = taskSpecSchemas[kind].parse(specInput) as TaskSpecOf<K>;
  const task = { ...taskDefaults, kind, spec } as unknown as Extract<TaskDef, { kind: K }>;
  const ctx: TaskRunContext<K> = {
    task,
    spec,
    operation: { id: 'test' },
    signal: controller.signal,
    render: (template) => template,
    renderString: (template) => template,
    renderShell: (template) => template,
    renderDeep: (value) => value,
    cwd,
    env: { ...processEnv(), ...options.env },
    staging,
    log,
    killGraceMs: options.killGraceMs ?? 5000,
    state: unavailableState,
    runChild: () => Promise.reject(new Error('runChild is not available in this test')),
    logger: pino({ level: 'silent' }),
  };
  return {
    ctx,
    controller,
    dir,
    waitForLog: (pattern) => watcher.wait(pattern),
    readLog: async () => {
      await log.close();
      return readFile(log.path);
    },
    cleanup: async () => {
      // A test that failed half-way may leave its task running; aborting stops its processes.
      controller.abort(new Error('cancelled: the test ended'));
      await log.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Throws on use rather than on access, so spreading a context (`{ ...ctx, cwd }`) still works. */
const unavailableState: StateStores = {
  get global(): never {
    throw new Error('state is not available in this test');
  },
  get node(): never {
    throw new Error('state is not available in this test');
  },
};

const taskDefaults = {
  id: 'test_task',
  needs: [],
  runIf: 'success',
  killGrace: 5000,
  continueOnError: false,
  env: {},
  concurrency: 1,
};

function processEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

/** Keeps the recent log text and wakes waiters whose pattern shows up. */
class LogWatcher {
  private text = '';
  private waiters: { match: (text: string) => string | undefined; resolve: (found: string) => void }[] = [];

  see(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('latin1')).slice(-logWindowChars);
    this.waiters = this.waiters.filter((waiter) => {
      const found = waiter.match(this.text);
      if (found === undefined) return true;
      waiter.resolve(found);
      return false;
    });
  }

  wait(pattern: RegExp | string): Promise<string> {
    const match = (text: string): string | undefined =>
      typeof pattern === 'string' ? (text.includes(pattern) ? pattern : undefined) : pattern.exec(text)?.[0];
    const found = match(this.text);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}
