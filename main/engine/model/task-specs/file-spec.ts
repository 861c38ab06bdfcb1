import { z } from 'zod';

const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/** `file:` — copy or move files into the run's folder of the output file store, or write one. */
export const fileSpecSchema = z
  .object({
    copy: globs
      .optional()
      .describe(
        'glob(s) of files to copy (templated); relative to the task cwd (the staging folder by default) or absolute',
      ),
    move: globs.optional().describe('like copy, but the sources are removed'),
    to: z.string().min(1).optional().describe('subfolder of the run’s store folder (templated)'),
    write: z
      .object({
        path: z.string().min(1).describe('file name inside the run’s store folder (templated)'),
        text: z.string().optional().describe('text content (templated)'),
        json: z.unknown().optional().describe('a value written as pretty JSON (templated)'),
      })
      .strict()
      .superRefine((write, ctx) => {
        if ((write.text === undefined) === (write.json === undefined)) {
          ctx.addIssue({ code: 'custom', message: 'write needs exactly one of text or json' });
        }
      })
      .optional(),
    allowEmpty: z.boolean().default(false).describe('succeed when the globs match no file (default: fail)'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const actions = [spec.copy, spec.move, spec.write].filter((a) => a !== undefined);
    if (actions.length !== 1)
      ctx.addIssue({ code: 'custom', message: 'use exactly one of copy, move or write' });
  });
export type FileSpec = z.output<typeof fileSpecSchema>;
