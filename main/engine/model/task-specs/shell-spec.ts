import { z } from 'zod';

/**
 * Shells whose quoting the string form's escaping follows (POSIX sh and its close relatives).
 * Values templated into another language's code would not be escaped for it.
 */
const posixShells = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'busybox'];

/**
 * `shell:` — a command. A list is argv (no shell involved); a string runs through `/bin/sh -c`
 * with every templated value escaped for where it stands, so values can never inject shell syntax.
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
      shell: z
        .string()
        .refine((shell) => posixShells.includes(shell.split('/').pop() ?? ''), {
          message: `the string form escapes values for POSIX shells (${posixShells.join(', ')}); to run another interpreter, use the argv form, e.g. ['python3', '-c', '…'], and pass values as arguments`,
        })
        .optional()
        .describe('POSIX shell used for the string form: sh, bash, dash, zsh, ksh, … (default /bin/sh)'),
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
