import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

/** Which process owns a run: its pid and when that process started (ms since the epoch). */
export const processIdentitySchema = z.object({ pid: z.number().int().positive(), startedAt: z.number() });
export type ProcessIdentity = z.infer<typeof processIdentitySchema>;

/** This process, as recorded in the manifests of the runs it starts. */
export function currentProcess(): ProcessIdentity {
  return { pid: process.pid, startedAt: Math.round(performance.timeOrigin) };
}

/** Our own start time is exact; another process's is read from /proc with a clock tick and btime rounding. */
const selfToleranceMs = 2000;
const otherToleranceMs = 30_000;
const linuxClockTicks = 100;

/**
 * Whether the process that wrote `owner` is still running.
 *
 * A pid alone is not enough: after a reboot or a container restart the daemon often gets the same
 * low pid again, so the start time must match too. When a check cannot decide (no /proc, no
 * permission), the process counts as alive: a run wrongly left `running` is harmless, one wrongly
 * marked `interrupted` is not.
 */
export function isProcessAlive(owner: ProcessIdentity, self: ProcessIdentity = currentProcess()): boolean {
  if (owner.pid === self.pid) return Math.abs(owner.startedAt - self.startedAt) <= selfToleranceMs;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else; fall through to the start-time check.
  }
  const started = linuxProcessStart(owner.pid);
  if (started === undefined) return true;
  return Math.abs(started - owner.startedAt) <= otherToleranceMs;
}

/** A Linux process's start time from /proc/<pid>/stat and /proc/stat's boot time; undefined elsewhere. */
function linuxProcessStart(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after the last ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btimeLine = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    const btime = Number(btimeLine?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return undefined;
    return (btime + ticks / linuxClockTicks) * 1000;
  } catch {
    return undefined;
  }
}
