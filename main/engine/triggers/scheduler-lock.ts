import { hostname } from 'node:os';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const daemonSchema = z.object({
  pid: z.number().int().positive(),
  hostname: z.string(),
  startedAt: z.string(),
});

/** Who runs the scheduler of a data dir: written by `serve` to `<data-dir>/scheduler/daemon.json`. */
export type DaemonInfo = z.infer<typeof daemonSchema>;

export function daemonFile(dataDir: string): string {
  return join(dataDir, 'scheduler', 'daemon.json');
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readInfo(path: string): Promise<DaemonInfo | undefined> {
  try {
    const parsed = daemonSchema.safeParse(JSON.parse(await readFile(path, 'utf8')) as unknown);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The daemon serving a data dir, if one is running on this host.
 *
 * A file left by a daemon that was killed (SIGKILL, power cut) names a dead pid and is ignored.
 */
export async function runningDaemon(dataDir: string): Promise<DaemonInfo | undefined> {
  const info = await readInfo(daemonFile(dataDir));
  if (info === undefined) return undefined;
  if (info.hostname !== hostname()) return info;
  return isProcessAlive(info.pid) ? info : undefined;
}

/** Lock files held by this process, so a second node in the same process is refused too. */
const heldHere = new Set<string>();

/** Held while a scheduler runs over a data dir; two schedulers on one data dir would fire everything twice. */
export class SchedulerLock {
  private constructor(
    readonly path: string,
    readonly info: DaemonInfo,
  ) {}

  /**
   * Takes the lock: creates `daemon.json` exclusively, replacing one left by a dead process.
   *
   * Throws, naming the pid, when another live process holds it.
   */
  static async acquire(dataDir: string): Promise<SchedulerLock> {
    const path = daemonFile(dataDir);
    await mkdir(join(dataDir, 'scheduler'), { recursive: true });
    const info: DaemonInfo = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx', 0o644);
        try {
          await handle.writeFile(`${JSON.stringify(info, null, 2)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        heldHere.add(path);
        return new SchedulerLock(path, info);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = await readInfo(path);
        if (
          holder !== undefined &&
          (holder.hostname !== info.hostname ||
            // Our own pid in the file is either us (refuse) or a dead daemon whose pid we reused (take over).
            (holder.pid === process.pid ? heldHere.has(path) : isProcessAlive(holder.pid)))
        ) {
          throw new Error(
            `another ultravisor node (pid ${holder.pid} on ${holder.hostname}, since ${holder.startedAt}) serves ${dataDir}: stop it first, or use another --data-dir`,
            { cause: err },
          );
        }
        // Left by a process that is gone: take it over.
        await rm(path, { force: true });
      }
    }
    throw new Error(`could not take the scheduler lock ${path}: another node is starting at the same time`);
  }

  async release(): Promise<void> {
    heldHere.delete(this.path);
    const holder = await readInfo(this.path);
    if (holder?.pid === this.info.pid) await rm(this.path, { force: true });
  }
}
