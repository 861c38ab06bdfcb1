import { Cron } from 'croner';
import { z } from 'zod';
import { ExpressionError, parseExpression } from '../template/index.js';
import { durationSchema } from './duration.js';
import { keyedUnion } from './keyed-union.js';
import { sizeSchema } from './size.js';

/** What to do about fire times that passed while the node was down or asleep. */
export const missedPolicySchema = z.enum(['skip', 'once', 'all']);

function isTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const timezoneSchema = z.string().superRefine((tz, ctx) => {
  if (!isTimezone(tz)) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown timezone "${tz}": use an IANA name such as Europe/Oslo or UTC`,
    });
  }
});

const cronSchema = z.string().superRefine((expr, ctx) => {
  const fields = expr.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    ctx.addIssue({
      code: 'custom',
      message: `cron "${expr}" has ${fields} fields: use 5 (minute first) or 6 (second first)`,
    });
    return;
  }
  try {
    new Cron(expr, { paused: true });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron "${expr}": ${(err as Error).message}` });
  }
});

const positiveInterval = durationSchema.refine((ms) => ms >= 1000, {
  message: 'an interval must be at least 1s (the scheduler fires to the second)',
});

/** An expression checked for syntax when the operation is loaded, so a typo fails `ops add`, not the daemon. */
const expressionSchema = z
  .string()
  .min(1)
  .superRefine((src, ctx) => {
    try {
      parseExpression(src);
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      ctx.addIssue({ code: 'custom', message: `${err.message} in "${src}"` });
    }
  });

const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** A number a check compares against; a missing one says which field and unit to give. */
function thresholdSchema(field: string, unit: string) {
  return z.number({
    error: (issue) =>
      issue.input === undefined
        ? `missing threshold: give ${field} (${unit})`
        : `${field} must be a number (${unit})`,
  });
}

const checkNames = ['disk', 'cpu', 'memory', 'load', 'file', 'http', 'state', 'shell'] as const;

/** The checks a `condition` trigger can evaluate. */
export const conditionCheckSchema = z.discriminatedUnion(
  'check',
  [
    z
      .object({
        check: z.literal('disk'),
        path: z.string().min(1),
        below: z
          .union([z.string(), z.number()], {
            error: (issue) =>
              issue.input === undefined ? 'missing threshold: give below (free space, e.g. 5GB)' : undefined,
          })
          .pipe(sizeSchema),
      })
      .strict(),
    z.object({ check: z.literal('cpu'), above: thresholdSchema('above', 'percent busy, 0–100') }).strict(),
    z.object({ check: z.literal('memory'), above: thresholdSchema('above', 'percent used, 0–100') }).strict(),
    z.object({ check: z.literal('load'), above: thresholdSchema('above', '1-minute load average') }).strict(),
    z
      .object({
        check: z.literal('file'),
        path: z.string().min(1),
        state: z.enum(['exists', 'missing', 'changed']),
      })
      .strict(),
    z
      .object({
        check: z.literal('http'),
        url: z.string().min(1),
        status: z.number().int().optional().describe('true when the response has this status'),
        expect: expressionSchema
          .optional()
          .describe('expression over `response` (status, body), e.g. response.body.ok == true'),
        timeout: durationSchema.optional(),
      })
      .strict(),
    z
      .object({
        check: z.literal('state'),
        expect: expressionSchema.describe('expression over state.global / state.node'),
      })
      .strict(),
    z
      .object({
        check: z.literal('shell'),
        command: z.union([z.string().min(1), z.array(z.string()).min(1)]),
        exitCode: z.number().int().default(0),
        timeout: durationSchema.optional().describe('kill the command (and its children) after this long'),
      })
      .strict(),
  ],
  {
    error: (issue) =>
      typeof issue.input === 'object' && issue.input !== null && 'check' in issue.input
        ? `unknown check: use one of ${checkNames.join(', ')}`
        : `missing check: give one of ${checkNames.join(', ')}`,
  },
);

const common = {
  id: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional()
    .describe('names the trigger in manifests and `next`'),
  params: z.record(z.string(), z.unknown()).optional().describe('params this trigger passes to the run'),
  missed: missedPolicySchema.optional().describe('catch-up policy for missed fire times (default once)'),
  enabled: z.boolean().default(true),
};

/** The schema of each trigger kind, keyed by the field that names the kind. */
const triggerKinds = {
  schedule: z.object({ ...common, schedule: cronSchema, timezone: timezoneSchema.optional() }).strict(),
  every: z
    .object({ ...common, every: positiveInterval, offset: durationSchema.optional() })
    .strict()
    .superRefine((spec, ctx) => {
      if (spec.offset !== undefined && spec.offset >= spec.every) {
        ctx.addIssue({ code: 'custom', path: ['offset'], message: 'offset must be shorter than every' });
      }
    }),
  at: z
    .object({
      ...common,
      at: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/, 'use HH:MM or HH:MM:SS (24-hour)'),
      days: z.array(z.enum(dayNames)).min(1).optional(),
      timezone: timezoneSchema.optional(),
    })
    .strict(),
  condition: z
    .object({
      ...common,
      condition: conditionCheckSchema,
      every: positiveInterval.default(30_000),
      mode: z.enum(['edge', 'level']).default('edge'),
      cooldown: durationSchema.optional(),
    })
    .strict(),
  after: z
    .object({
      ...common,
      after: z
        .object({
          operation: z.string().regex(/^[a-z0-9-]+$/),
          task: z.string().optional(),
          status: z.enum(['success', 'failure', 'any']).default('success'),
        })
        .strict(),
    })
    .strict(),
  watch: z
    .object({
      ...common,
      watch: z
        .object({
          paths: z.array(z.string().min(1)).min(1),
          debounce: durationSchema.default(500),
          events: z.array(z.enum(['add', 'change', 'unlink'])).optional(),
        })
        .strict(),
    })
    .strict(),
};

/** A parsed trigger: its kind's fields plus `kind`, a discriminated union on `kind`. */
export type TriggerSpec = {
  [K in keyof typeof triggerKinds]: z.output<(typeof triggerKinds)[K]> & { kind: K };
}[keyof typeof triggerKinds];

/** One trigger: exactly one of schedule, every, at, condition, after, watch. */
export const triggerSpecSchema = keyedUnion('trigger', triggerKinds, {
  condition: ['every'],
}) as unknown as z.ZodType<TriggerSpec>;
export type ConditionCheck = z.output<typeof conditionCheckSchema>;
export type TriggerKind = TriggerSpec['kind'];
export type MissedPolicy = z.output<typeof missedPolicySchema>;

/**
 * The id of each trigger: its own `id`, else `<kind>-<n>` counting triggers of that kind from 1.
 *
 * Counting per kind keeps ids (and the cursors keyed by them) stable when a trigger of another
 * kind is added or removed.
 */
export function triggerIds(triggers: readonly Pick<TriggerSpec, 'kind' | 'id'>[]): string[] {
  const counts = new Map<string, number>();
  return triggers.map((trigger) => {
    const n = (counts.get(trigger.kind) ?? 0) + 1;
    counts.set(trigger.kind, n);
    return trigger.id ?? `${trigger.kind}-${n}`;
  });
}

/** An operation's triggers; two triggers may not share an id (cursors and manifests are keyed by it). */
export const triggerListSchema = z.array(triggerSpecSchema).superRefine((triggers, ctx) => {
  const seen = new Map<string, number>();
  triggerIds(triggers).forEach((id, index) => {
    const first = seen.get(id);
    if (first === undefined) {
      seen.set(id, index);
      return;
    }
    ctx.addIssue({
      code: 'custom',
      path: [index, 'id'],
      message: `trigger id "${id}" is also used by triggers[${first}]: give each trigger its own id`,
    });
  });
});
