import { z } from 'zod';

/** `state:` — set, merge or delete a value at a dotted path in global or node state. */
export const stateSpecSchema = z
  .object({
    scope: z.enum(['global', 'node']).default('global'),
    set: z.string().min(1).optional().describe('dotted path to set to `value`'),
    merge: z.string().min(1).optional().describe('dotted path whose object is shallow-merged with `value`'),
    delete: z.string().min(1).optional().describe('dotted path to delete'),
    value: z.unknown().optional().describe('the value (templated; a lone {{ expr }} keeps its type)'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const actions = [spec.set, spec.merge, spec.delete].filter((a) => a !== undefined);
    if (actions.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'use exactly one of set, merge or delete' });
    }
    if ((spec.set !== undefined || spec.merge !== undefined) && spec.value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'set and merge need a value', path: ['value'] });
    }
  });
export type StateSpec = z.output<typeof stateSpecSchema>;
