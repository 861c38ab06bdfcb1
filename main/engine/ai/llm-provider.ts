import type { LlmProviderName } from '../model/task-specs/llm-spec.js';

/** A JSON Schema object, passed through to providers that constrain replies with it. */
export type JsonSchemaObject = Record<string, unknown>;

/** One prompt to a model. */
export interface LlmChatRequest {
  system?: string;
  prompt: string;
  /** `json` asks for any JSON object; a schema asks the server to constrain the reply to it. */
  format?: 'json' | JsonSchemaObject;
  /** Model name; the provider's default when left out. */
  model?: string;
  temperature?: number;
  /** Upper bound on the reply's length, in tokens. */
  maxTokens?: number;
  signal: AbortSignal;
  /** Called with each piece of the reply as it streams in. */
  onToken?: (token: string) => void;
}

/** A model's complete reply. */
export interface LlmChatResult {
  text: string;
  model: string;
  /** Token counts from the server, or estimated (chars / 4) when it sends none. */
  promptTokens: number;
  completionTokens: number;
  ms: number;
}

/** A model the server offers. */
export interface LlmModelInfo {
  name: string;
  sizeBytes?: number;
  contextTokens?: number;
}

/** Whether the server answers, and what it offers. */
export interface LlmHealth {
  ok: boolean;
  provider: LlmProviderName;
  endpoint: string;
  ms: number;
  models?: number;
  error?: string;
}

/** One LLM back end (Ollama, an OpenAI-compatible server) behind one interface. */
export interface LlmProvider {
  readonly name: LlmProviderName;
  /** The server's address, for messages and queue keys. */
  readonly endpoint: string;
  readonly defaultModel: string;
  /** Streams one reply; throws {@link LlmError} on every failure. */
  chat(request: LlmChatRequest): Promise<LlmChatResult>;
  listModels(signal?: AbortSignal): Promise<LlmModelInfo[]>;
  /** Never throws: a server that is down gives `ok: false` and the reason. */
  health(signal?: AbortSignal): Promise<LlmHealth>;
  /** The context window used for `model`, in tokens, when the settings or the server say. */
  contextTokens(model?: string, signal?: AbortSignal): Promise<number | undefined>;
}

/**
 * Why a request failed.
 *
 * `unavailable`: nothing answers at the address. `timeout`: no complete reply in time. `http`: the
 * server answered with an error status. `malformed`: the server's bytes are not the protocol.
 * `aborted`: the caller's signal fired.
 */
export type LlmErrorCode = 'unavailable' | 'timeout' | 'http' | 'malformed' | 'aborted';

/** A failed LLM request, worded for the person reading the run log. */
export class LlmError extends Error {
  constructor(
    message: string,
    readonly code: LlmErrorCode,
    readonly details: { provider: LlmProviderName; endpoint: string; status?: number; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.name = 'LlmError';
  }
}

/** A chat reply as providers return it: the server's token counts, else estimates (chars / 4). */
export function chatResult(
  request: LlmChatRequest,
  reply: { text: string; model: string; promptTokens?: number; completionTokens?: number },
  started: number,
): LlmChatResult {
  return {
    text: reply.text,
    model: reply.model,
    promptTokens: reply.promptTokens ?? estimateTokens((request.system ?? '') + request.prompt),
    completionTokens: reply.completionTokens ?? estimateTokens(reply.text),
    ms: Math.round(performance.now() - started),
  };
}

/** A provider's health, read by listing its models; never throws. */
export async function healthFromModels(provider: LlmProvider, signal?: AbortSignal): Promise<LlmHealth> {
  const started = performance.now();
  const base = { provider: provider.name, endpoint: provider.endpoint };
  try {
    const models = await provider.listModels(signal);
    return { ok: true, ...base, models: models.length, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ...base, error: (err as Error).message, ms: Math.round(performance.now() - started) };
  }
}

/** Rough token count used for context budgeting: about four characters per token for English text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The label users know each provider by. */
export function providerLabel(name: LlmProviderName): string {
  return name === 'ollama' ? 'Ollama' : 'OpenAI-compatible server';
}

const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A request's deadline: aborts on the caller's signal or when `timeoutMs` passes. */
export class RequestDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;
  private readonly onCallerAbort = (): void => {
    this.controller.abort(this.caller.reason);
  };

  constructor(
    private readonly caller: AbortSignal,
    readonly timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error(`timed out after ${timeoutMs}ms`));
    }, timeoutMs);
    if (caller.aborted) this.onCallerAbort();
    else caller.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Turns whatever a request threw into an {@link LlmError} that says what happened. */
  classify(err: unknown, provider: LlmProviderName, endpoint: string, model: string): LlmError {
    if (err instanceof LlmError) return err;
    const where = `${providerLabel(provider)} at ${endpoint}`;
    const info = { provider, endpoint, cause: err };
    if (this.caller.aborted) return new LlmError(`request to ${where} was cancelled`, 'aborted', info);
    if (this.timedOut) {
      return new LlmError(
        `${where} gave no complete reply within ${this.timeoutMs}ms (model ${model}): raise the llm timeout or use a smaller model`,
        'timeout',
        info,
      );
    }
    const status = (err as { status_code?: unknown } | null)?.status_code;
    if (typeof status === 'number')
      return httpError(provider, endpoint, status, (err as Error).message, model, err);
    if (err instanceof SyntaxError) {
      return new LlmError(`${where} sent a reply that is not valid JSON: ${err.message}`, 'malformed', info);
    }
    const code = errorCode(err);
    if (code !== undefined && unreachableCodes.has(code)) {
      const hint =
        provider === 'ollama'
          ? 'start it with `ollama serve`, or set the llm host (or OLLAMA_HOST)'
          : 'start the server, or set the llm baseUrl';
      return new LlmError(`${where} is not reachable (${code}): ${hint}`, 'unavailable', info);
    }
    const message = err instanceof Error ? err.message : String(err);
    if (/did not receive done|stream ended/i.test(message)) {
      return new LlmError(`${where} ended its reply early or sent garbage: ${message}`, 'malformed', info);
    }
    if (err instanceof TypeError && /fetch failed/i.test(message)) {
      return new LlmError(`${where} is not reachable: ${message}`, 'unavailable', info);
    }
    return new LlmError(`${where} failed: ${message}`, 'http', info);
  }

  /**
   * Stops the timer, detaches from the caller's signal and aborts whatever the request left open.
   *
   * Aborting after a complete reply is harmless; after a failure it closes a half-read body so the
   * socket does not linger.
   */
  dispose(): void {
    clearTimeout(this.timer);
    this.caller.removeEventListener('abort', this.onCallerAbort);
    if (!this.controller.signal.aborted) this.controller.abort(new Error('request finished'));
  }
}

/** An error for an HTTP error status, with the fix for the common ones. */
export function httpError(
  provider: LlmProviderName,
  endpoint: string,
  status: number,
  message: string,
  model: string,
  cause?: unknown,
): LlmError {
  const where = `${providerLabel(provider)} at ${endpoint}`;
  let hint = '';
  if (status === 404 && /model/i.test(message)) {
    hint = provider === 'ollama' ? `: pull it with \`ollama pull ${model}\`` : ': check the model name';
  } else if (status === 401 || status === 403) {
    hint = ': check the llm apiKey';
  }
  return new LlmError(`${where} answered HTTP ${status}: ${message.slice(0, 300)}${hint}`, 'http', {
    provider,
    endpoint,
    status,
    cause,
  });
}
