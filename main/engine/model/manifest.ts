import { z } from 'zod';

export const manifestVersion = 1;

export const runStatusSchema = z.enum(['running', 'success', 'failure', 'cancelled', 'interrupted']);
export type RunStatus = z.infer<typeof runStatusSchema>;

export const taskStatusSchema = z.enum([
  'pending',
  'running',
  'success',
  'failure',
  'skipped',
  'cancelled',
  'timeout',
]);
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/** One execution of a task: one attempt of one forEach item (or of the task itself). */
export const executionSchema = z.object({
  index: z.number().int().nonnegative().describe('forEach index, 0 for a task without forEach'),
  item: z.unknown().optional(),
  attempt: z.number().int().positive(),
  status: taskStatusSchema,
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  exitCode: z.number().int().optional(),
  error: z.string().optional(),
  output: z.unknown().optional(),
  command: z.string().optional().describe('the command as it ran (shell tasks), values filled in'),
  log: z
    .string()
    .optional()
    .describe(
      'log file, relative to the run folder; absent when a successful execution printed nothing (its command and exit code are here)',
    ),
  childRunId: z.string().optional(),
});
export type Execution = z.infer<typeof executionSchema>;

export const taskRecordSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  kind: z.string(),
  status: taskStatusSchema,
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  attempts: z.number().int().nonnegative(),
  exitCode: z.number().int().optional(),
  error: z.string().optional(),
  skipReason: z.string().optional(),
  output: z.unknown().optional(),
  log: z.string().optional().describe('log file of the last execution, relative to the run folder'),
  items: z.number().int().nonnegative().optional().describe('forEach item count'),
  executions: z.array(executionSchema),
});
export type TaskRecord = z.infer<typeof taskRecordSchema>;

export const triggerRecordSchema = z
  .object({
    kind: z.string().describe('manual, schedule, every, at, condition, after, watch, operation'),
    id: z.string().optional(),
    dueAt: z.string().optional(),
    firedAt: z.string(),
    latenessMs: z.number().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();
export type TriggerRecord = z.infer<typeof triggerRecordSchema>;

export const summarySchema = z
  .object({
    title: z.string(),
    text: z.string(),
    source: z.enum(['engine', 'llm', 'fallback']),
    model: z.string().optional(),
    ms: z.number().optional(),
  })
  .loose();
export type RunSummary = z.infer<typeof summarySchema>;

export const outputFileSchema = z
  .object({
    path: z.string(),
    size: z.number(),
    sha256: z.string().optional(),
    mediaType: z.string().optional(),
  })
  .loose();

export const manifestSchema = z.object({
  manifestVersion: z.literal(manifestVersion),
  runId: z.string(),
  operation: z.object({ id: z.string(), name: z.string().optional(), file: z.string().optional() }),
  node: z.object({ id: z.string(), name: z.string() }),
  trigger: triggerRecordSchema,
  parent: z.object({ runId: z.string(), operationId: z.string(), taskId: z.string() }).optional(),
  params: z.record(z.string(), z.unknown()),
  status: runStatusSchema,
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  summary: summarySchema.optional(),
  tasks: z.array(taskRecordSchema),
  outputs: z.object({
    files: z.array(outputFileSchema),
    data: z.array(z.record(z.string(), z.unknown())),
  }),
  links: z.object({
    run: z.string().describe('the run folder, absolute'),
    manifest: z.string(),
    logs: z.string(),
    staging: z.string().optional().describe('absent once a successful run removed its staging folder'),
    children: z.array(z.string()).optional(),
  }),
  extra: z.record(z.string(), z.unknown()),
});
export type Manifest = z.infer<typeof manifestSchema>;
