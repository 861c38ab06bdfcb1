import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../engine/atomic-write.js';
import { settingsSchema, type Settings, type SettingsPatch } from './contract.js';

/** Where the node's settings document lives. */
export function settingsPath(dataDir: string): string {
  return join(dataDir, 'settings.json');
}

/** A settings file that exists but cannot be used; the message names the file and the path. */
export class SettingsFileError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}; fix or delete the file to go back to the defaults`);
    this.name = 'SettingsFileError';
  }
}

/**
 * The node's small settings document (`<data-dir>/settings.json`): UI, notifications, LLM.
 *
 * A missing file means every default. Updates are serialised and written atomically, so two
 * clients saving at once both land and a crash never leaves half a file.
 */
export class SettingsStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly dataDir: string) {}

  get path(): string {
    return settingsPath(this.dataDir);
  }

  async read(): Promise<Settings> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return settingsSchema.parse({});
      throw err;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new SettingsFileError(this.path, `not JSON (${(err as Error).message})`);
    }
    const parsed = settingsSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.map(String).join('.') ?? '';
      throw new SettingsFileError(
        this.path,
        `${where === '' ? '' : `${where}: `}${issue?.message ?? 'invalid'}`,
      );
    }
    return parsed.data;
  }

  /** Applies a patch (each section given has the fields it names replaced) and saves; returns the result. */
  update(patch: SettingsPatch): Promise<Settings> {
    const run = this.queue.then(async () => {
      const current = await this.read();
      const next: Settings = {
        ui: { ...current.ui, ...patch.ui },
        notifications: { ...current.notifications, ...patch.notifications },
      };
      if (patch.llm === undefined) {
        if (current.llm !== undefined) next.llm = current.llm;
      } else if (patch.llm !== null) {
        next.llm = settingsSchema.shape.llm.unwrap().parse({ ...current.llm, ...patch.llm });
      }
      const checked = settingsSchema.parse(next);
      await writeJsonAtomic(this.path, checked);
      return checked;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
