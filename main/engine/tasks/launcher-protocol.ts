// Messages between the engine and its process launcher (launcher-process.js), over the fork IPC channel.

/** Start one command. The launcher answers with `started` or `failed`, then `exited`. */
export interface LaunchRequest {
  type: 'launch';
  id: number;
  file: string;
  args: string[];
  cwd?: string;
  env: Record<string, string>;
  /** Written to the command's stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
  /**
   * The engine's output socket: stdout and stderr are connections to it, each announced by a
   * fixed-size first line (see {@link outputHeaderBytes}); without it they go to /dev/null.
   */
  output?: string;
}

/**
 * Size of the line that opens an output connection: the request id as 14 digits, a space, the fd
 * (1 or 2) and a newline, e.g. `00000000000042 1\n`. Fixed, so the engine reads exactly the header
 * and leaves the output that follows in the stream untouched.
 */
export const outputHeaderBytes = 17;

/**
 * What the launcher reports: `ready` once it listens (requests sent earlier would be lost while
 * its module loads), then about each request.
 */
export type LaunchReply =
  | { type: 'ready' }
  | { type: 'started'; id: number; pid: number }
  /** `stage: 'output'`: the output socket could not be reached (the command did not start). */
  | { type: 'failed'; id: number; code?: string; message: string; stage: 'output' | 'spawn' }
  | { type: 'exited'; id: number; code: number | null; signal: NodeJS.Signals | null };
