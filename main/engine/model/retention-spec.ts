import { z } from 'zod';
import { durationSchema } from './duration.js';
import { sizeSchema } from './size.js';

/**
 * An operation's `retention:` — how much of its history the node keeps.
 *
 * Any field left out falls back to the node-wide default; a run in progress is never removed.
 */
export const retentionSchema = z
  .object({
    keepRuns: z.number().int().min(1).optional().describe('keep at most this many finished runs'),
    maxAge: durationSchema
      .optional()
      .describe('remove finished runs that started longer ago than this, e.g. 30d'),
    maxSize: sizeSchema
      .optional()
      .describe(
        'total size of the finished runs (folders, logs, output files); oldest go first, the newest stays',
      ),
    maxLogSize: sizeSchema
      .optional()
      .describe('cap per task log; a longer log keeps its head and tail with a marker between'),
  })
  .strict();
export type RetentionPolicy = z.output<typeof retentionSchema>;

/** Node-wide retention: defaults for every operation, a budget for all runs together, and how often to prune. */
export const nodeRetentionSchema = retentionSchema
  .extend({
    maxTotalSize: sizeSchema
      .optional()
      .describe('total size of every finished run on this node; the oldest go first'),
    interval: durationSchema.default(600_000).describe('how often background pruning runs'),
  })
  .strict();
export type NodeRetention = z.output<typeof nodeRetentionSchema>;

/** The log cap when neither the operation nor the node sets one: big enough for any sane task. */
export const defaultMaxLogSize = 64 * 1024 * 1024;

/** The cap for one task log: the operation's `maxLogSize`, else the node's, else {@link defaultMaxLogSize}. */
export function logCapFor(operation?: RetentionPolicy, node?: RetentionPolicy): number {
  return operation?.maxLogSize ?? node?.maxLogSize ?? defaultMaxLogSize;
}

/** An operation's policy with the node's defaults filling the fields it leaves out. */
export function effectiveRetention(operation?: RetentionPolicy, node?: RetentionPolicy): RetentionPolicy {
  const pick = <K extends keyof RetentionPolicy>(key: K) => operation?.[key] ?? node?.[key];
  const keepRuns = pick('keepRuns');
  const maxAge = pick('maxAge');
  const maxSize = pick('maxSize');
  const maxLogSize = pick('maxLogSize');
  return {
    ...(keepRuns === undefined ? {} : { keepRuns }),
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(maxSize === undefined ? {} : { maxSize }),
    ...(maxLogSize === undefined ? {} : { maxLogSize }),
  };
}
