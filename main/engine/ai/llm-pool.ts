import { assertNever } from '../assert-never.js';
import type { LlmProvider } from './llm-provider.js';
import { LlmQueue } from './llm-queue.js';
import type { LlmSettings } from './llm-settings.js';
import { OllamaProvider } from './ollama-provider.js';
import { OpenAiProvider } from './openai-provider.js';

/** A provider and the queue every request to its endpoint goes through. */
export interface LlmHandle {
  provider: LlmProvider;
  queue: LlmQueue;
}

/** Builds the provider that resolved settings describe. */
export function createProvider(settings: LlmSettings, env: NodeJS.ProcessEnv = process.env): LlmProvider {
  const common = {
    model: settings.model,
    timeoutMs: settings.timeout,
    ...(settings.contextTokens === undefined ? {} : { contextTokens: settings.contextTokens }),
  };
  switch (settings.provider) {
    case 'ollama':
      return new OllamaProvider({
        ...common,
        env,
        ...(settings.host === undefined ? {} : { host: settings.host }),
      });
    case 'openai':
      return new OpenAiProvider({
        ...common,
        ...(settings.baseUrl === undefined ? {} : { baseUrl: settings.baseUrl }),
        ...(settings.apiKey === undefined ? {} : { apiKey: settings.apiKey }),
      });
    default:
      return assertNever(settings.provider, 'llm provider');
  }
}

/**
 * The node's providers, one queue per endpoint.
 *
 * Operations and tasks may name other models or timeouts on the same server; they share that
 * server's queue, since the model behind it serves one request at a time whatever the caller.
 * Queue limits come from the settings that first reach an endpoint.
 */
export class LlmPool {
  private readonly providers = new Map<string, LlmProvider>();
  private readonly queues = new Map<string, LlmQueue>();

  constructor(
    private readonly options: {
      env?: NodeJS.ProcessEnv;
      /** Replaces {@link createProvider}, e.g. to add a provider kind. */
      create?: (settings: LlmSettings) => LlmProvider;
    } = {},
  ) {}

  /** The provider and queue for resolved settings; the same objects for the same settings. */
  handle(settings: LlmSettings): LlmHandle {
    const providerKey = JSON.stringify([
      settings.provider,
      settings.host,
      settings.baseUrl,
      settings.apiKey,
      settings.model,
      settings.timeout,
      settings.contextTokens,
    ]);
    let provider = this.providers.get(providerKey);
    if (provider === undefined) {
      provider = this.options.create?.(settings) ?? createProvider(settings, this.options.env);
      this.providers.set(providerKey, provider);
    }
    const queueKey = `${provider.name} ${provider.endpoint}`;
    let queue = this.queues.get(queueKey);
    if (queue === undefined) {
      queue = new LlmQueue({ concurrency: settings.concurrency, maxPending: settings.maxQueue });
      this.queues.set(queueKey, queue);
    }
    return { provider, queue };
  }

  /** Closes every queue: waiting jobs are dropped and running requests aborted. */
  close(): void {
    for (const queue of this.queues.values()) queue.close();
    this.queues.clear();
    this.providers.clear();
  }
}
