import type { ServerResponse } from 'node:http';
import {
  chatRequestOf,
  FakeLlmServer,
  tokensOf,
  type FakeBehaviour,
  type RecordedRequest,
} from './fake-llm-server.js';

function models(server: FakeLlmServer): string[] {
  return server.behaviour.models ?? ['llama3.2'];
}

async function chatOrGenerate(
  server: FakeLlmServer,
  request: RecordedRequest,
  res: ServerResponse,
): Promise<void> {
  const chat = chatRequestOf(request.path, request.body);
  const b = server.behaviour;
  if (!(await server.gate(res))) return;
  if (b.status !== undefined) {
    server.json(res, b.status, { error: `fake failure ${b.status}` });
    return;
  }
  const name = models(server).find((m) => m === chat.model || m === `${chat.model}:latest`);
  if (name === undefined) {
    server.json(res, 404, { error: `model "${chat.model}" not found, try pulling it first` });
    return;
  }
  if (b.stall === 'headers') {
    await server.stallUntilClientLeaves(res);
    return;
  }
  const isChat = request.path === '/api/chat';
  const text = server.replyFor(chat);
  const piece = (content: string, done: boolean): Record<string, unknown> => ({
    model: name,
    created_at: new Date().toISOString(),
    ...(isChat ? { message: { role: 'assistant', content } } : { response: content }),
    done,
    ...(done
      ? {
          done_reason: 'stop',
          total_duration: 1_000_000,
          prompt_eval_count: Math.ceil(((chat.system ?? '') + chat.prompt).length / 4),
          eval_count: tokensOf(text).length,
        }
      : {}),
  });
  if (!chat.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(b.malformed === true ? '{"model": "broken' : JSON.stringify({ ...piece(text, true) }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  if (b.malformed === true) {
    res.end('{"model":"llama3.2","message":{"role":"assistant","cont\nthis is not json\n');
    return;
  }
  const tokens = tokensOf(text);
  for (const [i, token] of tokens.entries()) {
    res.write(`${JSON.stringify(piece(token, false))}\n`);
    if (i === 0 && b.stall === 'mid-stream') {
      await server.stallUntilClientLeaves(res);
      return;
    }
  }
  res.end(`${JSON.stringify(piece('', true))}\n`);
}

/** Routes of the Ollama API that Ultravisor uses: tags, show, chat and generate. */
async function ollamaRoutes(
  server: FakeLlmServer,
  request: RecordedRequest,
  res: ServerResponse,
): Promise<void> {
  const b = server.behaviour;
  switch (`${request.method} ${request.path}`) {
    case 'GET /api/tags':
      if (b.status !== undefined) {
        server.json(res, b.status, { error: `fake failure ${b.status}` });
      } else if (b.malformed === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"models": [');
      } else {
        server.json(res, 200, {
          models: models(server).map((name) => ({
            name,
            model: name,
            modified_at: new Date(0).toISOString(),
            size: 2_019_393_189,
            digest: 'a80c4f17acd5',
            details: {
              format: 'gguf',
              family: 'llama',
              parameter_size: '3.2B',
              quantization_level: 'Q4_K_M',
            },
          })),
        });
      }
      return;
    case 'POST /api/show':
      if (b.status !== undefined) {
        server.json(res, b.status, { error: `fake failure ${b.status}` });
        return;
      }
      server.json(res, 200, {
        details: { family: 'llama' },
        model_info: { 'general.architecture': 'llama', 'llama.context_length': b.contextLength ?? 131072 },
        capabilities: ['completion'],
      });
      return;
    case 'POST /api/chat':
    case 'POST /api/generate':
      await chatOrGenerate(server, request, res);
      return;
    default:
      server.json(res, 404, { error: `no route ${request.method} ${request.path}` });
  }
}

/** Starts an Ollama-API-compatible server on 127.0.0.1 and a free port. */
export function startFakeOllama(behaviour: FakeBehaviour = {}): Promise<FakeLlmServer> {
  return FakeLlmServer.start(ollamaRoutes, behaviour);
}
