import { z } from 'zod';
import { durationSchema } from '../duration.js';

/** `http:` — one HTTP request. Retries on network errors and 5xx come from the task's `retry`. */
export const httpSpecSchema = z
  .object({
    url: z.string().min(1).describe('http or https URL (templated)'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}),
    query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    json: z.unknown().optional().describe('request body sent as JSON'),
    text: z.string().optional().describe('request body sent as text/plain'),
    form: z
      .record(z.string(), z.string())
      .optional()
      .describe('request body sent as application/x-www-form-urlencoded'),
    timeout: durationSchema.optional().describe('per-request timeout (default 30s)'),
    expectStatus: z
      .array(z.number().int().min(100).max(599))
      .min(1)
      .optional()
      .describe('statuses that count as success (default: any 2xx)'),
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe('bodies larger than this are saved to a file in staging instead of the output'),
    retry: z
      .object({
        attempts: z.number().int().min(1).max(100),
        backoff: durationSchema.optional(),
        strategy: z.enum(['fixed', 'exponential']).optional(),
      })
      .strict()
      .optional()
      .describe(
        'retries network errors, request timeouts and 5xx answers only (task-level retry retries any failure)',
      ),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const bodies = [spec.json, spec.text, spec.form].filter((b) => b !== undefined);
    if (bodies.length > 1) ctx.addIssue({ code: 'custom', message: 'use only one of json, text or form' });
  });
export type HttpSpec = z.output<typeof httpSpecSchema>;
