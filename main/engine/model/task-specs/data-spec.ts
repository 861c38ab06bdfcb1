import { z } from 'zod';

/** `data:` — append or upsert records in a collection of the output data store. */
export const dataSpecSchema = z
  .object({
    collection: z.string().min(1).describe('collection name (templated): letters, digits, _, . and -'),
    record: z.unknown().optional().describe('one record (templated; a lone {{ expr }} keeps its type)'),
    records: z
      .union([z.string().min(1), z.array(z.unknown())])
      .optional()
      .describe(
        'a list of records: a template yielding a list, e.g. "{{ tasks.fetch.output.json.items }}", or a literal list',
      ),
    key: z
      .string()
      .min(1)
      .optional()
      .describe('key of `record` (templated); upsert replaces the record with this key'),
    keyField: z
      .string()
      .regex(
        /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/,
        'keyField is a dotted field path such as id or meta.id',
      )
      .optional()
      .describe('for `records`: the field of each record that holds its key, e.g. id'),
    mode: z
      .enum(['append', 'upsert'])
      .default('append')
      .describe('append adds records; upsert replaces by key'),
    index: z
      .array(z.string().min(1))
      .default([])
      .describe('JSON fields to index for fast queries, e.g. [city] (created once, kept)'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if ((spec.record === undefined) === (spec.records === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of record or records' });
    }
    if (spec.records !== undefined && spec.key !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'key goes with record; for records use keyField',
        path: ['key'],
      });
    }
    if (spec.record !== undefined && spec.keyField !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'keyField goes with records; for record use key',
        path: ['keyField'],
      });
    }
    if (spec.mode === 'upsert' && spec.key === undefined && spec.keyField === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'upsert needs key (with record) or keyField (with records)',
        path: ['mode'],
      });
    }
  });
export type DataSpec = z.output<typeof dataSpecSchema>;
