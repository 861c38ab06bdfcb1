import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { LlmPool } from './llm-pool.js';
import { defaultLlmSettings, llmSettingsSchema, type LlmSettings } from './llm-settings.js';

/** The node's LLM as seen by the settings file at one moment. */
export interface NodeLlmSnapshot {
  /** The node's settings, every default applied. */
  settings: LlmSettings;
  /**
   * Whether the node names an LLM: `settings.json` has an `llm` section or `OLLAMA_HOST` is set.
   *
   * Without one, run summaries are written by the engine (`source: engine`) and no request is
   * made; `llm` tasks still try the default (Ollama on 127.0.0.1:11434), since they ask for one.
   */
  configured: boolean;
}

/** The node's LLM: one pool of providers and queues, and the settings it reads. */
export interface NodeLlm {
  readonly pool: LlmPool;
  /** The current settings (read again when `settings.json` changes). */
  snapshot(): NodeLlmSnapshot;
}

const settingsFileSchema = z.object({ llm: z.unknown().optional() }).loose();

/**
 * Reads the `llm` section of `<data-dir>/settings.json` for the engine.
 *
 * The engine does not import the API's settings store (layers point down); the file is the
 * interface. Reads are synchronous and cached by the file's mtime and size, so a task can ask on
 * every execution and a `settings.set` applies to the next task. A broken file is logged once and
 * read as "no LLM configured" rather than failing runs.
 */
export class NodeLlmSettings {
  private cache: { key: string; value: NodeLlmSnapshot } | undefined;
  private warnedKey: string | undefined;

  constructor(
    readonly dataDir: string,
    private readonly options: { env?: NodeJS.ProcessEnv; logger?: Logger } = {},
  ) {}

  get path(): string {
    return join(this.dataDir, 'settings.json');
  }

  /** The settings now. */
  read(): NodeLlmSnapshot {
    const env = this.options.env ?? process.env;
    const fromEnv = (env.OLLAMA_HOST ?? '').trim() !== '';
    let key: string;
    try {
      const stat = statSync(this.path);
      key = `${stat.mtimeMs}:${stat.size}:${fromEnv}`;
    } catch {
      return { settings: defaultLlmSettings(), configured: fromEnv };
    }
    if (this.cache?.key === key) return this.cache.value;
    const value = this.parse(key, fromEnv);
    this.cache = { key, value };
    return value;
  }

  private parse(key: string, fromEnv: boolean): NodeLlmSnapshot {
    const unconfigured = { settings: defaultLlmSettings(), configured: fromEnv };
    let section: unknown;
    try {
      section = settingsFileSchema.parse(JSON.parse(readFileSync(this.path, 'utf8'))).llm;
    } catch (err) {
      this.warn(key, `${this.path} is not a JSON object (${(err as Error).message}): no LLM configured`);
      return unconfigured;
    }
    if (section === undefined || section === null) return unconfigured;
    const parsed = llmSettingsSchema.safeParse(section);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = ['llm', ...(issue?.path.map(String) ?? [])].join('.');
      this.warn(key, `${this.path}: ${where}: ${issue?.message ?? 'invalid'}; no LLM configured until fixed`);
      return unconfigured;
    }
    return { settings: parsed.data, configured: true };
  }

  private warn(key: string, message: string): void {
    if (this.warnedKey === key) return;
    this.warnedKey = key;
    this.options.logger?.warn(message);
  }
}

/** A {@link NodeLlm} over a data dir's settings file and a new pool. */
export function createNodeLlm(
  dataDir: string,
  options: { env?: NodeJS.ProcessEnv; logger?: Logger } = {},
): NodeLlm {
  const reader = new NodeLlmSettings(dataDir, options);
  const pool = new LlmPool(options.env === undefined ? {} : { env: options.env });
  return { pool, snapshot: () => reader.read() };
}
