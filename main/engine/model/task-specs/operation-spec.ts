import { z } from 'zod';

/** `operation:` — run another operation as a child run and wait for it. */
export const operationSpecSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .optional()
      .describe('id of an operation saved on this node'),
    file: z.string().min(1).optional().describe('path to an operation file, relative to this file'),
    params: z.record(z.string(), z.unknown()).default({}).describe('params for the child (templated)'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if ((spec.id === undefined) === (spec.file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'name the child with exactly one of id or file' });
    }
  });
export type OperationSpec = z.output<typeof operationSpecSchema>;
