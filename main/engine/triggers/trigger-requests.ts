import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { writeJsonAtomic } from '../atomic-write.js';
import type { Logger } from '../logger.js';

/**
 * Manual trigger requests handed from the CLI to a running daemon through the data dir.
 *
 * The CLI writes `<data-dir>/requests/<id>.json` atomically; the daemon watches the folder, takes
 * the file (deletes it), starts the run and answers in `<id>.reply.json`, which the CLI reads and
 * deletes. Files need no network, no port and no token, and survive neither side crashing halfway
 * worse than a request that times out with a clear message.
 */
const requestSchema = z.object({
  version: z.literal(1),
  id: z.uuid(),
  operationId: z.string(),
  params: z.record(z.string(), z.unknown()),
  requestedAt: z.string(),
});
export type TriggerRequest = z.infer<typeof requestSchema>;

const replySchema = z.union([
  z.object({ ok: z.literal(true), runId: z.string(), manifest: z.string() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type TriggerReply = z.infer<typeof replySchema>;

/** Requests older than this are answered with an error instead of a run. */
const maxRequestAgeMs = 5 * 60_000;
/** Replies nobody collected are deleted after this long. */
const maxReplyAgeMs = 60 * 60_000;

export function requestsDir(dataDir: string): string {
  return join(dataDir, 'requests');
}

/** The CLI side: drops a request and waits for the daemon's reply. */
export async function submitTriggerRequest(
  dataDir: string,
  operationId: string,
  params: Record<string, unknown>,
  options: { timeoutMs: number; pollMs?: number },
): Promise<TriggerReply> {
  const dir = requestsDir(dataDir);
  await mkdir(dir, { recursive: true });
  const id = randomUUID();
  const requestFile = join(dir, `${id}.json`);
  const replyFile = join(dir, `${id}.reply.json`);
  const request: TriggerRequest = {
    version: 1,
    id,
    operationId,
    params,
    requestedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(requestFile, request);
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const reply = await readReply(replyFile);
    if (reply !== undefined) {
      await rm(replyFile, { force: true });
      return reply;
    }
    if (Date.now() >= deadline) break;
    await delay(options.pollMs ?? 50);
  }
  const untaken = await stat(requestFile).then(
    () => true,
    () => false,
  );
  await rm(requestFile, { force: true });
  return {
    ok: false,
    error: untaken
      ? `the daemon did not pick up the request within ${options.timeoutMs} ms (is it hung?); request withdrawn`
      : `the daemon took the request but did not answer within ${options.timeoutMs} ms; the run may have started (see \`ultravisor runs list\`)`,
  };
}

async function readReply(path: string): Promise<TriggerReply | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = replySchema.safeParse(JSON.parse(text) as unknown);
  return parsed.success ? parsed.data : { ok: false, error: `unreadable reply in ${path}` };
}

/** The daemon side: takes requests from the folder and answers them. */
export class TriggerRequestInbox {
  private busy: Promise<void> | undefined;
  private again = false;

  constructor(
    readonly dir: string,
    private readonly handle: (request: TriggerRequest) => TriggerReply,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Processes every request in the folder; concurrent calls coalesce into one more pass. */
  async process(): Promise<void> {
    if (this.busy !== undefined) {
      this.again = true;
      return this.busy;
    }
    this.busy = (async () => {
      for (let more = true; more; more = this.again) {
        this.again = false;
        await this.pass();
      }
    })().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async pass(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = await readdir(this.dir);
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      if (name.endsWith('.reply.json')) {
        const info = await stat(file).catch(() => undefined);
        if (info !== undefined && this.now() - info.mtimeMs > maxReplyAgeMs) await rm(file, { force: true });
        continue;
      }
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // Withdrawn or taken already.
      }
      await rm(file, { force: true });
      const id = name.slice(0, -'.json'.length);
      let reply: TriggerReply;
      const parsed = requestSchema.safeParse(safeJson(text));
      if (!parsed.success) {
        reply = {
          ok: false,
          error: `invalid trigger request ${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        };
      } else if (this.now() - Date.parse(parsed.data.requestedAt) > maxRequestAgeMs) {
        reply = {
          ok: false,
          error: `request from ${parsed.data.requestedAt} expired before the daemon saw it`,
        };
      } else {
        try {
          reply = this.handle(parsed.data);
        } catch (err) {
          reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
        }
      }
      if (!reply.ok) this.logger.warn({ request: name, error: reply.error }, 'trigger request refused');
      await writeJsonAtomic(join(this.dir, `${id}.reply.json`), reply);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
