import type { ServerResponse } from 'node:http';
import {
  chatRequestOf,
  FakeLlmServer,
  tokensOf,
  type FakeBehaviour,
  type RecordedRequest,
} from './fake-llm-server.js';

function authorised(server: FakeLlmServer, request: RecordedRequest, res: ServerResponse): boolean {
  const key = server.behaviour.apiKey;
  if (key === undefined || request.headers.authorization === `Bearer ${key}`) return true;
  server.json(res, 401, { error: { message: 'Invalid API key', type: 'invalid_request_error' } });
  return false;
}

function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

async function completions(
  server: FakeLlmServer,
  request: RecordedRequest,
  res: ServerResponse,
): Promise<void> {
  const chat = chatRequestOf(request.path, request.body);
  const b = server.behaviour;
  if (!(await server.gate(res))) return;
  if (b.status !== undefined) {
    server.json(res, b.status, { error: { message: `fake failure ${b.status}`, type: 'server_error' } });
    return;
  }
  if (b.stall === 'headers') {
    await server.stallUntilClientLeaves(res);
    return;
  }
  const model = chat.model === '' ? (b.models?.[0] ?? 'local-model') : chat.model;
  const text = server.replyFor(chat);
  const usage = {
    prompt_tokens: Math.ceil(((chat.system ?? '') + chat.prompt).length / 4),
    completion_tokens: tokensOf(text).length,
  };
  if (!chat.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      b.malformed === true
        ? '{"choices": [ broken'
        : JSON.stringify({
            id: 'chatcmpl-fake',
            object: 'chat.completion',
            model,
            choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
            usage,
          }),
    );
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  if (b.malformed === true) {
    res.end('data: {"id":"chatcmpl-fake","choices":[{"delta":{"cont\n\n');
    return;
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null): Record<string, unknown> => ({
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  sse(res, chunk({ role: 'assistant', content: '' }, null));
  for (const [i, token] of tokensOf(text).entries()) {
    sse(res, chunk({ content: token }, null));
    if (i === 0 && b.stall === 'mid-stream') {
      await server.stallUntilClientLeaves(res);
      return;
    }
  }
  sse(res, chunk({}, 'stop'));
  sse(res, { id: 'chatcmpl-fake', object: 'chat.completion.chunk', model, choices: [], usage });
  sse(res, '[DONE]');
  res.end();
}

/** Routes of the OpenAI API that Ultravisor uses: models and chat completions. */
async function openAiRoutes(
  server: FakeLlmServer,
  request: RecordedRequest,
  res: ServerResponse,
): Promise<void> {
  if (!authorised(server, request, res)) return;
  const b = server.behaviour;
  switch (`${request.method} ${request.path}`) {
    case 'GET /v1/models':
      if (b.status !== undefined) {
        server.json(res, b.status, { error: { message: `fake failure ${b.status}` } });
      } else if (b.malformed === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data": [');
      } else {
        server.json(res, 200, {
          object: 'list',
          data: (b.models ?? ['local-model']).map((id) => ({
            id,
            object: 'model',
            owned_by: 'llamacpp',
            ...(b.contextLength === undefined ? {} : { meta: { n_ctx_train: b.contextLength } }),
          })),
        });
      }
      return;
    case 'POST /v1/chat/completions':
      await completions(server, request, res);
      return;
    default:
      server.json(res, 404, { error: { message: `no route ${request.method} ${request.path}` } });
  }
}

/** Starts an OpenAI-compatible server (models, chat completions with SSE) on 127.0.0.1 and a free port. */
export function startFakeOpenAi(behaviour: FakeBehaviour = {}): Promise<FakeLlmServer> {
  return FakeLlmServer.start(openAiRoutes, behaviour);
}
