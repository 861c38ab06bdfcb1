import { estimateTokens } from './llm-provider.js';

/** One map request of {@link condense}. */
export interface CondenseStep {
  /** 1 for the parts of the material, 2 and up for summaries of summaries. */
  stage: number;
  /** 1-based. */
  index: number;
  count: number;
  /** Longest reply wanted, in tokens; keeps every stage shorter than the one before. */
  maxTokens: number;
}

export interface CondenseOptions {
  material: string;
  /** Tokens the condensed material may take (what is left of the final prompt's budget). */
  targetTokens: number;
  /** Tokens one map request may carry: its instruction plus one part. */
  budgetTokens: number;
  /** Tokens a map request's instruction takes without the part. */
  mapOverheadTokens: number;
  /** Longest reply a map request may give, in tokens. */
  maxReplyTokens: number;
  /** Summarises one part; called one part at a time, in order. */
  summarise(part: string, step: CondenseStep): Promise<string>;
  signal: AbortSignal;
  /** Gives up after this many stages (default 8). */
  maxStages?: number;
}

export interface CondenseResult {
  text: string;
  /** Parts the material was first split into (1 when it fit). */
  chunks: number;
  stages: number;
  calls: number;
}

/** Smallest part worth a request; below it the instruction dwarfs the material. */
export const minPartTokens = 128;

/**
 * Splits text into pieces of at most `maxChars`, preferring paragraph, then line, then word breaks
 * in the second half of each piece.
 */
export function splitText(text: string, maxChars: number): string[] {
  const size = Math.max(1, Math.floor(maxChars));
  const parts: string[] = [];
  let rest = text;
  while (rest.length > size) {
    const window = rest.slice(0, size);
    const floor = Math.floor(size / 2);
    let cut = -1;
    for (const sep of ['\n\n', '\n', ' ']) {
      const at = window.lastIndexOf(sep);
      if (at >= floor) {
        cut = at + sep.length;
        break;
      }
    }
    if (cut <= 0) cut = size;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

/**
 * Shrinks material until it fits `targetTokens`: split it into parts that fit one request,
 * summarise each part, join the summaries, and repeat on the joined text (map-reduce in stages).
 *
 * Each reply is capped well below its part's size, so every stage is shorter than the last;
 * a stage that does not shrink (a model ignoring the cap) stops with an error instead of looping.
 */
export async function condense(options: CondenseOptions): Promise<CondenseResult> {
  const maxStages = options.maxStages ?? 8;
  const partTokens = options.budgetTokens - options.mapOverheadTokens;
  let text = options.material;
  let chunks = 1;
  let stages = 0;
  let calls = 0;
  while (estimateTokens(text) > options.targetTokens) {
    if (partTokens < minPartTokens) {
      throw new Error(
        `the instructions take ${options.mapOverheadTokens} of the ${options.budgetTokens} tokens one request may carry, leaving no room for the material: shorten the prompt or raise contextTokens`,
      );
    }
    stages++;
    if (stages > maxStages) {
      throw new Error(`the material still does not fit after ${maxStages} stages of summaries`);
    }
    const parts = splitText(text, partTokens * 4);
    if (stages === 1) chunks = parts.length;
    const maxTokens = Math.max(32, Math.min(options.maxReplyTokens, Math.floor(partTokens / 4)));
    const summaries: string[] = [];
    for (const [i, part] of parts.entries()) {
      options.signal.throwIfAborted();
      const summary = await options.summarise(part, {
        stage: stages,
        index: i + 1,
        count: parts.length,
        maxTokens,
      });
      calls++;
      summaries.push(summary.trim());
    }
    const next = summaries.join('\n\n');
    if (next.length >= text.length) {
      throw new Error(
        `stage ${stages} of summaries did not make the material shorter (${text.length} → ${next.length} characters): the model ignores the reply length limit`,
      );
    }
    text = next;
  }
  return { text, chunks, stages, calls };
}
