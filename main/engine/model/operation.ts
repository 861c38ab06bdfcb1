import { z } from 'zod';
import { durationSchema } from './duration.js';
import { keyedUnion } from './keyed-union.js';
import { retentionSchema } from './retention-spec.js';
import { dataSpecSchema } from './task-specs/data-spec.js';
import { fileSpecSchema } from './task-specs/file-spec.js';
import { httpSpecSchema } from './task-specs/http-spec.js';
import { llmOverrideSchema, llmSpecSchema, summaryPolicySchema } from './task-specs/llm-spec.js';
import { operationSpecSchema } from './task-specs/operation-spec.js';
import { shellSpecSchema } from './task-specs/shell-spec.js';
import { stateSpecSchema } from './task-specs/state-spec.js';
import { triggerListSchema } from './trigger-spec.js';

export const operationIdPattern = /^[a-z0-9-]+$/;
export const taskIdPattern = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * The spec schema of every task kind, keyed by the field that names the kind in an operation file.
 *
 * Adding a kind: add its spec here and its module to tasks/registry.ts; the runner does not change.
 */
export const taskSpecSchemas = {
  shell: shellSpecSchema,
  http: httpSpecSchema,
  state: stateSpecSchema,
  operation: operationSpecSchema,
  data: dataSpecSchema,
  file: fileSpecSchema,
  llm: llmSpecSchema,
} as const;
export type TaskKindName = keyof typeof taskSpecSchemas;
export type TaskSpecOf<K extends TaskKindName> = z.output<(typeof taskSpecSchemas)[K]>;

export const retrySchema = z
  .object({
    attempts: z.number().int().min(1).max(100).describe('total attempts, including the first'),
    backoff: durationSchema.default(1000).describe('wait before the second attempt'),
    strategy: z.enum(['fixed', 'exponential']).default('fixed'),
    maxBackoff: durationSchema.optional().describe('cap for exponential backoff'),
  })
  .strict();
export type RetryPolicy = z.output<typeof retrySchema>;

/** Where a forEach gets its items. */
export const forEachSchema = z.union([
  z.array(z.unknown()).describe('a literal list'),
  z.string().min(1).describe('an expression template yielding a list, e.g. "{{ tasks.list.output.json }}"'),
  z
    .object({ lines: z.string().min(1).describe('template whose text is split into non-empty lines') })
    .strict(),
  z
    .object({
      glob: z.string().min(1).describe('glob pattern (templated); relative to the task cwd'),
      cwd: z.string().optional(),
    })
    .strict(),
]);
export type ForEachSource = z.output<typeof forEachSchema>;

const taskCommon = {
  id: z.string().regex(taskIdPattern, 'task ids start with a letter or _ and hold letters, digits, _ and -'),
  name: z.string().optional(),
  description: z.string().optional(),
  needs: z.array(z.string()).default([]).describe('tasks that must end before this one starts'),
  if: z.string().optional().describe('expression; the task is skipped when it is false'),
  runIf: z
    .enum(['success', 'always', 'failure'])
    .default('success')
    .describe('run when needs succeeded (default), always, or only when one failed'),
  timeout: durationSchema.optional(),
  killGrace: durationSchema.default(5000).describe('time between SIGTERM and SIGKILL when stopping the task'),
  retry: retrySchema.optional(),
  continueOnError: z.boolean().default(false).describe('a failure does not fail the run or skip dependents'),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional().describe('working directory (default: the run’s staging folder)'),
  forEach: forEachSchema.optional(),
  concurrency: z.number().int().min(1).max(1024).default(1).describe('forEach items at once'),
};

function taskOf<K extends TaskKindName>(kind: K) {
  return z
    .object({ ...taskCommon, [kind]: taskSpecSchemas[kind] } as typeof taskCommon &
      Record<K, (typeof taskSpecSchemas)[K]>)
    .strict();
}

const taskSchema = keyedUnion('task', {
  shell: taskOf('shell'),
  http: taskOf('http'),
  state: taskOf('state'),
  operation: taskOf('operation'),
  data: taskOf('data'),
  file: taskOf('file'),
  llm: taskOf('llm'),
});

type TaskCommon = z.output<z.ZodObject<typeof taskCommon>>;

/** A task after parsing: the common fields, its kind, and that kind's spec under `spec`. */
export type TaskDef = {
  [K in TaskKindName]: TaskCommon & { kind: K; spec: TaskSpecOf<K> };
}[TaskKindName];

const paramSchema = z
  .object({
    default: z.unknown().optional(),
    choices: z.array(z.unknown()).min(1).optional(),
    description: z.string().optional(),
    required: z.boolean().default(false),
  })
  .strict();
export type ParamDef = z.output<typeof paramSchema>;

/**
 * `notify:` on an operation: how its run summaries become notifications.
 *
 * A digest batches runs into one notification per `every` runs and/or per `interval` (a daily
 * digest is `interval: 1d`); the node flushes interval digests while it serves.
 */
export const notifySchema = z
  .object({
    unchanged: z
      .boolean()
      .default(false)
      .describe('also notify runs whose status and outputs equal the previous run’s'),
    digest: z
      .object({
        every: z.number().int().min(1).max(10_000).optional().describe('one notification per this many runs'),
        interval: durationSchema.optional().describe('one notification per interval, e.g. 1d'),
        key: z.string().min(1).optional().describe('operations sharing a key share one digest'),
      })
      .strict()
      .refine((d) => d.every !== undefined || d.interval !== undefined, {
        message: 'a digest needs every, interval or both',
      })
      .optional(),
  })
  .strict();
export type NotifyPolicy = z.output<typeof notifySchema>;

export const operationSchema = z
  .object({
    id: z.string().regex(operationIdPattern, 'operation ids use lowercase letters, digits and -'),
    name: z.string().optional(),
    description: z.string().optional(),
    params: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), paramSchema).default({}),
    triggers: triggerListSchema.default([]),
    overlap: z
      .enum(['skip', 'queue', 'parallel'])
      .default('skip')
      .describe('when a trigger fires while a run is going: skip it, queue one, or run in parallel'),
    maxParallel: z.number().int().min(1).max(1024).default(4).describe('runs at once with overlap: parallel'),
    timeout: durationSchema.optional().describe('the whole run; running tasks are cancelled when it passes'),
    concurrency: z.number().int().min(1).max(1024).default(4).describe('tasks of one run at once'),
    keepStaging: z.boolean().default(false).describe('keep the staging folder after a successful run'),
    retention: retentionSchema
      .optional()
      .describe('how many runs, how old and how big this operation’s history may get'),
    env: z.record(z.string(), z.string()).default({}).describe('environment for every task'),
    llm: llmOverrideSchema
      .optional()
      .describe('model and server for this operation’s llm tasks and run summaries (over the node settings)'),
    summary: summaryPolicySchema.describe(
      'when a run gets a summary and a notification: off, failure, always, change, or a list (default [failure, change])',
    ),
    notify: notifySchema
      .optional()
      .describe('notification options: repeat unchanged runs, or batch runs into digests'),
    tasks: z.array(taskSchema).min(1),
  })
  .strict();

type OperationParsed = z.output<typeof operationSchema>;
/** A validated operation with its tasks normalised to {@link TaskDef}. */
export type OperationDef = Omit<OperationParsed, 'tasks'> & { tasks: TaskDef[] };

/** Moves each task's kind field under `spec` so the task type is a discriminated union on `kind`. */
export function normaliseTasks(parsed: OperationParsed): OperationDef {
  const tasks = parsed.tasks.map((task) => {
    const record = task as unknown as Record<string, unknown> & { kind: TaskKindName };
    const { [record.kind]: spec, ...rest } = record;
    return { ...rest, spec } as unknown as TaskDef;
  });
  return { ...parsed, tasks };
}
