import { Ollama, type Message } from 'ollama';
import { z } from 'zod';
import {
  chatResult,
  healthFromModels,
  LlmError,
  RequestDeadline,
  type LlmChatRequest,
  type LlmChatResult,
  type LlmHealth,
  type LlmModelInfo,
  type LlmProvider,
} from './llm-provider.js';
import { resolveOllamaHost } from './llm-settings.js';

/**
 * Context windows larger than this are not asked for unless the settings say so.
 *
 * Ollama allocates the whole window up front; a model advertising 128k tokens would take many
 * gigabytes of memory on a small machine for a log summary.
 */
export const maxAutoContextTokens = 8192;

export interface OllamaProviderOptions {
  /** Host from the settings; `OLLAMA_HOST` and then the default apply when left out. */
  host?: string;
  env?: NodeJS.ProcessEnv;
  model: string;
  timeoutMs: number;
  /** Context window from the settings; otherwise asked from `/api/show` and capped. */
  contextTokens?: number;
}

// The client's types promise Dates and Maps; the wire has strings and objects. Parse what we use.
const chatChunkSchema = z
  .object({
    model: z.string().optional(),
    message: z.object({ content: z.string().default('') }).loose(),
    done: z.boolean(),
    prompt_eval_count: z.number().optional(),
    eval_count: z.number().optional(),
  })
  .loose();

const listSchema = z.object({
  models: z.array(z.object({ name: z.string(), size: z.number().optional() }).loose()),
});

const showSchema = z.object({ model_info: z.record(z.string(), z.unknown()).optional() }).loose();

/** Talks to an Ollama server through the official `ollama` client. */
export class OllamaProvider implements LlmProvider {
  readonly name = 'ollama' as const;
  readonly endpoint: string;
  readonly defaultModel: string;
  private readonly timeoutMs: number;
  private readonly configuredContext: number | undefined;
  private readonly contextCache = new Map<string, number | undefined>();

  constructor(options: OllamaProviderOptions) {
    this.endpoint = resolveOllamaHost(options.host, options.env);
    this.defaultModel = options.model;
    this.timeoutMs = options.timeoutMs;
    this.configuredContext = options.contextTokens;
  }

  /**
   * A client whose every request obeys `signal`.
   *
   * The client's own `abort()` reaches only streams that already have response headers, and it
   * aborts every stream of that client; a fetch bound to one signal covers connecting, waiting for
   * headers and streaming, for this request alone.
   */
  private client(signal: AbortSignal): Ollama {
    const boundFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, {
        ...init,
        signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal,
      });
      if (response.ok || response.headers.get('content-type')?.includes('application/json') === true) {
        return response;
      }
      // The client prints to stdout (console.log) for error bodies that are not JSON, such as a
      // proxy's HTML 502 page; stdout belongs to command output, so hand it the JSON it expects.
      const text = (await response.text()).trim().slice(0, 500);
      return new Response(JSON.stringify({ error: text === '' ? response.statusText : text }), {
        status: response.status,
        statusText: response.statusText,
        headers: { 'content-type': 'application/json' },
      });
    };
    return new Ollama({ host: this.endpoint, fetch: boundFetch });
  }

  async chat(request: LlmChatRequest): Promise<LlmChatResult> {
    const model = request.model ?? this.defaultModel;
    const started = performance.now();
    const deadline = new RequestDeadline(request.signal, this.timeoutMs);
    try {
      const numCtx = await this.contextTokens(model, deadline.signal);
      const messages: Message[] = [];
      if (request.system !== undefined && request.system !== '') {
        messages.push({ role: 'system', content: request.system });
      }
      messages.push({ role: 'user', content: request.prompt });
      const stream = await this.client(deadline.signal).chat({
        model,
        messages,
        stream: true,
        ...(request.format === undefined ? {} : { format: request.format }),
        options: {
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.maxTokens === undefined ? {} : { num_predict: request.maxTokens }),
          ...(numCtx === undefined ? {} : { num_ctx: numCtx }),
        },
      });
      let text = '';
      let replyModel = model;
      let promptTokens: number | undefined;
      let completionTokens: number | undefined;
      for await (const raw of stream) {
        const part = chatChunkSchema.safeParse(raw);
        if (!part.success) {
          throw new LlmError(
            `Ollama at ${this.endpoint} sent a chat message Ultravisor does not understand: ${z.prettifyError(part.error)}`,
            'malformed',
            { provider: this.name, endpoint: this.endpoint },
          );
        }
        const token = part.data.message.content;
        if (token !== '') {
          text += token;
          request.onToken?.(token);
        }
        if (part.data.model !== undefined) replyModel = part.data.model;
        if (part.data.done) {
          promptTokens = part.data.prompt_eval_count;
          completionTokens = part.data.eval_count;
        }
      }
      return chatResult(request, { text, model: replyModel, promptTokens, completionTokens }, started);
    } catch (err) {
      throw deadline.classify(err, this.name, this.endpoint, model);
    } finally {
      deadline.dispose();
    }
  }

  async listModels(signal: AbortSignal = new AbortController().signal): Promise<LlmModelInfo[]> {
    const deadline = new RequestDeadline(signal, this.timeoutMs);
    try {
      const raw: unknown = await this.client(deadline.signal).list();
      const parsed = listSchema.safeParse(raw);
      if (!parsed.success) {
        throw new LlmError(
          `Ollama at ${this.endpoint} sent a model list Ultravisor does not understand: ${z.prettifyError(parsed.error)}`,
          'malformed',
          { provider: this.name, endpoint: this.endpoint },
        );
      }
      return parsed.data.models.map((m) => ({
        name: m.name,
        ...(m.size === undefined ? {} : { sizeBytes: m.size }),
      }));
    } catch (err) {
      throw deadline.classify(err, this.name, this.endpoint, this.defaultModel);
    } finally {
      deadline.dispose();
    }
  }

  health(signal?: AbortSignal): Promise<LlmHealth> {
    return healthFromModels(this, signal);
  }

  /**
   * The settings' context window, else the model's (from `/api/show`) capped at
   * {@link maxAutoContextTokens}, else undefined. Answers are cached per model; failures are not.
   */
  async contextTokens(model = this.defaultModel, signal?: AbortSignal): Promise<number | undefined> {
    if (this.configuredContext !== undefined) return this.configuredContext;
    if (this.contextCache.has(model)) return this.contextCache.get(model);
    const deadline = new RequestDeadline(signal ?? new AbortController().signal, this.timeoutMs);
    try {
      const raw: unknown = await this.client(deadline.signal).show({ model });
      const info = showSchema.safeParse(raw);
      if (!info.success) return undefined;
      const entry = Object.entries(info.data.model_info ?? {}).find(([key]) =>
        key.endsWith('.context_length'),
      );
      const size = typeof entry?.[1] === 'number' ? Math.min(entry[1], maxAutoContextTokens) : undefined;
      this.contextCache.set(model, size);
      return size;
    } catch {
      // Unknown context is not an error: callers fall back to a conservative default, and a server
      // that is down fails the chat request itself with a clear message.
      return undefined;
    } finally {
      deadline.dispose();
    }
  }
}
