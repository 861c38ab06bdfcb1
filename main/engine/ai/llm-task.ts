import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { z } from 'zod';
import type { LlmOverride, LlmSpec } from '../model/task-specs/llm-spec.js';
import type { TaskLog } from '../runner/task-log.js';
import { TaskFailure, type TaskResult } from '../tasks/task-kind.js';
import { checkJsonReply, compileJsonSchema } from './json-reply.js';
import type { LlmHandle } from './llm-pool.js';
import { estimateTokens, LlmError, type LlmChatRequest, type LlmChatResult } from './llm-provider.js';
import { resolveLlmSettings, type LlmSettings } from './llm-settings.js';
import { condense } from './map-reduce.js';

/** Context window assumed when neither the settings nor the server say. */
export const fallbackContextTokens = 4096;

/**
 * What the `llm` kind uses of the runner's task context.
 *
 * A structural subset of `TaskRunContext<'llm'>`, so the kind compiles before `llm` joins the
 * task kind union and tests can drive it without a runner.
 */
export interface LlmTaskContext {
  task: { id: string };
  spec: LlmSpec;
  /** The operation's `llm` override, layered between the node's settings and the task's own. */
  operation?: { llm?: LlmOverride | undefined };
  signal: AbortSignal;
  renderString(template: string): string;
  cwd: string;
  log: Pick<TaskLog, 'write' | 'note'>;
  logger: Logger;
}

/** The `llm` task kind, shaped like `TaskKind<'llm'>`. */
export interface LlmTaskKind {
  readonly kind: 'llm';
  run(ctx: LlmTaskContext): Promise<TaskResult>;
}

export interface LlmTaskDeps {
  /** Providers and their queues; an `LlmPool`. */
  pool: { handle(settings: LlmSettings): LlmHandle };
  /** The node's settings, read per run so a settings change applies to the next task. */
  settings(): LlmSettings;
}

/** The task's output. */
export interface LlmTaskOutput {
  text?: string;
  json?: unknown;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** Parts the material was split into (1 when it fit the context). */
  chunks: number;
  /** Requests made, map-reduce and retry included. */
  calls: number;
  ms: number;
}

const condenseSystem =
  'You condense long material so a later step can complete a task with it. Keep every fact, number, name, date, path and error message the task may need; drop repetition and filler. Reply with the condensed text only.';

interface MaterialPiece {
  label: string;
  text: string;
}

function taskOverride(spec: LlmSpec, render: (t: string) => string): LlmOverride {
  const override: LlmOverride = { ...spec.llm };
  if (override.host !== undefined) override.host = render(override.host);
  if (override.baseUrl !== undefined) override.baseUrl = render(override.baseUrl);
  if (override.apiKey !== undefined) override.apiKey = render(override.apiKey);
  if (spec.provider !== undefined) override.provider = spec.provider;
  if (spec.model !== undefined) override.model = render(spec.model);
  return override;
}

async function readMaterialFiles(
  patterns: string[],
  ctx: LlmTaskContext,
  maxBytes: number,
): Promise<MaterialPiece[]> {
  const seen = new Set<string>();
  const pieces: MaterialPiece[] = [];
  let total = 0;
  for (const [i, raw] of patterns.entries()) {
    const pattern = ctx.renderString(raw);
    const where = `llm.files[${i}] (${pattern})`;
    let paths: string[];
    if (isDynamicPattern(pattern)) {
      paths = (
        await glob(pattern, { cwd: ctx.cwd, onlyFiles: true, absolute: true, signal: ctx.signal })
      ).sort();
      if (paths.length === 0) ctx.log.note(`${where} matched no files`);
    } else {
      paths = [resolve(ctx.cwd, pattern)];
    }
    for (const path of paths) {
      if (seen.has(path)) continue;
      seen.add(path);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (err) {
        throw new TaskFailure(`${where}: cannot read ${path}: ${(err as Error).message}`);
      }
      total += size;
      if (total > maxBytes) {
        throw new TaskFailure(
          `${where}: the files add up to more than maxFileBytes (${maxBytes} bytes): narrow the pattern or raise maxFileBytes`,
        );
      }
      const text = await readFile(path, { encoding: 'utf8', signal: ctx.signal });
      if (text.includes('\0')) {
        ctx.log.note(`skipped ${path}: binary file`);
        continue;
      }
      const shown = relative(ctx.cwd, path);
      pieces.push({ label: `file: ${shown.startsWith('..') || isAbsolute(shown) ? path : shown}`, text });
    }
  }
  return pieces;
}

function joinMaterial(pieces: MaterialPiece[]): string {
  return pieces.map((p) => `=== ${p.label} ===\n${p.text}`).join('\n\n');
}

function jsonInstruction(spec: LlmSpec): string {
  if (spec.format !== 'json') return '';
  return spec.schema === undefined
    ? '\n\nReply with only a JSON value, no other text.'
    : `\n\nReply with only JSON matching this JSON Schema, no other text:\n${JSON.stringify(spec.schema)}`;
}

function failure(err: unknown, ctx: LlmTaskContext): TaskFailure {
  if (err instanceof TaskFailure) return err;
  if (ctx.signal.aborted) {
    const reason: unknown = ctx.signal.reason;
    return new TaskFailure(`cancelled: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
  if (err instanceof LlmError) return new TaskFailure(err.message);
  return new TaskFailure(err instanceof Error ? err.message : String(err));
}

/**
 * Creates the `llm` task kind: prompt and system templates, material from `input` and `files`,
 * map-reduce for material larger than the context, JSON replies checked against a schema.
 */
export function createLlmTask(deps: LlmTaskDeps): LlmTaskKind {
  return {
    kind: 'llm',
    async run(ctx: LlmTaskContext): Promise<TaskResult> {
      const started = performance.now();
      try {
        return await runLlm(ctx, deps, started);
      } catch (err) {
        throw failure(err, ctx);
      }
    },
  };
}

async function runLlm(ctx: LlmTaskContext, deps: LlmTaskDeps, started: number): Promise<TaskResult> {
  const { spec } = ctx;
  const render = (t: string): string => ctx.renderString(t);
  const settings = resolveLlmSettings(deps.settings(), ctx.operation?.llm, taskOverride(spec, render));
  const { provider, queue } = deps.pool.handle(settings);
  const model = settings.model;
  const validator: z.ZodType | undefined =
    spec.schema === undefined ? undefined : compileJsonSchema(spec.schema);

  const prompt = render(spec.prompt);
  const system = spec.system === undefined ? undefined : render(spec.system);
  const pieces: MaterialPiece[] = [];
  if (spec.input !== undefined) {
    const input = render(spec.input);
    if (input !== '') pieces.push({ label: 'input', text: input });
  }
  if (spec.files !== undefined) {
    const patterns = Array.isArray(spec.files) ? spec.files : [spec.files];
    pieces.push(...(await readMaterialFiles(patterns, ctx, spec.maxFileBytes)));
  }
  const material = joinMaterial(pieces);

  const contextTokens =
    settings.contextTokens ?? (await provider.contextTokens(model, ctx.signal)) ?? fallbackContextTokens;
  const replyTokens = Math.min(1024, Math.floor(contextTokens / 4));
  const budgetTokens = Math.min(spec.maxInputTokens ?? Number.POSITIVE_INFINITY, contextTokens - replyTokens);
  const instruction = prompt + jsonInstruction(spec);
  const finalOverhead = estimateTokens((system ?? '') + instruction) + 16;
  if (finalOverhead > budgetTokens) {
    throw new TaskFailure(
      `the prompt and system take about ${finalOverhead} tokens, more than the ${budgetTokens} one request may carry (model context ${contextTokens}): move long material from the prompt into llm.input or llm.files, which are split to fit`,
    );
  }

  let promptTokens = 0;
  let completionTokens = 0;
  let calls = 0;
  const call = async (request: Omit<LlmChatRequest, 'signal' | 'onToken'>): Promise<LlmChatResult> => {
    const queued = await queue.enqueue({
      priority: 'foreground',
      signal: ctx.signal,
      label: ctx.task.id,
      run: (signal) =>
        provider.chat({
          ...request,
          signal,
          onToken: (token) => {
            ctx.log.write(token);
          },
        }),
    });
    ctx.log.write('\n');
    if (queued.dropped) throw new TaskFailure(`the LLM request was dropped (${queued.reason})`);
    calls++;
    promptTokens += queued.value.promptTokens;
    completionTokens += queued.value.completionTokens;
    return queued.value;
  };

  const mapOverhead = estimateTokens(condenseSystem + instruction) + 64;
  const condensed = await condense({
    material,
    targetTokens: budgetTokens - finalOverhead,
    budgetTokens,
    mapOverheadTokens: mapOverhead,
    maxReplyTokens: replyTokens,
    signal: ctx.signal,
    summarise: async (part, step) => {
      ctx.log.note(`condensing part ${step.index} of ${step.count} (stage ${step.stage}) with ${model}`);
      const result = await call({
        system: condenseSystem,
        prompt: `The final task is:\n<task>\n${instruction}\n</task>\n\nThis is part ${step.index} of ${step.count} of the material for it. Condense this part for the task.\n\n<part>\n${part}\n</part>`,
        model,
        maxTokens: step.maxTokens,
        ...(spec.temperature === undefined ? {} : { temperature: spec.temperature }),
      });
      return result.text;
    },
  });
  if (condensed.stages > 0) {
    ctx.log.note(
      `material condensed from ${condensed.chunks} parts in ${condensed.stages} stage(s), ${condensed.calls} requests`,
    );
  }

  let finalPrompt = instruction;
  if (condensed.text !== '') {
    const header =
      condensed.stages > 0
        ? `The material below was condensed from ${condensed.chunks} parts because the original is longer than the model's context.`
        : 'The material:';
    finalPrompt = `${instruction}\n\n${header}\n\n${condensed.text}`;
  }
  const finalRequest = {
    prompt: finalPrompt,
    model,
    ...(system === undefined ? {} : { system }),
    ...(spec.temperature === undefined ? {} : { temperature: spec.temperature }),
    ...(spec.format === 'json' ? { format: spec.schema ?? ('json' as const) } : {}),
  };
  ctx.log.note(`asking ${model} at ${provider.endpoint}`);
  let result = await call(finalRequest);
  const output: LlmTaskOutput = {
    model: result.model,
    promptTokens: 0,
    completionTokens: 0,
    chunks: condensed.chunks,
    calls: 0,
    ms: 0,
  };
  if (spec.format === 'json') {
    let reply = checkJsonReply(result.text, validator);
    if (!reply.ok) {
      ctx.log.note(`reply rejected, asking once more: ${reply.error}`);
      const retryPrompt = `${finalPrompt}\n\nYour previous reply was:\n${result.text.slice(0, 4000)}\n\nIt was rejected because ${reply.error}\nReply again with only the corrected JSON.`;
      result = await call({ ...finalRequest, prompt: retryPrompt });
      reply = checkJsonReply(result.text, validator);
    }
    if (!reply.ok) {
      throw new TaskFailure(`the model's JSON reply was rejected twice: ${reply.error}`, {
        output: { text: result.text, model: result.model, promptTokens, completionTokens, calls },
      });
    }
    output.json = reply.value;
  } else {
    output.text = result.text.trim();
  }
  output.model = result.model;
  output.promptTokens = promptTokens;
  output.completionTokens = completionTokens;
  output.calls = calls;
  output.ms = Math.round(performance.now() - started);
  ctx.logger.debug({ task: ctx.task.id, model: output.model, calls, ms: output.ms }, 'llm task done');
  return { output };
}
