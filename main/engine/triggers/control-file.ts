import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';

const controlSchema = z.object({
  version: z.literal(1),
  /** The whole node is paused: no trigger fires. */
  paused: z.boolean(),
  /** Paused operations and since when (ISO). */
  pausedOperations: z.record(z.string(), z.string()),
});

/** Pause state of a node: node-wide and per operation. Kept in `<data-dir>/scheduler/control.json`. */
export type ControlState = z.infer<typeof controlSchema>;

export function controlPath(dataDir: string): string {
  return join(dataDir, 'scheduler', 'control.json');
}

function emptyControl(): ControlState {
  return { version: 1, paused: false, pausedOperations: {} };
}

/**
 * Reads the pause state; a missing file means nothing is paused.
 *
 * Throws with the file's path when it exists but is not valid, so a hand-edit gone wrong is
 * reported instead of silently un-pausing everything.
 */
export async function readControl(dataDir: string): Promise<ControlState> {
  const path = controlPath(dataDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyControl();
    throw err;
  }
  const parsed = controlSchema.safeParse(JSON.parse(text) as unknown);
  if (!parsed.success) {
    throw new Error(`${path} is not a valid control file: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Changes the pause state with a read-modify-write and writes it atomically; returns the new state. */
export async function updateControl(
  dataDir: string,
  change: (state: ControlState) => ControlState,
): Promise<ControlState> {
  const next = change(await readControl(dataDir));
  await mkdir(join(dataDir, 'scheduler'), { recursive: true });
  await writeJsonAtomic(controlPath(dataDir), next);
  return next;
}

/** Pauses or resumes one operation. */
export function setOperationPaused(
  dataDir: string,
  id: string,
  paused: boolean,
  now = new Date(),
): Promise<ControlState> {
  return updateControl(dataDir, (state) => {
    const entries = Object.entries(state.pausedOperations).filter(([name]) => name !== id);
    if (paused) entries.push([id, state.pausedOperations[id] ?? now.toISOString()]);
    return { ...state, pausedOperations: Object.fromEntries(entries) };
  });
}

/** Pauses or resumes the whole node. */
export function setNodePaused(dataDir: string, paused: boolean): Promise<ControlState> {
  return updateControl(dataDir, (state) => ({ ...state, paused }));
}
