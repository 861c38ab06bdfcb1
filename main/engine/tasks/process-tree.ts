import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** How a process exited. */
export interface LeaderExit {
  /** The exit code; null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
}

/**
 * A running process that leads its own process group (its pid is the group id), as
 * `launch` (launcher.ts) starts commands. `exited` rejects when its exit can no longer be known.
 */
export interface Leader {
  readonly pid: number;
  readonly exited: Promise<LeaderExit>;
}

/**
 * Sends a signal to every process in a group; false when no such group exists.
 *
 * Never throws for a group that is gone (ESRCH) or partly owned by another user (EPERM), so a
 * process exiting at the wrong moment cannot crash the engine.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  assertSafeGroup(pgid);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Whether any live process remains in a group.
 *
 * Zombies do not count: an orphan that exited waits for init to reap it, and an init that reaps
 * slowly (common in containers) would otherwise make a dead tree look alive. On Linux the members
 * are read from /proc; elsewhere `kill(-pgid, 0)` is the best available answer.
 */
export async function isGroupAlive(pgid: number): Promise<boolean> {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== 'linux') return true;
  try {
    return (await liveGroupMembers(pgid)).length > 0;
  } catch {
    return true; // /proc unreadable: trust kill(), which says the group exists.
  }
}

/** How many /proc entries are read at once, well below any file descriptor limit. */
const procBatch = 64;

/**
 * Pids of the live (non-zombie) processes in a group, from /proc. Linux only.
 *
 * Throws when a process's state cannot be read for a reason other than it having exited, rather
 * than guessing that it is gone.
 */
export async function liveGroupMembers(pgid: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const members: number[] = [];
  for (let i = 0; i < pids.length; i += procBatch) {
    const batch = pids.slice(i, i + procBatch);
    const live = await Promise.all(batch.map((pid) => isLiveMember(pid, pgid)));
    members.push(...batch.filter((_, j) => live[j]));
  }
  return members;
}

async function isLiveMember(pid: number, pgid: number): Promise<boolean> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ESRCH') return false; // Exited between readdir and read.
    throw err;
  }
  // Fields after the parenthesised command name (which may itself hold spaces or parentheses).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, , pgrp] = fields;
  return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
}

/** How {@link killTree} ended. */
export type KillOutcome =
  /** No live process was left to signal. */
  | 'gone'
  /** Every process exited within the grace period after SIGTERM. */
  | 'terminated'
  /** Some ignored SIGTERM and were killed with SIGKILL. */
  | 'killed'
  /** Processes survived SIGKILL (uninterruptible sleep); they were left behind. */
  | 'stuck';

export interface KillTreeOptions {
  /** How long to wait for the group to vanish after SIGKILL before reporting `stuck`. */
  killWaitMs?: number;
}

/**
 * Stops a whole process group: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone.
 *
 * SIGCONT follows SIGTERM so stopped processes (Ctrl-Z, SIGSTOP) wake up and can act on it.
 */
export async function killTree(
  pgid: number,
  graceMs: number,
  options: KillTreeOptions = {},
): Promise<KillOutcome> {
  if (!(await isGroupAlive(pgid))) return 'gone';
  signalGroup(pgid, 'SIGTERM');
  signalGroup(pgid, 'SIGCONT');
  if (await waitForGroupExit(pgid, graceMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  if (await waitForGroupExit(pgid, options.killWaitMs ?? 5000)) return 'killed';
  return 'stuck';
}

/**
 * Resolves true once no live process is left in the group, false after `timeoutMs`.
 *
 * Polls, because the kernel reports the exit of a grandchild only to its parent; the interval
 * grows from a few milliseconds so short-lived trees are noticed quickly without spinning on long ones.
 */
export async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let interval = 5;
  for (;;) {
    if (!(await isGroupAlive(pgid))) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await delay(Math.min(interval, left));
    interval = Math.min(interval * 2, 100);
  }
}

/** How a supervised group ended. */
export interface GroupExit extends LeaderExit {
  /** True when the abort signal fired before the group was gone, so the group was stopped for it. */
  aborted: boolean;
  /** How the group was stopped, when it had to be (abort, or processes left after the leader exited). */
  stop?: KillOutcome;
}

export interface SuperviseOptions {
  /** Aborting stops the whole group (SIGTERM, then SIGKILL after `graceMs`). */
  signal?: AbortSignal;
  graceMs: number;
  /** Called when the leader exited but other processes of its group still run; they are stopped next. */
  onLeftovers?: () => void;
}

/**
 * Waits until a group leader has exited and no process of its group is left.
 *
 * Processes still running after the leader exited (a backgrounded `sleep &`, a daemon that did not
 * detach) are stopped like on abort: they belong to the task, and they would otherwise hold its
 * output pipes open forever.
 */
export async function superviseGroup(leader: Leader, options: SuperviseOptions): Promise<GroupExit> {
  const { signal, graceMs } = options;
  let stopping: Promise<KillOutcome> | undefined;
  let settleStop: ((outcome: Promise<KillOutcome>) => void) | undefined;
  const stopped = new Promise<KillOutcome>((resolve) => (settleStop = resolve));
  let aborted = false;
  let lost: Error | undefined;
  const stop = (): void => {
    if (stopping !== undefined) return;
    stopping = killTree(leader.pid, graceMs);
    settleStop?.(stopping);
  };
  // The exit can no longer be known (the launcher died): stop the group, then report why.
  const exited = leader.exited.catch((err: unknown): LeaderExit => {
    lost = err instanceof Error ? err : new Error(String(err));
    stop();
    return { code: null, signal: null };
  });
  const onAbort = (): void => {
    aborted = true;
    stop();
  };
  if (signal?.aborted === true) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // A leader in uninterruptible sleep can survive SIGKILL; waiting for its exit would hang forever.
    const exit = await Promise.race([
      exited,
      stopped.then((outcome) => (outcome === 'stuck' ? { code: null, signal: null } : exited)),
    ]);
    if (stopping === undefined && (await isGroupAlive(leader.pid))) {
      options.onLeftovers?.();
      stop();
    }
    const outcome = stopping === undefined ? undefined : await stopping;
    if (lost !== undefined) throw lost;
    return { ...exit, aborted, ...(outcome === undefined ? {} : { stop: outcome }) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Refuses group ids that would reach init, the engine itself or every process (-1). */
function assertSafeGroup(pgid: number): void {
  if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid || pgid === ownGroup())
    throw new RangeError(`refusing to signal process group ${pgid}`);
}

let ownGroupId: number | undefined;

/** The engine's own process group id (Linux; 0 where unknown). */
function ownGroup(): number {
  if (ownGroupId !== undefined) return ownGroupId;
  ownGroupId = 0;
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync('/proc/self/stat', 'utf8');
      ownGroupId = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) || 0;
    } catch {
      // Without /proc the pid check above is the guard.
    }
  }
  return ownGroupId;
}

/** The `code` of a Node system error (`ENOENT`, `ESRCH`, ...), if it has one. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
