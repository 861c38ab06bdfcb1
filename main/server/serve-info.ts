import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../engine/atomic-write.js';

/** What a serving node tells clients on the same machine: where it listens and which process it is. */
export const serveInfoSchema = z.object({ url: z.url(), pid: z.number().int().positive() });
export type ServeInfo = z.infer<typeof serveInfoSchema>;

/** `<data-dir>/serve.json`, written atomically when `serve` starts listening, removed at stop. */
export function serveInfoPath(dataDir: string): string {
  return join(dataDir, 'serve.json');
}

export async function writeServeInfo(dataDir: string, info: ServeInfo): Promise<void> {
  await writeJsonAtomic(serveInfoPath(dataDir), serveInfoSchema.parse(info));
}

/** Reads serve.json; undefined when absent or unreadable (a client then works offline). */
export async function readServeInfo(dataDir: string): Promise<ServeInfo | undefined> {
  let text: string;
  try {
    text = await readFile(serveInfoPath(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = serveInfoSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Removes serve.json if it still names this process (a newer server may have replaced it). */
export async function removeServeInfo(dataDir: string, pid = process.pid): Promise<void> {
  const info = await readServeInfo(dataDir);
  if (info !== undefined && info.pid !== pid) return;
  await rm(serveInfoPath(dataDir), { force: true });
}
