import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const triggerPart = z.object({
  trigger: z.object({ kind: z.string(), id: z.string().optional(), dueAt: z.string().optional() }).loose(),
});

/**
 * The latest due time each trigger fired for, read from the newest manifests of each operation.
 *
 * Cursors are written just after a firing; a daemon killed in between would otherwise count that
 * firing as missed and run it again. A run's manifest is on disk before the run starts, so it is
 * the better witness; the scheduler takes the later of the two. Keys are `<operation>/<trigger>`.
 */
export async function lastFiredDueTimes(
  dataDir: string,
  operationIds: readonly string[],
  perOperation = 5,
): Promise<Map<string, number>> {
  const hints = new Map<string, number>();
  await Promise.all(
    operationIds.map(async (operationId) => {
      const dir = join(dataDir, 'runs', operationId);
      const runIds = await readdir(dir).catch(() => [] as string[]);
      // Run ids sort by start time: the newest few are enough.
      for (const runId of runIds.sort().reverse().slice(0, perOperation)) {
        let parsed: z.infer<typeof triggerPart>;
        try {
          parsed = triggerPart.parse(JSON.parse(await readFile(join(dir, runId, 'manifest.json'), 'utf8')));
        } catch {
          continue;
        }
        const { id, dueAt } = parsed.trigger;
        if (id === undefined || dueAt === undefined) continue;
        const key = `${operationId}/${id}`;
        const due = Date.parse(dueAt);
        if (!Number.isNaN(due) && due > (hints.get(key) ?? -Infinity)) hints.set(key, due);
      }
    }),
  );
  return hints;
}
