import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { llmSpecSchema } from '../model/task-specs/llm-spec.js';
import { TaskLog } from '../runner/task-log.js';
import { TaskFailure, type TaskResult } from '../tasks/task-kind.js';
import { startFakeOllama } from './fake-ollama-server.js';
import { startFakeOpenAi } from './fake-openai-server.js';
import type { FakeChatRequest, FakeLlmServer } from './fake-llm-server.js';
import { LlmPool } from './llm-pool.js';
import { estimateTokens } from './llm-provider.js';
import { llmSettingsSchema, type LlmSettings } from './llm-settings.js';
import { createLlmTask, type LlmTaskContext, type LlmTaskOutput } from './llm-task.js';
import { refusedUrl } from './test-support.js';

/** `{{ name }}` from a map: enough templating to see that the kind renders what it should. */
function renderer(values: Record<string, string>): (template: string) => string {
  return (template) => template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, name: string) => values[name] ?? '');
}

describe('llm task kind', () => {
  let server: FakeLlmServer;
  let dir: string;
  let pool: LlmPool;
  let log: TaskLog;
  let settings: LlmSettings;

  beforeEach(async () => {
    server = await startFakeOllama({ contextLength: 4096 });
    dir = await mkdtemp(join(tmpdir(), 'uv-llm-task-'));
    pool = new LlmPool({ env: {} });
    log = new TaskLog(join(dir, 'task.log'));
    settings = llmSettingsSchema.parse({ host: server.url, timeout: '10s' });
  });
  afterEach(async () => {
    pool.close();
    await log.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  function context(
    spec: unknown,
    options: { values?: Record<string, string>; signal?: AbortSignal } = {},
  ): LlmTaskContext {
    return {
      task: { id: 'ask' },
      spec: llmSpecSchema.parse(spec),
      signal: options.signal ?? new AbortController().signal,
      renderString: renderer(options.values ?? {}),
      cwd: dir,
      log,
      logger: pino({ level: 'silent' }),
    };
  }

  async function run(
    spec: unknown,
    options: { values?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<LlmTaskOutput> {
    const kind = createLlmTask({ pool, settings: () => settings });
    const result: TaskResult = await kind.run(context(spec, options));
    return result.output as LlmTaskOutput;
  }

  async function failure(
    spec: unknown,
    options: { values?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<TaskFailure> {
    const err: unknown = await run(spec, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TaskFailure);
    return err as TaskFailure;
  }

  it('renders prompt and system, streams the reply to the log and returns it with token counts', async () => {
    server.behaviour = { ...server.behaviour, reply: 'Disk usage is at 80 percent.' };
    const output = await run(
      { prompt: 'How full is {{ params.disk }}?', system: 'You are {{ params.role }}.' },
      { values: { 'params.disk': '/dev/sda1', 'params.role': 'a sysadmin' } },
    );
    expect(output).toMatchObject({
      text: 'Disk usage is at 80 percent.',
      model: 'llama3.2',
      chunks: 1,
      calls: 1,
    });
    expect(output.promptTokens).toBeGreaterThan(0);
    expect(output.completionTokens).toBe(6);
    const [seen] = server.chats('/api/chat');
    expect(seen).toMatchObject({ prompt: 'How full is /dev/sda1?', system: 'You are a sysadmin.' });
    await log.close();
    expect(await readFile(join(dir, 'task.log'), 'utf8')).toContain('Disk usage is at 80 percent.');
  });

  it('feeds file contents from a glob into the prompt', async () => {
    await writeFile(join(dir, 'a.txt'), 'alpha contents');
    await writeFile(join(dir, 'b.txt'), 'beta contents');
    await writeFile(join(dir, 'c.md'), 'not me');
    await run({ prompt: 'Summarise the files.', files: '*.txt' });
    const [seen] = server.chats('/api/chat');
    expect(seen?.prompt).toContain('=== file: a.txt ===\nalpha contents');
    expect(seen?.prompt).toContain('=== file: b.txt ===\nbeta contents');
    expect(seen?.prompt).not.toContain('not me');
  });

  it('fails clearly on a listed file that does not exist', async () => {
    const err = await failure({ prompt: 'x', files: ['missing.txt'] });
    expect(err.message).toMatch(/llm\.files\[0\] \(missing\.txt\): cannot read/);
    expect(server.count('/api/chat')).toBe(0);
  });

  const schema = {
    type: 'object',
    properties: { severity: { type: 'string', enum: ['low', 'high'] }, count: { type: 'integer' } },
    required: ['severity', 'count'],
  };

  it('returns parsed JSON that matches the schema, asking the server for that schema', async () => {
    server.behaviour = { ...server.behaviour, reply: '```json\n{"severity":"high","count":3}\n```' };
    const output = await run({ prompt: 'Rate it.', schema });
    expect(output.json).toEqual({ severity: 'high', count: 3 });
    expect(output.text).toBeUndefined();
    expect(server.chats('/api/chat')[0]?.format).toEqual(schema);
  });

  it('retries once with the validation error when the reply breaks the schema', async () => {
    const replies = ['{"severity":"medium","count":"three"}', '{"severity":"low","count":3}'];
    server.behaviour = { ...server.behaviour, reply: () => replies.shift() ?? 'none left' };
    const output = await run({ prompt: 'Rate it.', schema });
    expect(output.json).toEqual({ severity: 'low', count: 3 });
    expect(output.calls).toBe(2);
    const second = server.chats('/api/chat')[1];
    expect(second?.prompt).toContain('does not match the schema');
    expect(second?.prompt).toContain('severity');
  });

  it('fails after one retry when the reply still breaks the schema', async () => {
    server.behaviour = { ...server.behaviour, reply: '{"severity":"medium"}' };
    const err = await failure({ prompt: 'Rate it.', schema });
    expect(err.message).toMatch(/rejected twice: the JSON does not match the schema/);
    expect(err.details.output).toMatchObject({ text: '{"severity":"medium"}', calls: 2 });
    expect(server.count('/api/chat')).toBe(2);
  });

  it('fails after one retry on a reply that is not JSON at all', async () => {
    server.behaviour = { ...server.behaviour, reply: 'Sure! Here is your JSON: {oops' };
    const err = await failure({ prompt: 'Give JSON.', format: 'json' });
    expect(err.message).toMatch(/not valid JSON/);
    expect(server.count('/api/chat')).toBe(2);
  });

  it('splits input 20 times the context into parts and reduces them in stages', async () => {
    const context = 512;
    server.behaviour = {
      contextLength: context,
      reply: (req: FakeChatRequest) => {
        const part = /This is part (\d+) of (\d+)/.exec(req.prompt);
        if (part === null) return 'FINAL ANSWER';
        // Long enough that the first stage's summaries do not fit either: a second stage follows.
        return `Notes on part ${part[1]} of ${part[2]}: ${'the disk filled up at night '.repeat(3)}`;
      },
    };
    const line = 'Mar 14 02:00:01 nas backup[123]: copied file /srv/photos/IMG_0001.jpg (3.1 MB)\n';
    const input = line.repeat(Math.ceil((20 * context * 4) / line.length));
    const output = await run(
      { prompt: 'What went wrong last night?', input: '{{ log }}' },
      { values: { log: input } },
    );

    expect(output.text).toBe('FINAL ANSWER');
    expect(output.chunks).toBeGreaterThanOrEqual(20);
    const chats = server.chats('/api/chat');
    const stage1 = chats.filter((c) => c.prompt.includes(`of ${output.chunks} of the material`));
    const later = chats.filter((c) => c.prompt.includes('<part>') && !stage1.includes(c));
    expect(stage1).toHaveLength(output.chunks);
    expect(later.length).toBeGreaterThan(0);
    expect(output.calls).toBe(chats.length);
    for (const chat of chats) {
      expect(estimateTokens((chat.system ?? '') + chat.prompt)).toBeLessThanOrEqual(context);
      expect(chat.options).toMatchObject({ num_ctx: context });
    }
    const final = chats[chats.length - 1];
    expect(final?.prompt).toMatch(/^What went wrong last night\?/);
    expect(final?.prompt).toContain(`condensed from ${output.chunks} parts`);
    expect(final?.prompt).toContain('Notes on part');
    expect(chats.slice(0, -1).every((c) => typeof c.options.num_predict === 'number')).toBe(true);
  });

  it('refuses a prompt that alone is larger than the context, pointing at input', async () => {
    server.behaviour = { contextLength: 512 };
    const err = await failure({ prompt: '{{ log }}' }, { values: { log: 'x'.repeat(4000) } });
    expect(err.message).toMatch(/move long material from the prompt into llm\.input or llm\.files/);
    expect(server.count('/api/chat')).toBe(0);
  });

  it('fails with a clear message when the provider is down', async () => {
    settings = llmSettingsSchema.parse({ host: await refusedUrl(), contextTokens: 2048 });
    const err = await failure({ prompt: 'hi' });
    expect(err.message).toMatch(/Ollama at http:\/\/127\.0\.0\.1:\d+ is not reachable/);
  });

  it('stops when the run is cancelled', async () => {
    server.behaviour = { ...server.behaviour, hold: true };
    const controller = new AbortController();
    const pending = failure({ prompt: 'hi' }, { signal: controller.signal });
    await server.waitForHeld(1);
    controller.abort(new Error('run cancelled by user'));
    const err = await pending;
    expect(err.message).toBe('cancelled: run cancelled by user');
    await server.waitForAbandoned(1);
  });

  it('layers the operation override under the task spec', async () => {
    server.behaviour = { ...server.behaviour, models: ['llama3.2', 'qwen2.5', 'phi3'] };
    const kind = createLlmTask({ pool, settings: () => settings });
    const ctx = context({ prompt: 'hi' });
    await kind.run({ ...ctx, operation: { llm: { model: 'qwen2.5' } } });
    await kind.run({
      ...ctx,
      spec: llmSpecSchema.parse({ prompt: 'hi', model: 'phi3' }),
      operation: { llm: { model: 'qwen2.5' } },
    });
    expect(server.chats('/api/chat').map((c) => c.model)).toEqual(['qwen2.5', 'phi3']);
  });

  it('uses the provider and server the task names', async () => {
    const openai = await startFakeOpenAi({ reply: 'from the other server', models: ['phi'] });
    try {
      const output = await run(
        {
          prompt: 'hi',
          provider: 'openai',
          model: 'phi',
          llm: { baseUrl: '{{ url }}', contextTokens: 2048 },
        },
        { values: { url: openai.url } },
      );
      expect(output).toMatchObject({ text: 'from the other server', model: 'phi' });
      expect(server.count('/api/chat')).toBe(0);
    } finally {
      await openai.close();
    }
  });
});

describe('llm spec', () => {
  it('implies format json from a schema', () => {
    expect(llmSpecSchema.parse({ prompt: 'x', schema: { type: 'object' } }).format).toBe('json');
    expect(llmSpecSchema.parse({ prompt: 'x' }).format).toBe('text');
  });

  it('rejects a schema with format text, an unusable schema and unknown keys', () => {
    const text = llmSpecSchema.safeParse({ prompt: 'x', format: 'text', schema: { type: 'object' } });
    expect(text.error?.issues[0]?.message).toMatch(/schema needs format: json/);
    const bad = llmSpecSchema.safeParse({ prompt: 'x', schema: { type: 'no-such-type' } });
    expect(bad.success).toBe(false);
    expect(llmSpecSchema.safeParse({ prompt: 'x', promt: 'y' }).success).toBe(false);
  });
});
