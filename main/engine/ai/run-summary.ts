import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { formatDuration } from '../model/duration.js';
import type { Manifest, RunSummary, TaskRecord } from '../model/manifest.js';
import type { SummaryMode, SummaryPolicy } from '../model/task-specs/llm-spec.js';
import { checkJsonReply } from './json-reply.js';
import type { LlmHandle } from './llm-pool.js';
import { diffRuns, type RunDiff } from './run-diff.js';

/** Where a summary points: the run, its manifest and logs, the failing task's log, its files. */
export interface SummaryLinks {
  runId: string;
  operationId: string;
  /** The run folder (absolute). */
  run: string;
  manifest: string;
  logs: string;
  /** Log of the task the summary is mostly about (absolute). */
  log?: string;
  files?: string[];
}

/** A run summary as stored in the manifest's `summary`, with its links and, for a fallback, why. */
export type RunSummaryRecord = RunSummary & {
  links: SummaryLinks;
  /** Why the LLM summary was not used (down, timeout, superseded, bad reply). */
  fallbackReason?: string;
  promptTokens?: number;
  completionTokens?: number;
  /** Time the request waited in the provider's queue. */
  waitedMs?: number;
};

/** Reads the tail of a log file given its path relative to the run folder. */
export type ReadLogTail = (relPath: string) => Promise<string>;

const failedTaskStatuses = new Set(['failure', 'timeout']);

/** Lines of the failing task's log in a digest. */
export const digestLogLines = 20;
/** Longest digest handed to the model, in characters (about 2,000 tokens). */
export const digestMaxChars = 8000;

/**
 * Whether a finished run gets a summary under an operation's policy (default: failure and change).
 *
 * `failure` covers failed and interrupted runs (not ones a person cancelled); `change` covers a
 * first run and any run whose status or outputs differ from the previous run's.
 */
export function shouldSummarize(
  policy: SummaryPolicy | SummaryMode | undefined,
  manifest: Manifest,
  previous?: Manifest,
): boolean {
  const modes = policy === undefined ? ['failure', 'change'] : Array.isArray(policy) ? policy : [policy];
  if (manifest.status === 'running' || modes.includes('off')) return false;
  if (modes.includes('always')) return true;
  if (modes.includes('failure') && (manifest.status === 'failure' || manifest.status === 'interrupted'))
    return true;
  if (modes.includes('change')) return !diffRuns(manifest, previous).unchanged;
  return false;
}

function operationName(manifest: Manifest): string {
  return manifest.operation.name ?? manifest.operation.id;
}

function taskName(task: TaskRecord): string {
  return task.name ?? task.id;
}

function firstLine(text: string, max = 200): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line.trim();
}

function failingTasks(manifest: Manifest): TaskRecord[] {
  return manifest.tasks.filter((t) => failedTaskStatuses.has(t.status));
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// eslint-disable-next-line no-control-regex -- stripping terminal escapes is the point.
const ansiPattern = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-_]|[\u0000-\u0008\u000b-\u001f\u007f]/g;

/** The last `count` non-empty lines of a log, without terminal escapes, each cut to 240 characters. */
export function tailLines(text: string, count: number): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(ansiPattern, '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-count)
    .map((l) => truncate(l, 240));
}

function describeTask(task: TaskRecord): string {
  const parts = [`- ${taskName(task)} [${task.kind}]: ${task.status}`];
  if (task.attempts > 1) parts.push(`after ${task.attempts} attempts`);
  if (task.durationMs !== undefined) parts.push(`in ${formatDuration(task.durationMs)}`);
  if (task.items !== undefined) parts.push(`(${task.items} items)`);
  let line = parts.join(' ');
  if (task.exitCode !== undefined && task.exitCode !== 0) line += `, exit code ${task.exitCode}`;
  if (task.error !== undefined) line += `: ${firstLine(task.error)}`;
  if (task.skipReason !== undefined) line += ` (${firstLine(task.skipReason)})`;
  return line;
}

function describeDiff(diff: RunDiff): string[] {
  if (diff.first) return ['This is the first run of the operation.'];
  if (diff.unchanged) return ['Nothing changed since the previous run: same status and outputs.'];
  const lines: string[] = [];
  if (diff.status) lines.push(`- run status: ${diff.status.from} → ${diff.status.to}`);
  for (const t of diff.tasks.slice(0, 10)) {
    if (t.to === undefined) lines.push(`- ${t.id}: no longer in the operation`);
    else if (t.from === undefined) lines.push(`- ${t.id}: new task (${t.to})`);
    else if (t.statusChanged)
      lines.push(`- ${t.id}: ${t.from} → ${t.to}${t.outputChanged ? ', output changed' : ''}`);
    else lines.push(`- ${t.id}: output changed`);
  }
  if (diff.tasks.length > 10) lines.push(`- …and ${diff.tasks.length - 10} more tasks`);
  if (diff.filesChanged) lines.push('- output files changed');
  if (diff.dataChanged) lines.push('- data records changed');
  return lines;
}

/**
 * A compact, plain-text account of a run for the model: status, durations, the failing task with
 * its exit code, error and last log lines, outputs (cut short), and what differs from the
 * previous run. Bounded to {@link digestMaxChars} so it fits a small model's context.
 */
export async function buildDigest(
  manifest: Manifest,
  previous: Manifest | undefined,
  readLogTail: ReadLogTail,
): Promise<string> {
  const lines: string[] = [];
  const duration = manifest.durationMs === undefined ? '' : ` after ${formatDuration(manifest.durationMs)}`;
  lines.push(`Operation: ${operationName(manifest)} (${manifest.operation.id})`);
  lines.push(
    `Run ${manifest.runId}: ${manifest.status.toUpperCase()}${duration} (trigger: ${manifest.trigger.kind})`,
  );
  if (manifest.error !== undefined) lines.push(`Run error: ${firstLine(manifest.error, 400)}`);
  if (previous !== undefined) {
    const prevDuration =
      previous.durationMs === undefined ? '' : ` after ${formatDuration(previous.durationMs)}`;
    lines.push(`Previous run ${previous.runId}: ${previous.status}${prevDuration}`);
  }
  const params = Object.entries(manifest.params);
  if (params.length > 0) lines.push(`Params: ${truncate(JSON.stringify(manifest.params), 300)}`);

  lines.push('', `Tasks (${manifest.tasks.length}):`);
  for (const task of manifest.tasks.slice(0, 30)) lines.push(describeTask(task));
  if (manifest.tasks.length > 30) lines.push(`- …and ${manifest.tasks.length - 30} more`);

  const failing = failingTasks(manifest);
  const lastWithLog = [...manifest.tasks]
    .reverse()
    .find((t) => t.log !== undefined && t.status === 'success');
  const logged: { task: TaskRecord; count: number }[] =
    failing.length > 0
      ? failing.slice(0, 2).map((task) => ({ task, count: digestLogLines }))
      : lastWithLog === undefined
        ? []
        : [{ task: lastWithLog, count: 8 }];
  for (const { task, count } of logged) {
    if (task.log === undefined) continue;
    let tail: string[];
    try {
      tail = tailLines(await readLogTail(task.log), count);
    } catch (err) {
      tail = [`(log unavailable: ${(err as Error).message})`];
    }
    lines.push('', `Last lines of the log of ${taskName(task)}:`);
    lines.push(...(tail.length === 0 ? ['(empty)'] : tail.map((l) => `  | ${l}`)));
  }

  const outputs = manifest.tasks.filter((t) => t.output !== undefined && t.output !== null);
  if (outputs.length > 0) {
    lines.push('', 'Outputs:');
    for (const task of outputs.slice(0, 10)) {
      lines.push(`- ${taskName(task)}: ${truncate(JSON.stringify(task.output), 300)}`);
    }
  }
  const files = manifest.outputs.files;
  if (files.length > 0) {
    const shown = files.slice(0, 5).map((f) => `${f.path} (${f.size} bytes)`);
    lines.push(`Output files: ${files.length}: ${shown.join(', ')}${files.length > 5 ? ', …' : ''}`);
  }
  if (manifest.outputs.data.length > 0) lines.push(`Data records written: ${manifest.outputs.data.length}`);

  lines.push('', 'Since the previous run:', ...describeDiff(diffRuns(manifest, previous)));
  const digest = lines.join('\n');
  return digest.length > digestMaxChars
    ? `${digest.slice(0, digestMaxChars - 22)}\n…(digest truncated)`
    : digest;
}

/** Links for a run's summary and notification. */
export function summaryLinks(manifest: Manifest): SummaryLinks {
  const failing = failingTasks(manifest)[0];
  const files = manifest.outputs.files.slice(0, 20).map((f) => f.path);
  return {
    runId: manifest.runId,
    operationId: manifest.operation.id,
    run: manifest.links.run,
    manifest: manifest.links.manifest,
    logs: manifest.links.logs,
    ...(failing?.log === undefined ? {} : { log: join(manifest.links.run, failing.log) }),
    ...(files.length > 0 ? { files } : {}),
  };
}

/** A plain summary made from the manifest alone, for when no model answers. Deterministic. */
export function fallbackSummary(
  manifest: Manifest,
  options: { previous?: Manifest; reason?: string; ms?: number } = {},
): RunSummaryRecord {
  const name = operationName(manifest);
  const total = manifest.tasks.length;
  const ok = manifest.tasks.filter((t) => t.status === 'success').length;
  const skipped = manifest.tasks.filter((t) => t.status === 'skipped').length;
  const took = manifest.durationMs === undefined ? '' : ` in ${formatDuration(manifest.durationMs)}`;
  const failing = failingTasks(manifest)[0];
  let title: string;
  const sentences: string[] = [];
  switch (manifest.status) {
    case 'success':
      title = `${name} succeeded`;
      sentences.push(
        `${ok === total ? `All ${total}` : `${ok} of ${total}`} task${total === 1 ? '' : 's'} succeeded${took}${skipped > 0 ? ` (${skipped} skipped)` : ''}.`,
      );
      break;
    case 'failure':
      title = failing === undefined ? `${name} failed` : `${name} failed at ${taskName(failing)}`;
      if (failing !== undefined) {
        const exit = failing.exitCode === undefined ? '' : ` with exit code ${failing.exitCode}`;
        const attempts = failing.attempts > 1 ? ` after ${failing.attempts} attempts` : '';
        const error = failing.error === undefined ? '' : `: ${firstLine(failing.error)}`;
        sentences.push(
          `Task ${taskName(failing)} ${failing.status === 'timeout' ? 'timed out' : 'failed'}${exit}${attempts}${error}.`,
        );
      } else if (manifest.error !== undefined) {
        sentences.push(`${firstLine(manifest.error)}.`);
      }
      sentences.push(`${ok} of ${total} task${total === 1 ? '' : 's'} succeeded${took}.`);
      break;
    case 'cancelled':
      title = `${name} was cancelled`;
      sentences.push(`The run was cancelled${took}; ${ok} of ${total} tasks had succeeded.`);
      break;
    case 'interrupted':
      title = `${name} was interrupted`;
      sentences.push(
        `The run was interrupted${took}, e.g. by a restart; ${ok} of ${total} tasks had succeeded.`,
      );
      break;
    case 'running':
      title = `${name} is running`;
      sentences.push(`${ok} of ${total} tasks have succeeded so far.`);
      break;
  }
  const produced: string[] = [];
  if (manifest.outputs.files.length > 0) produced.push(`${manifest.outputs.files.length} files`);
  if (manifest.outputs.data.length > 0) produced.push(`${manifest.outputs.data.length} data records`);
  if (produced.length > 0) sentences.push(`It produced ${produced.join(' and ')}.`);
  if (options.previous !== undefined) {
    const diff = diffRuns(manifest, options.previous);
    if (diff.unchanged) sentences.push('Nothing changed since the previous run.');
    else if (diff.status) sentences.push(`The previous run ended ${diff.status.from}.`);
  }
  return {
    title,
    text: sentences.join(' '),
    source: 'fallback',
    links: summaryLinks(manifest),
    ...(options.reason === undefined ? {} : { fallbackReason: options.reason }),
    ...(options.ms === undefined ? {} : { ms: options.ms }),
  };
}

/** The reply the model must give. */
export const llmSummaryReplySchema = z.object({
  title: z.string().trim().min(1).max(120),
  text: z.string().trim().min(1).max(1200),
});

const replyJsonSchema = {
  type: 'object',
  properties: { title: { type: 'string' }, text: { type: 'string' } },
  required: ['title', 'text'],
};

/** The system prompt for run summaries. */
export const summarySystemPrompt = [
  'You write notifications about automated jobs for the person who owns them.',
  'Given a digest of one run, reply with JSON only: {"title": "...", "text": "..."}.',
  'title: at most 8 words saying what happened, e.g. "Nightly backup failed at upload".',
  'text: two or three friendly, plain sentences: what happened, the likely cause from the log when something failed, and what changed since the previous run if anything did.',
  'No Markdown, no greetings, and nothing that is not in the digest.',
].join('\n');

export interface SummarizeRunOptions {
  manifest: Manifest;
  previous?: Manifest;
  readLogTail: ReadLogTail;
  /** The provider and its queue (from `LlmPool.handle`). */
  llm: LlmHandle;
  /** Model name; the provider's default when left out. */
  model?: string;
  /** Bounds the whole attempt, queue wait included; the provider's timeout bounds the request. */
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Asks the model for a title and two or three sentences about a finished run.
 *
 * Never throws and never hangs past the provider's timeout once the request starts: any failure
 * (server down, timeout, HTTP error, bad JSON, a reply off the schema, a newer run of the same
 * operation superseding this one in the queue) gives {@link fallbackSummary} with the reason.
 */
export async function summarizeRun(options: SummarizeRunOptions): Promise<RunSummaryRecord> {
  const { manifest, previous, llm, logger } = options;
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const fallback = (reason: string): RunSummaryRecord => {
    logger?.info({ runId: manifest.runId, reason }, 'run summary: using the fallback');
    return fallbackSummary(manifest, {
      ...(previous === undefined ? {} : { previous }),
      reason,
      ms: elapsed(),
    });
  };
  try {
    const digest = await buildDigest(manifest, previous, options.readLogTail);
    const queued = await llm.queue.enqueue({
      priority: 'background',
      coalesceKey: manifest.operation.id,
      label: manifest.runId,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      run: (signal) =>
        llm.provider.chat({
          system: summarySystemPrompt,
          prompt: digest,
          format: replyJsonSchema,
          temperature: 0.2,
          maxTokens: 400,
          signal,
          ...(options.model === undefined ? {} : { model: options.model }),
        }),
    });
    if (queued.dropped) {
      const why =
        queued.reason === 'superseded'
          ? `superseded by run ${queued.supersededBy ?? 'a newer run'} of the same operation`
          : queued.reason === 'queue-full'
            ? 'dropped: too many summaries waiting for the model'
            : `dropped (${queued.reason})`;
      return fallback(why);
    }
    const result = queued.value;
    const reply = checkJsonReply(result.text, llmSummaryReplySchema);
    if (!reply.ok) return fallback(`the model's reply was rejected: ${reply.error}`);
    const parsed = llmSummaryReplySchema.parse(reply.value);
    return {
      title: parsed.title,
      text: parsed.text,
      source: 'llm',
      model: result.model,
      ms: result.ms,
      links: summaryLinks(manifest),
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
      waitedMs: queued.waitedMs,
    };
  } catch (err) {
    return fallback(err instanceof Error ? err.message : String(err));
  }
}
