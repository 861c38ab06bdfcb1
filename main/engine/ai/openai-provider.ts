import { z } from 'zod';
import {
  chatResult,
  healthFromModels,
  httpError,
  LlmError,
  RequestDeadline,
  type LlmChatRequest,
  type LlmChatResult,
  type LlmHealth,
  type LlmModelInfo,
  type LlmProvider,
} from './llm-provider.js';
import { normaliseOpenAiBaseUrl } from './llm-settings.js';

export interface OpenAiProviderOptions {
  /** e.g. http://127.0.0.1:8080/v1; `/v1` is added to a URL without a path. */
  baseUrl?: string;
  apiKey?: string;
  model: string;
  timeoutMs: number;
  contextTokens?: number;
}

const chunkSchema = z
  .object({
    model: z.string().optional(),
    choices: z
      .array(
        z
          .object({
            delta: z.object({ content: z.string().nullish() }).loose().optional(),
            finish_reason: z.string().nullish(),
          })
          .loose(),
      )
      .default([]),
    usage: z
      .object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
      .loose()
      .nullish(),
  })
  .loose();

const modelsSchema = z.object({
  data: z.array(
    z
      .object({
        id: z.string(),
        // vLLM says max_model_len; llama.cpp puts the trained context in meta.
        max_model_len: z.number().optional(),
        context_length: z.number().optional(),
        meta: z.object({ n_ctx_train: z.number().optional() }).loose().nullish(),
      })
      .loose(),
  ),
});

const errorBodySchema = z.object({
  error: z.union([z.string(), z.object({ message: z.string() }).loose()]),
});

/** Reads a Server-Sent Events body and yields each event's data. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = done ? '' : (lines.pop() ?? '');
      for (const line of lines) {
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
        // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing we use.
      }
      if (done) {
        if (data.length > 0) yield data.join('\n');
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Talks to any server with the OpenAI chat completions API (llama.cpp, LM Studio, vLLM). */
export class OpenAiProvider implements LlmProvider {
  readonly name = 'openai' as const;
  readonly endpoint: string;
  readonly defaultModel: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly configuredContext: number | undefined;
  private readonly contextCache = new Map<string, number | undefined>();

  constructor(options: OpenAiProviderOptions) {
    this.endpoint = normaliseOpenAiBaseUrl(options.baseUrl);
    this.apiKey = options.apiKey;
    this.defaultModel = options.model;
    this.timeoutMs = options.timeoutMs;
    this.configuredContext = options.contextTokens;
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    if (this.apiKey !== undefined && this.apiKey !== '') headers.authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  private async failOnStatus(response: Response, model: string): Promise<void> {
    if (response.ok) return;
    const body = await response.text().catch(() => '');
    let message = body.trim() === '' ? response.statusText : body.trim();
    try {
      const parsed = errorBodySchema.safeParse(JSON.parse(body));
      if (parsed.success) {
        message = typeof parsed.data.error === 'string' ? parsed.data.error : parsed.data.error.message;
      }
    } catch {
      // Not JSON: the text itself is the message.
    }
    throw httpError(this.name, this.endpoint, response.status, message, model);
  }

  private malformed(what: string): LlmError {
    return new LlmError(`OpenAI-compatible server at ${this.endpoint} sent ${what}`, 'malformed', {
      provider: this.name,
      endpoint: this.endpoint,
    });
  }

  async chat(request: LlmChatRequest): Promise<LlmChatResult> {
    const model = request.model ?? this.defaultModel;
    const started = performance.now();
    const deadline = new RequestDeadline(request.signal, this.timeoutMs);
    try {
      const messages: { role: string; content: string }[] = [];
      if (request.system !== undefined && request.system !== '') {
        messages.push({ role: 'system', content: request.system });
      }
      messages.push({ role: 'user', content: request.prompt });
      let responseFormat: unknown;
      if (request.format === 'json') responseFormat = { type: 'json_object' };
      else if (request.format !== undefined) {
        responseFormat = { type: 'json_schema', json_schema: { name: 'reply', schema: request.format } };
      }
      const response = await fetch(`${this.endpoint}/chat/completions`, {
        method: 'POST',
        headers: this.headers(),
        signal: deadline.signal,
        body: JSON.stringify({
          model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
          ...(responseFormat === undefined ? {} : { response_format: responseFormat }),
        }),
      });
      await this.failOnStatus(response, model);
      if (response.body === null) throw this.malformed('an empty reply');
      let text = '';
      let replyModel = model;
      let finished = false;
      let sawDone = false;
      let promptTokens: number | undefined;
      let completionTokens: number | undefined;
      for await (const data of sseData(response.body)) {
        if (data.trim() === '[DONE]') {
          sawDone = true;
          break;
        }
        let json: unknown;
        try {
          json = JSON.parse(data);
        } catch {
          throw this.malformed(`an event that is not JSON: ${data.slice(0, 120)}`);
        }
        const chunk = chunkSchema.safeParse(json);
        if (!chunk.success) {
          const error = errorBodySchema.safeParse(json);
          if (error.success) {
            const message =
              typeof error.data.error === 'string' ? error.data.error : error.data.error.message;
            throw new LlmError(
              `OpenAI-compatible server at ${this.endpoint} failed mid-reply: ${message}`,
              'http',
              { provider: this.name, endpoint: this.endpoint },
            );
          }
          throw this.malformed(`a chunk Ultravisor does not understand: ${z.prettifyError(chunk.error)}`);
        }
        if (chunk.data.model !== undefined) replyModel = chunk.data.model;
        for (const choice of chunk.data.choices) {
          const token = choice.delta?.content ?? '';
          if (token !== '') {
            text += token;
            request.onToken?.(token);
          }
          if (choice.finish_reason !== undefined && choice.finish_reason !== null) finished = true;
        }
        if (chunk.data.usage) {
          promptTokens = chunk.data.usage.prompt_tokens ?? promptTokens;
          completionTokens = chunk.data.usage.completion_tokens ?? completionTokens;
        }
      }
      if (!sawDone && !finished) throw this.malformed('a reply stream that ended before the reply did');
      return chatResult(request, { text, model: replyModel, promptTokens, completionTokens }, started);
    } catch (err) {
      throw deadline.classify(err, this.name, this.endpoint, model);
    } finally {
      deadline.dispose();
    }
  }

  private async models(signal: AbortSignal): Promise<z.output<typeof modelsSchema>['data']> {
    const deadline = new RequestDeadline(signal, this.timeoutMs);
    try {
      const response = await fetch(`${this.endpoint}/models`, {
        headers: this.headers(),
        signal: deadline.signal,
      });
      await this.failOnStatus(response, this.defaultModel);
      const body: unknown = await response.json();
      const parsed = modelsSchema.safeParse(body);
      if (!parsed.success)
        throw this.malformed(`a model list it does not understand: ${z.prettifyError(parsed.error)}`);
      return parsed.data.data;
    } catch (err) {
      throw deadline.classify(err, this.name, this.endpoint, this.defaultModel);
    } finally {
      deadline.dispose();
    }
  }

  async listModels(signal: AbortSignal = new AbortController().signal): Promise<LlmModelInfo[]> {
    const models = await this.models(signal);
    return models.map((m) => {
      const context = m.max_model_len ?? m.context_length ?? m.meta?.n_ctx_train ?? undefined;
      if (context !== undefined) this.contextCache.set(m.id, context);
      return { name: m.id, ...(context === undefined ? {} : { contextTokens: context }) };
    });
  }

  health(signal?: AbortSignal): Promise<LlmHealth> {
    return healthFromModels(this, signal);
  }

  /**
   * The settings' context window, else what `/models` reports for the model, else undefined.
   *
   * These servers fix the window when they start, so the reported size is what a request gets.
   */
  async contextTokens(model = this.defaultModel, signal?: AbortSignal): Promise<number | undefined> {
    if (this.configuredContext !== undefined) return this.configuredContext;
    if (this.contextCache.has(model)) return this.contextCache.get(model);
    try {
      await this.listModels(signal);
    } catch {
      return undefined;
    }
    return this.contextCache.get(model);
  }
}
