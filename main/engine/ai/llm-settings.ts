import { z } from 'zod';
import { durationSchema } from '../model/duration.js';
import { llmProviderNameSchema, type LlmOverride } from '../model/task-specs/llm-spec.js';

/** Where Ollama listens when neither the settings nor `OLLAMA_HOST` say. */
export const defaultOllamaHost = 'http://127.0.0.1:11434';

/** llama.cpp's `llama-server` default; LM Studio uses :1234/v1 and vLLM :8000/v1. */
export const defaultOpenAiBaseUrl = 'http://127.0.0.1:8080/v1';

/**
 * The node's `llm` settings: which provider and model answer prompts and summaries.
 *
 * Operations and tasks override the connection fields (see {@link resolveLlmSettings}); the queue
 * limits are per provider endpoint and node-wide.
 */
export const llmSettingsSchema = z
  .object({
    provider: llmProviderNameSchema.default('ollama'),
    host: z
      .string()
      .min(1)
      .optional()
      .describe('Ollama host (default: OLLAMA_HOST, else http://127.0.0.1:11434)'),
    baseUrl: z
      .string()
      .min(1)
      .optional()
      .describe('OpenAI-compatible base URL (default http://127.0.0.1:8080/v1)'),
    apiKey: z.string().optional(),
    model: z.string().min(1).default('llama3.2'),
    timeout: durationSchema.default(60_000).describe('per request; the run never waits on it'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('requests at once per provider endpoint'),
    maxQueue: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(16)
      .describe('background requests (summaries) waiting per endpoint; older ones are dropped past this'),
    contextTokens: z.number().int().min(256).optional(),
  })
  .strict();
export type LlmSettings = z.output<typeof llmSettingsSchema>;

/** Settings with every default applied, for nodes without an `llm` section. */
export function defaultLlmSettings(): LlmSettings {
  return llmSettingsSchema.parse({});
}

/**
 * Layers operation and task overrides over the node's settings; the most specific value wins.
 *
 * Undefined fields in an override leave the lower layer's value alone, so a task that only names a
 * model keeps the node's host.
 */
export function resolveLlmSettings(
  nodeSettings: LlmSettings,
  operationOverride?: LlmOverride,
  taskOverride?: LlmOverride,
): LlmSettings {
  const result: LlmSettings = { ...nodeSettings };
  for (const layer of [operationOverride, taskOverride]) {
    if (layer === undefined) continue;
    if (layer.provider !== undefined) result.provider = layer.provider;
    if (layer.host !== undefined) result.host = layer.host;
    if (layer.baseUrl !== undefined) result.baseUrl = layer.baseUrl;
    if (layer.apiKey !== undefined) result.apiKey = layer.apiKey;
    if (layer.model !== undefined) result.model = layer.model;
    if (layer.timeout !== undefined) result.timeout = layer.timeout;
    if (layer.contextTokens !== undefined) result.contextTokens = layer.contextTokens;
  }
  return result;
}

function trimQuotes(value: string): string {
  return value.trim().replace(/^["']+|["']+$/g, '');
}

/**
 * Normalises an Ollama host the way the Ollama CLI reads `OLLAMA_HOST` (envconfig.Host).
 *
 * `nas` → http://nas:11434, `nas:1234` → http://nas:1234, `:1234` → http://127.0.0.1:1234,
 * `https://nas` → https://nas:443, a path is kept. One deliberate difference: the unspecified
 * address `0.0.0.0` (often set so the *server* listens everywhere) becomes 127.0.0.1, because a
 * client cannot connect to it on every platform.
 */
export function normaliseOllamaHost(raw: string): string {
  const text = trimQuotes(raw);
  if (text === '') return defaultOllamaHost;
  let scheme = 'http';
  let rest = text;
  let defaultPort = '11434';
  const sep = text.indexOf('://');
  if (sep >= 0) {
    scheme = text.slice(0, sep).toLowerCase();
    rest = text.slice(sep + 3);
    if (scheme === 'http') defaultPort = '80';
    else if (scheme === 'https') defaultPort = '443';
  }
  const slash = rest.indexOf('/');
  const hostPort = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1).replace(/\/+$/, '') : '';
  let host: string;
  let port: string;
  const split = splitHostPort(hostPort);
  if (split === undefined) {
    host = hostPort === '' ? '127.0.0.1' : hostPort.replace(/^\[|\]$/g, '');
    port = defaultPort;
  } else {
    [host, port] = split;
  }
  const portNumber = Number(port);
  if (!/^\d+$/.test(port) || portNumber > 65535) port = defaultPort;
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  const hostText = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${hostText}:${port}${path === '' ? '' : `/${path}`}`;
}

/** Go's net.SplitHostPort, loosely: undefined when there is no port. */
function splitHostPort(hostPort: string): [string, string] | undefined {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0 || hostPort[close + 1] !== ':') return undefined;
    return [hostPort.slice(1, close), hostPort.slice(close + 2)];
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0 || hostPort.indexOf(':') !== colon) return undefined;
  return [hostPort.slice(0, colon), hostPort.slice(colon + 1)];
}

/** The Ollama host to use: settings, else `OLLAMA_HOST`, else the default. */
export function resolveOllamaHost(
  settingsHost: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const chosen = settingsHost ?? env.OLLAMA_HOST;
  return chosen === undefined || trimQuotes(chosen) === '' ? defaultOllamaHost : normaliseOllamaHost(chosen);
}

/**
 * The OpenAI-compatible base URL: without a path, `/v1` is added, since that is where every
 * compatible server mounts the API; a trailing slash is removed.
 */
export function normaliseOpenAiBaseUrl(raw: string | undefined): string {
  const text = trimQuotes(raw ?? '');
  if (text === '') return defaultOpenAiBaseUrl;
  const withScheme = text.includes('://') ? text : `http://${text}`;
  const url = new URL(withScheme);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path === '' ? '/v1' : path}`;
}
