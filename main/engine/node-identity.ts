import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { z } from 'zod';
import { writeJsonAtomic } from './atomic-write.js';
import { dataPaths } from './data-dir.js';

const nodeIdentitySchema = z.object({ id: z.string().min(1), name: z.string().min(1) });
export type NodeIdentity = z.infer<typeof nodeIdentitySchema>;

/** Loads this node's id and name from the data dir, creating them on first start. */
export async function loadNodeIdentity(dataDir: string): Promise<NodeIdentity> {
  const path = dataPaths(dataDir).nodeIdentity;
  try {
    return nodeIdentitySchema.parse(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(
        `${path} is unreadable (${(err as Error).message}); fix or delete it to create a new identity`,
        { cause: err },
      );
    }
  }
  const identity: NodeIdentity = { id: randomUUID(), name: hostname() };
  await mkdir(dataDir, { recursive: true });
  await writeJsonAtomic(path, identity);
  return identity;
}
