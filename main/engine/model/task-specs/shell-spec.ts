import { z } from 'zod';

/**
 * `shell:` — a command. A list is argv (no shell involved); a string runs through `/bin/sh -c`
 * with every templated value single-quoted, so values can never inject shell syntax.
 */
const shellSpecInputSchema = z.union([
  z.string().min(1),
  z.array(z.string()).min(1),
  z
    .object({
      command: z.union([z.string().min(1), z.array(z.string()).min(1)]).describe('argv list or shell string'),
      stdin: z.string().optional().describe('text written to the command’s standard input (templated)'),
      exitCodes: z
        .array(z.number().int())
        .min(1)
        .optional()
        .describe('exit codes that count as success (default [0])'),
      shell: z.string().optional().describe('shell used for the string form (default /bin/sh)'),
    })
    .strict(),
]);
export type ShellSpecInput = z.infer<typeof shellSpecInputSchema>;

/** The shell spec after normalising the three accepted forms. */
export interface ShellSpec {
  command: string | string[];
  stdin?: string;
  exitCodes: number[];
  shell: string;
}

export function normaliseShellSpec(input: ShellSpecInput): ShellSpec {
  if (typeof input === 'string' || Array.isArray(input))
    return { command: input, exitCodes: [0], shell: '/bin/sh' };
  return {
    command: input.command,
    ...(input.stdin === undefined ? {} : { stdin: input.stdin }),
    exitCodes: input.exitCodes ?? [0],
    shell: input.shell ?? '/bin/sh',
  };
}

/** `shell:` in any of its forms, normalised to a {@link ShellSpec}. */
export const shellSpecSchema = shellSpecInputSchema.transform(normaliseShellSpec);
