/**
 * The Ultravisor API contract: every method (name, input, output) and every event (name, payload).
 *
 * One map each, so handlers, transports, clients, docs and the auth test all enumerate the same
 * list. This module imports nothing but zod: the renderer (browser) imports it as it is, and the
 * shapes here are the wire shapes (JSON: times are ISO strings, bytes are counts).
 */
import { z } from 'zod';
import { runStatusSchema, taskStatusSchema } from '../engine/model/manifest.js';

// ---------------------------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------------------------

/** Operation ids, as the engine accepts them (lowercase letters, digits and `-`). */
export const operationIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-z0-9-]+$/, 'operation ids use lowercase letters, digits and -');
export const runIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'a run id is letters, digits, -, _, . and :');
/** Task ids, as the engine accepts them. */
export const taskIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'task ids start with a letter or _ and hold letters, digits, _ and -');
/** An ISO 8601 time. */
export const isoTimeSchema = z.string();
/** A time filter: ISO 8601 text or ms since the epoch. */
export const timeInputSchema = z.union([z.string().min(1), z.number().int().nonnegative()]);
export const cursorSchema = z.string().min(1).max(2000);
export const limitSchema = z.number().int().min(1).max(1000);

// Statuses come from the engine's manifest model, which (like this module) imports only zod.
export {
  runStatusSchema,
  taskStatusSchema,
  type RunStatus,
  type TaskStatus,
} from '../engine/model/manifest.js';

/** Trigger kinds as operations define them. */
export const triggerKindSchema = z.enum(['manual', 'schedule', 'every', 'at', 'condition', 'after', 'watch']);

/** A run's short summary: by the engine, by an LLM, or the fallback when the LLM did not answer. */
export const runSummarySchema = z
  .object({
    title: z.string(),
    text: z.string(),
    source: z.string(),
    model: z.string().optional(),
    ms: z.number().optional(),
  })
  .loose();

/** A run's manifest (the engine's `manifest.json`), loose so new engine fields pass through. */
export const manifestSchema = z
  .object({
    manifestVersion: z.number(),
    runId: z.string(),
    operation: z.object({ id: z.string(), name: z.string().optional(), file: z.string().optional() }).loose(),
    node: z.object({ id: z.string(), name: z.string() }).loose(),
    trigger: z
      .object({
        kind: z.string(),
        id: z.string().optional(),
        dueAt: z.string().optional(),
        firedAt: z.string(),
        latenessMs: z.number().optional(),
        detail: z.record(z.string(), z.unknown()).optional(),
      })
      .loose(),
    parent: z.object({ runId: z.string(), operationId: z.string(), taskId: z.string() }).optional(),
    params: z.record(z.string(), z.unknown()),
    status: runStatusSchema,
    startedAt: z.string(),
    endedAt: z.string().optional(),
    durationMs: z.number().optional(),
    error: z.string().optional(),
    summary: runSummarySchema.optional(),
    tasks: z.array(
      z
        .object({
          id: z.string(),
          name: z.string().optional(),
          kind: z.string(),
          status: taskStatusSchema,
          startedAt: z.string().optional(),
          endedAt: z.string().optional(),
          durationMs: z.number().optional(),
          attempts: z.number(),
          exitCode: z.number().optional(),
          error: z.string().optional(),
          skipReason: z.string().optional(),
          output: z.unknown().optional(),
          log: z.string().optional(),
          items: z.number().optional(),
          executions: z.array(
            z
              .object({
                index: z.number(),
                item: z.unknown().optional(),
                attempt: z.number(),
                status: taskStatusSchema,
                startedAt: z.string(),
                endedAt: z.string().optional(),
                durationMs: z.number().optional(),
                exitCode: z.number().optional(),
                error: z.string().optional(),
                output: z.unknown().optional(),
                command: z.string().optional(),
                /** Absent when a successful execution printed nothing. */
                log: z.string().optional(),
                childRunId: z.string().optional(),
              })
              .loose(),
          ),
        })
        .loose(),
    ),
    outputs: z
      .object({
        files: z.array(
          z
            .object({
              path: z.string(),
              size: z.number(),
              sha256: z.string().optional(),
              mediaType: z.string().optional(),
            })
            .loose(),
        ),
        data: z.array(z.record(z.string(), z.unknown())),
      })
      .loose(),
    links: z
      .object({
        run: z.string(),
        manifest: z.string(),
        logs: z.string(),
        staging: z.string().optional(),
        children: z.array(z.string()).optional(),
      })
      .loose(),
    extra: z.record(z.string(), z.unknown()),
  })
  .loose();
export type Manifest = z.infer<typeof manifestSchema>;

/** One run as the run index lists it. */
export const runRowSchema = z.object({
  runId: z.string(),
  operationId: z.string(),
  operationName: z.string().optional(),
  status: runStatusSchema,
  trigger: z.string(),
  nodeId: z.string(),
  nodeName: z.string(),
  parentRunId: z.string().optional(),
  startedAt: isoTimeSchema,
  endedAt: isoTimeSchema.optional(),
  durationMs: z.number().optional(),
  error: z.string().optional(),
  summaryTitle: z.string().optional(),
  summaryText: z.string().optional(),
  dir: z.string(),
  manifest: z.string(),
});
export type RunRow = z.infer<typeof runRowSchema>;

export const triggerInfoSchema = z.object({
  id: z.string(),
  kind: z.string(),
  enabled: z.boolean(),
  description: z.string(),
  /** Next fire time (timed triggers) or next check (conditions), when the node knows it. */
  nextAt: isoTimeSchema.optional(),
});

/** A saved operation as lists show it. */
export const operationSummarySchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  description: z.string().optional(),
  paused: z.boolean(),
  file: z.string(),
  savedAt: isoTimeSchema,
  overlap: z.string(),
  /** Runs of it in progress on this node. */
  running: z.number().int().nonnegative(),
  triggers: z.array(triggerInfoSchema),
  next: z.object({ at: isoTimeSchema, trigger: z.string() }).optional(),
});
export type OperationSummary = z.infer<typeof operationSummarySchema>;

export const operationProblemSchema = z.object({ file: z.string(), error: z.string() });

/** A problem in operation text, with the path (`tasks[2].needs[0]`) and line when known. */
export const operationIssueSchema = z.object({
  path: z.string(),
  message: z.string(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
});

/** What happened to a request to run an operation now. */
export const triggerOutcomeSchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('started'), runId: z.string(), operationId: z.string() }),
  z.object({ outcome: z.literal('queued'), operationId: z.string() }),
  z.object({ outcome: z.literal('skipped'), operationId: z.string(), reason: z.string() }),
  z.object({ outcome: z.literal('failed'), operationId: z.string(), error: z.string() }),
]);
export type TriggerOutcome = z.infer<typeof triggerOutcomeSchema>;

export const upcomingFireSchema = z.object({
  operationId: z.string(),
  at: isoTimeSchema,
  triggerId: z.string(),
  kind: z.string(),
  description: z.string(),
});

export const stateScopeSchema = z.enum(['global', 'node']);
/** A dotted path into a state document (`weather.oslo.temp`); empty for the whole document. */
export const statePathSchema = z.string().max(1000);

export const dataRecordSchema = z.object({
  id: z.number(),
  collection: z.string(),
  key: z.string().optional(),
  data: z.unknown(),
  operation: z.string().optional(),
  run: z.string().optional(),
  task: z.string().optional(),
  node: z.string().optional(),
  createdAt: isoTimeSchema,
  updatedAt: isoTimeSchema,
});
export type DataRecord = z.infer<typeof dataRecordSchema>;

export const storedFileSchema = z.object({
  id: z.number().int(),
  operationId: z.string(),
  runId: z.string(),
  taskId: z.string().optional(),
  nodeId: z.string().optional(),
  /** Path inside the run's folder. */
  name: z.string(),
  size: z.number(),
  sha256: z.string(),
  mediaType: z.string(),
  createdAt: isoTimeSchema,
  /** Where to download it (`GET` with the token), relative to the node's base URL. */
  download: z.string(),
});
export type StoredFile = z.infer<typeof storedFileSchema>;

export const severitySchema = z.enum(['info', 'success', 'warning', 'error']);
export const notificationSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  text: z.string(),
  severity: severitySchema,
  source: z.string(),
  runId: z.string().optional(),
  operationId: z.string().optional(),
  links: z.record(z.string(), z.unknown()),
  createdAt: isoTimeSchema,
  readAt: isoTimeSchema.optional(),
});
export type Notification = z.infer<typeof notificationSchema>;

/**
 * A duration as the engine's settings take it: ms, or a number with units (`500ms`, `10s`, `1h30m`).
 *
 * Kept as given (not turned into ms), so settings.json keeps what the user wrote; the engine parses it.
 */
const llmDurationSchema = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(
      /^\s*(\d+(\.\d+)?(ms|s|m|h|d))+\s*$/,
      'not a duration: use a number with a unit, e.g. 500ms, 10s, 5m, 1h30m, 2d',
    ),
]);

/**
 * The fields of each settings section, without defaults: the document adds the defaults, the
 * patch leaves them out (a default in a patch would reset a field the caller did not name).
 */
const uiFields = {
  theme: z.enum(['system', 'light', 'dark']),
  /** Runs per page in lists. */
  pageSize: z.number().int().min(10).max(500),
};
const notificationFields = {
  /** Show OS notifications (desktop) for new items at or above this severity. */
  desktop: z.boolean(),
  minSeverity: severitySchema,
};
/**
 * The node's LLM: exactly the fields the engine reads (main/engine/ai/llm-settings.ts; a test keeps
 * the two in step). Fields left out take the engine's defaults.
 */
const llmFields = {
  provider: z
    .enum(['ollama', 'openai'])
    .describe('ollama (the Ollama API) or openai (any OpenAI-compatible server)'),
  host: z
    .string()
    .min(1)
    .optional()
    .describe('Ollama host (default: OLLAMA_HOST, else http://127.0.0.1:11434)'),
  baseUrl: z
    .string()
    .min(1)
    .optional()
    .describe('OpenAI-compatible base URL (default http://127.0.0.1:8080/v1)'),
  apiKey: z.string().optional().describe('key for the OpenAI-compatible server, sent as a bearer token'),
  model: z.string().min(1).describe('model for prompts and summaries'),
  timeout: llmDurationSchema
    .optional()
    .describe('per request, e.g. 60s or ms (default 60s); a run never waits on it'),
  concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .optional()
    .describe('requests at once per provider endpoint (default 1)'),
  maxQueue: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe('summaries waiting per endpoint (default 16); older ones are dropped past this'),
  contextTokens: z
    .number()
    .int()
    .min(256)
    .optional()
    .describe("the model's context size in tokens (default: what the server reports)"),
};

/** The node's settings document (`<data-dir>/settings.json`); every field has a default. */
export const settingsSchema = z
  .object({
    ui: z
      .object({ theme: uiFields.theme.default('system'), pageSize: uiFields.pageSize.default(50) })
      .strict()
      .default({ theme: 'system', pageSize: 50 }),
    notifications: z
      .object({
        desktop: notificationFields.desktop.default(true),
        minSeverity: notificationFields.minSeverity.default('warning'),
      })
      .strict()
      .default({ desktop: true, minSeverity: 'warning' }),
    /** Absent: no LLM configured. */
    llm: z
      .object({
        ...llmFields,
        provider: llmFields.provider.default('ollama'),
        model: llmFields.model.default('llama3.2'),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Settings = z.infer<typeof settingsSchema>;

/** A partial settings document: sections given replace the fields they name and keep the others. */
export const settingsPatchSchema = z
  .object({
    ui: z.object(uiFields).partial().strict().optional(),
    notifications: z.object(notificationFields).partial().strict().optional(),
    /** `null` removes the LLM section (no LLM configured). */
    llm: z.object(llmFields).partial().strict().nullable().optional(),
  })
  .strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export const nodeStatusSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  pid: z.number().int(),
  dataDir: z.string(),
  startedAt: isoTimeSchema,
  uptimeMs: z.number().nonnegative(),
  paused: z.boolean(),
  operations: z.number().int().nonnegative(),
  activeRuns: z.array(z.string()),
  /** The next fire time of every operation that has one, soonest first. */
  nextFires: z.array(z.object({ operationId: z.string(), triggerId: z.string(), at: isoTimeSchema })),
  /** The highest event sequence number sent so far (see the WebSocket protocol). */
  eventSeq: z.number().int().nonnegative(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const llmModelSchema = z.object({
  name: z.string(),
  sizeBytes: z.number().optional(),
  contextTokens: z.number().optional(),
});

const empty = z.object({}).strict();
const byOperation = z.object({ id: operationIdSchema }).strict();
const byRun = z.object({ runId: runIdSchema }).strict();

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

/** One method: its input and output schemas and a line for the docs. */
export interface MethodDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  summary: string;
}

function method<I extends z.ZodType, O extends z.ZodType>(
  summary: string,
  input: I,
  output: O,
): MethodDef<I, O> {
  return { input, output, summary };
}

/** Every method of the API, by name. Add a method here and every transport, test and doc sees it. */
export const methods = {
  'node.status': method(
    'This node: identity, version, uptime, pause, active runs, next fire times.',
    empty,
    nodeStatusSchema,
  ),
  'node.pause': method(
    'Pauses the whole node (nothing fires on triggers; manual triggers still run).',
    empty,
    z.object({ paused: z.literal(true) }),
  ),
  'node.resume': method('Resumes the whole node from now on.', empty, z.object({ paused: z.literal(false) })),
  'cluster.status': method(
    'Cluster membership as this node sees it (standalone until clustering is enabled).',
    empty,
    z.object({
      role: z.enum(['standalone', 'hub', 'member']),
      peers: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          address: z.string(),
          hub: z.boolean(),
          lastSeenAt: isoTimeSchema,
        }),
      ),
    }),
  ),

  'operations.list': method(
    'Every saved operation, its triggers and next fire time, and files that did not load.',
    empty,
    z.object({
      paused: z.boolean(),
      operations: z.array(operationSummarySchema),
      problems: z.array(operationProblemSchema),
    }),
  ),
  'operations.get': method(
    'One saved operation: its summary and its text exactly as saved (comments and all).',
    byOperation,
    z.object({ operation: operationSummarySchema, text: z.string() }),
  ),
  'operations.save': method(
    'Validates operation text (YAML or JSON) and saves it, replacing a saved operation of the same id.',
    z
      .object({
        text: z
          .string()
          .min(1)
          .max(512 * 1024),
        source: z.string().max(500).optional(),
      })
      .strict(),
    z.object({ id: z.string(), replaced: z.boolean(), file: z.string(), warnings: z.array(z.string()) }),
  ),
  'operations.validate': method(
    'Checks operation text without saving it; problems come back with paths and lines.',
    z.object({ text: z.string().max(512 * 1024), source: z.string().max(500).optional() }).strict(),
    z.discriminatedUnion('valid', [
      z.object({ valid: z.literal(true), id: z.string(), warnings: z.array(z.string()) }),
      z.object({ valid: z.literal(false), issues: z.array(operationIssueSchema), message: z.string() }),
    ]),
  ),
  'operations.delete': method(
    'Removes a saved operation (its runs stay). Not found: error `not-found`.',
    byOperation,
    z.object({ id: z.string(), removed: z.literal(true) }),
  ),
  'operations.pause': method(
    'Stops firing one operation on its triggers (manual triggers still run).',
    byOperation,
    z.object({ id: z.string(), paused: z.literal(true) }),
  ),
  'operations.resume': method(
    'Fires an operation on its triggers again, from now on (nothing is caught up).',
    byOperation,
    z.object({ id: z.string(), paused: z.literal(false) }),
  ),
  'operations.trigger': method(
    'Runs a saved operation now, even when paused or busy (subject to its overlap policy).',
    z.object({ id: operationIdSchema, params: z.record(z.string(), z.unknown()).optional() }).strict(),
    triggerOutcomeSchema,
  ),
  'operations.next': method(
    'The next fire times of one operation (or all), soonest first, and its event-driven triggers.',
    z
      .object({
        id: operationIdSchema.optional(),
        count: z.number().int().min(1).max(100).optional(),
        from: timeInputSchema.optional(),
      })
      .strict(),
    z.object({
      fires: z.array(upcomingFireSchema),
      eventTriggers: z.array(
        z.object({
          operationId: z.string(),
          triggerId: z.string(),
          kind: z.string(),
          description: z.string(),
          enabled: z.boolean(),
        }),
      ),
    }),
  ),

  'runs.list': method(
    'Runs from the run index, newest first, one page at a time (pass nextCursor back for more).',
    z
      .object({
        operationId: operationIdSchema.optional(),
        status: z.union([runStatusSchema, z.array(runStatusSchema).min(1).max(5)]).optional(),
        from: timeInputSchema.optional(),
        to: timeInputSchema.optional(),
        text: z.string().max(200).optional(),
        limit: limitSchema.optional(),
        cursor: cursorSchema.optional(),
      })
      .strict(),
    z.object({ runs: z.array(runRowSchema), nextCursor: z.string().optional() }),
  ),
  'runs.get': method(
    'One run: its index row and its manifest (the source of truth). Not found: error `not-found`.',
    byRun,
    z.object({ run: runRowSchema, manifest: manifestSchema }),
  ),
  'runs.cancel': method(
    'Cancels a run in progress on this node; `cancelled: false` when it is not running here.',
    z.object({ runId: runIdSchema, reason: z.string().max(500).optional() }).strict(),
    z.object({ runId: z.string(), cancelled: z.boolean() }),
  ),
  'runs.retry': method(
    'Runs the operation of a finished run again with the same params.',
    byRun,
    triggerOutcomeSchema,
  ),
  'runs.summarize': method(
    "Writes a finished run's summary again — with the LLM when one is configured (e.g. it was down when the run ended) — and returns it.",
    byRun,
    z.object({ runId: z.string(), summary: runSummarySchema }),
  ),

  'logs.read': method(
    "Reads a byte range of one task execution's log (UTF-8 text); follow live with task.log events. An execution without a log file (a success that printed nothing, or a running one that has not printed yet) reads as empty.",
    z
      .object({
        runId: runIdSchema,
        taskId: taskIdSchema,
        /** forEach index (0 for a task without forEach). */
        index: z.number().int().nonnegative().optional(),
        offset: z.number().int().nonnegative().optional(),
        /** Bytes to read: default 64 KiB, at most 1 MiB. */
        length: z
          .number()
          .int()
          .min(1)
          .max(1024 * 1024)
          .optional(),
      })
      .strict(),
    z.object({
      text: z.string(),
      offset: z.number().int(),
      /** Where the next read starts. */
      nextOffset: z.number().int(),
      /** The log's size now (it grows while the task runs). */
      size: z.number().int(),
      eof: z.boolean(),
      /** Whether the task is still running (more may come). */
      live: z.boolean(),
    }),
  ),

  'state.get': method(
    'Reads global or node state, whole or at a dotted path (`value` is absent when nothing is there).',
    z.object({ scope: stateScopeSchema, path: statePathSchema.optional() }).strict(),
    z.object({ scope: stateScopeSchema, path: z.string(), value: z.unknown() }),
  ),
  'state.set': method(
    'Sets (or with `op: merge` shallow-merges, or `op: delete` removes) the value at a dotted path.',
    z
      .object({
        scope: stateScopeSchema,
        path: statePathSchema.min(1),
        op: z.enum(['set', 'merge', 'delete']).optional(),
        value: z.unknown().optional(),
      })
      .strict(),
    z.object({ scope: stateScopeSchema, path: z.string(), op: z.enum(['set', 'merge', 'delete']) }),
  ),

  'data.collections': method(
    'Collections in the output data store and how many records each holds.',
    empty,
    z.object({ collections: z.array(z.object({ collection: z.string(), count: z.number().int() })) }),
  ),
  'data.query': method(
    'Records of one collection, newest first unless `order: asc`, filtered by where clauses (`data.temp > 20`).',
    z
      .object({
        collection: z.string().min(1).max(128),
        key: z.string().max(1024).optional(),
        operationId: operationIdSchema.optional(),
        runId: runIdSchema.optional(),
        from: timeInputSchema.optional(),
        to: timeInputSchema.optional(),
        where: z.array(z.string().min(1).max(500)).max(20).optional(),
        order: z.enum(['asc', 'desc']).optional(),
        limit: z.number().int().min(1).max(10_000).optional(),
        cursor: cursorSchema.optional(),
      })
      .strict(),
    z.object({ records: z.array(dataRecordSchema), nextCursor: z.string().optional() }),
  ),

  'files.list': method(
    'Files in the output file store, newest first; download each from its `download` path.',
    z
      .object({
        operationId: operationIdSchema.optional(),
        runId: runIdSchema.optional(),
        limit: limitSchema.optional(),
        cursor: cursorSchema.optional(),
      })
      .strict(),
    z.object({ files: z.array(storedFileSchema), nextCursor: z.string().optional() }),
  ),

  'notifications.list': method(
    'The notifications pane, newest first, with the unread count.',
    z
      .object({
        unread: z.boolean().optional(),
        operationId: operationIdSchema.optional(),
        limit: z.number().int().min(1).max(500).optional(),
        cursor: cursorSchema.optional(),
      })
      .strict(),
    z.object({
      items: z.array(notificationSchema),
      nextCursor: z.string().optional(),
      unread: z.number().int(),
    }),
  ),
  'notifications.markRead': method(
    'Marks notifications read (by id, or `all`); returns how many were unread.',
    z
      .object({ ids: z.union([z.array(z.number().int().positive()).min(1).max(1000), z.literal('all')]) })
      .strict(),
    z.object({ marked: z.number().int(), unread: z.number().int() }),
  ),

  'settings.get': method('The node settings document, with defaults filled in.', empty, settingsSchema),
  'settings.set': method(
    'Updates settings: each section given has the fields it names replaced. Returns the new document.',
    settingsPatchSchema,
    settingsSchema,
  ),

  'llm.models': method(
    'Models the configured LLM server offers; `configured: false` when no LLM is set up.',
    empty,
    z.discriminatedUnion('configured', [
      z.object({ configured: z.literal(false), message: z.string() }),
      z.object({
        configured: z.literal(true),
        provider: z.string(),
        endpoint: z.string(),
        defaultModel: z.string(),
        models: z.array(llmModelSchema),
        /** Set when the server did not answer; `models` is then empty. */
        error: z.string().optional(),
      }),
    ]),
  ),
} as const satisfies Record<string, MethodDef>;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
/** What a caller passes (defaults not yet applied). */
export type MethodInput<M extends MethodName> = z.input<Methods[M]['input']>;
/** What a handler receives (after parsing). */
export type MethodParsedInput<M extends MethodName> = z.output<Methods[M]['input']>;
export type MethodOutput<M extends MethodName> = z.output<Methods[M]['output']>;
export const methodNames = Object.keys(methods) as MethodName[];

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/** Every event the node pushes, by name, with its payload schema. */
export const events = {
  /** A run started on this node. */
  'run.started': z.object({
    runId: z.string(),
    operationId: z.string(),
    operationName: z.string().optional(),
    trigger: z.string(),
    startedAt: isoTimeSchema,
    parentRunId: z.string().optional(),
  }),
  /** A task of a run started, finished one execution (forEach item/attempt) or ended. */
  'run.progress': z.object({
    runId: z.string(),
    taskId: z.string(),
    phase: z.enum(['task-started', 'execution-ended', 'task-ended']),
    status: taskStatusSchema.optional(),
    index: z.number().int().optional(),
    done: z.number().int().optional(),
    total: z.number().int().optional(),
    items: z.number().int().optional(),
    durationMs: z.number().optional(),
    error: z.string().optional(),
  }),
  /** A run ended; fetch the full manifest with runs.get. */
  'run.ended': z.object({
    runId: z.string(),
    operationId: z.string(),
    status: runStatusSchema,
    startedAt: isoTimeSchema,
    endedAt: isoTimeSchema.optional(),
    durationMs: z.number().optional(),
    error: z.string().optional(),
    summaryTitle: z.string().optional(),
  }),
  /**
   * A run's summary was written again: by the LLM after the run ended (replacing the runner's),
   * or by runs.summarize. The manifest and the run index already hold it.
   */
  'run.summary': z.object({ runId: z.string(), operationId: z.string(), summary: runSummarySchema }),
  /**
   * Output of one task execution, sent only to connections subscribed to the run's logs.
   *
   * `offset` is the chunk's byte position in the log (as logs.read counts), so a client can
   * read what came before and stitch without gaps or repeats.
   */
  'task.log': z.object({
    runId: z.string(),
    taskId: z.string(),
    index: z.number().int(),
    offset: z.number().int(),
    text: z.string(),
  }),
  /** A value in global or node state changed. */
  'state.changed': z.object({
    scope: stateScopeSchema,
    path: z.string(),
    op: z.enum(['set', 'merge', 'delete']),
    value: z.unknown().optional(),
  }),
  /** A notification was added to the pane. */
  'notification.added': notificationSchema,
  /** A saved operation was added, changed or removed (by the API, the CLI or a hand edit). */
  'operations.changed': z.object({ id: z.string(), change: z.enum(['saved', 'removed']) }),
  /** The node's status changed (pause, runs started or ended, operations changed). */
  'node.status': nodeStatusSchema,
} as const satisfies Record<string, z.ZodType>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;
export const eventNames = Object.keys(events) as EventName[];

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(events, name);
}

/** One event as delivered: its name, payload and the node's sequence number. */
export type ApiEvent = { [E in EventName]: { seq: number; event: E; payload: EventPayload<E> } }[EventName];

// ---------------------------------------------------------------------------------------------
// Errors and the call envelope (same on every transport)
// ---------------------------------------------------------------------------------------------

export const errorCodeSchema = z.enum([
  'bad-request',
  'unauthorized',
  'forbidden',
  'not-found',
  'conflict',
  'payload-too-large',
  'too-many-requests',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** One input problem: a path such as `params.city` and what is wrong there. */
export const inputIssueSchema = z.object({ path: z.string(), message: z.string() });
export type InputIssue = z.infer<typeof inputIssueSchema>;

export const apiErrorSchema = z.object({
  code: errorCodeSchema,
  message: z.string(),
  issues: z.array(inputIssueSchema).optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/** The reply to every call: `{ok: true, result}` or `{ok: false, error}`. */
export const callReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: apiErrorSchema }),
]);
export type CallReply = z.infer<typeof callReplySchema>;

/** HTTP status for each error code. */
export const httpStatusForCode: Record<ErrorCode, number> = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'payload-too-large': 413,
  'too-many-requests': 429,
  unavailable: 503,
  internal: 500,
};

// ---------------------------------------------------------------------------------------------
// WebSocket protocol (`/api/events`)
// ---------------------------------------------------------------------------------------------

/**
 * What a connection wants pushed. `events` omitted: every event except task.log; `logs`: run ids
 * whose task.log events to send (`*` for all runs).
 */
export const subscriptionSchema = z
  .object({
    events: z.array(z.enum(Object.keys(events) as [EventName, ...EventName[]])).optional(),
    logs: z
      .array(z.union([runIdSchema, z.literal('*')]))
      .max(100)
      .optional(),
  })
  .strict();
export type Subscription = z.infer<typeof subscriptionSchema>;

/** Messages a client sends over the WebSocket. */
export const clientMessageSchema = z.discriminatedUnion('type', [
  /** First message, unless the token came in `Sec-WebSocket-Protocol`. */
  z.object({ type: z.literal('auth'), token: z.string().max(1000) }).strict(),
  /**
   * Sets what this connection receives. `since`: the last seq the client saw before it reconnected;
   * the server replays what it still holds after it and answers `resumed`.
   */
  z
    .object({
      type: z.literal('subscribe'),
      subscription: subscriptionSchema,
      since: z.number().int().nonnegative().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('call'),
      id: z.union([z.string().max(100), z.number().int()]),
      method: z.string().max(100),
      input: z.unknown().optional(),
    })
    .strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** Messages the server sends over the WebSocket. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  /** Sent once the connection is authenticated; `seq` is the latest event number so far. */
  z.object({ type: z.literal('ready'), nodeId: z.string(), seq: z.number().int() }),
  /**
   * Answer to a `subscribe` with `since`: `replayed` events followed it; `gap: true` means some
   * were too old to replay — re-fetch what you show (runs.list, runs.get).
   */
  z.object({
    type: z.literal('resumed'),
    since: z.number().int(),
    replayed: z.number().int(),
    gap: z.boolean(),
  }),
  z.object({
    type: z.literal('event'),
    seq: z.number().int(),
    event: z.string(),
    payload: z.unknown(),
  }),
  z.object({
    type: z.literal('reply'),
    id: z.union([z.string(), z.number()]),
    reply: callReplySchema,
  }),
  /**
   * The connection fell behind: `dropped` task.log events were not sent (read the logs with
   * logs.read from the offsets you have). Other events are never dropped; a client too slow even
   * for those is disconnected (code 4008) and should reconnect with `since`.
   */
  z.object({ type: z.literal('dropped'), events: z.number().int(), runIds: z.array(z.string()) }),
  z.object({ type: z.literal('error'), error: apiErrorSchema }),
  z.object({ type: z.literal('pong') }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;

/** WebSocket close codes the server uses. */
export const wsCloseCodes = {
  /** No or wrong token. */
  unauthorized: 4401,
  /** Origin not allowed. */
  forbidden: 4403,
  /** The client could not keep up. */
  tooSlow: 4008,
  /** A message that is not JSON or not in the protocol. */
  badMessage: 4400,
  /** The node is stopping. */
  goingAway: 1001,
} as const;

/** The subprotocol a browser offers with the token (`new WebSocket(url, ['ultravisor', 'token.<t>'])`). */
export const wsProtocol = 'ultravisor';
export const wsTokenProtocolPrefix = 'token.';

/** Paths of the HTTP transport. */
export const httpPaths = {
  call: (name: MethodName): string => `/api/${name}`,
  events: '/api/events',
  file: (id: number): string => `/files/${id}`,
} as const;
