import { z } from 'zod';
import { durationSchema } from '../duration.js';

/** The LLM back ends Ultravisor talks to. */
export const llmProviderNameSchema = z
  .enum(['ollama', 'openai'])
  .describe('ollama (the Ollama API) or openai (any OpenAI-compatible server: llama.cpp, LM Studio, vLLM)');
export type LlmProviderName = z.infer<typeof llmProviderNameSchema>;

/**
 * Which model and server to use, overriding the node's `llm` settings for one operation or task.
 *
 * Queue limits (concurrency, maxQueue) are node-wide and cannot be overridden: the queue is what
 * keeps many operations from piling calls onto one model.
 */
export const llmOverrideSchema = z
  .object({
    provider: llmProviderNameSchema.optional(),
    host: z.string().min(1).optional().describe('Ollama host, e.g. http://127.0.0.1:11434 or nas:11434'),
    baseUrl: z
      .string()
      .min(1)
      .optional()
      .describe('OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1'),
    apiKey: z.string().optional().describe('bearer token for OpenAI-compatible servers (templated in tasks)'),
    model: z.string().min(1).optional(),
    timeout: durationSchema.optional().describe('per request, e.g. 60s'),
    contextTokens: z
      .number()
      .int()
      .min(256)
      .optional()
      .describe('the model’s context window in tokens (default: asked from the server, capped at 8192)'),
  })
  .strict();
export type LlmOverride = z.output<typeof llmOverrideSchema>;

/** When an operation's runs get an LLM summary. */
export const summaryModeSchema = z.enum(['off', 'failure', 'always', 'change']);
export type SummaryMode = z.infer<typeof summaryModeSchema>;

/**
 * `summary:` on an operation: one mode or a list of modes (default: failure and change).
 *
 * A list is the union: `[failure, change]` summarises failed runs and runs whose outcome differs
 * from the previous run.
 */
export const summaryPolicySchema = z
  .union([summaryModeSchema, z.array(summaryModeSchema).min(1)])
  .default(['failure', 'change'])
  .transform((value): SummaryMode[] => (Array.isArray(value) ? [...new Set(value)] : [value]));
export type SummaryPolicy = z.output<typeof summaryPolicySchema>;

const llmSpecInputSchema = z
  .object({
    prompt: z.string().min(1).describe('the instruction (templated); never split'),
    system: z.string().optional().describe('system prompt (templated)'),
    input: z
      .string()
      .optional()
      .describe(
        'material the prompt works on (templated), e.g. "{{ tasks.fetch.output.body }}"; split when too long',
      ),
    files: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe(
        'paths or glob patterns (templated, relative to the task cwd) whose contents feed the prompt',
      ),
    format: z
      .enum(['text', 'json'])
      .optional()
      .describe('reply format (default text, or json when schema is set)'),
    schema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('JSON Schema the JSON reply must match; a mismatch is retried once with the error'),
    model: z.string().min(1).optional().describe('model name (default: the node or operation setting)'),
    provider: llmProviderNameSchema.optional(),
    llm: llmOverrideSchema
      .optional()
      .describe('server settings for this task only (host, baseUrl, apiKey, ...)'),
    temperature: z.number().min(0).max(2).optional(),
    maxInputTokens: z
      .number()
      .int()
      .min(256)
      .optional()
      .describe('largest input sent in one request (default: the model context minus room for the reply)'),
    maxFileBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024)
      .describe('total bytes read from files; more fails the task'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.schema !== undefined && spec.format === 'text') {
      ctx.addIssue({
        code: 'custom',
        message: 'schema needs format: json (or leave format out)',
        path: ['schema'],
      });
    }
    if (spec.schema !== undefined) {
      try {
        z.fromJSONSchema(spec.schema);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `schema is not a JSON Schema Ultravisor can check: ${(err as Error).message}`,
          path: ['schema'],
        });
      }
    }
  });

/** The llm spec after normalising: `format` is always set. */
export type LlmSpec = Omit<z.output<typeof llmSpecInputSchema>, 'format'> & { format: 'text' | 'json' };

/**
 * `llm:` — one prompt to a local model, with the reply as the task's output.
 *
 * Material too large for the model's context (from `input` and `files`) is summarised in stages
 * (map-reduce) before the final prompt; the prompt itself is never split.
 */
export const llmSpecSchema = llmSpecInputSchema.transform((spec): LlmSpec => ({
  ...spec,
  format: spec.format ?? (spec.schema === undefined ? 'text' : 'json'),
}));
