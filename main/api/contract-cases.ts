/**
 * One table of contract cases, run over every transport (in-process and HTTP) by contract.test.ts.
 *
 * Cases run in order against one node per transport; some change what later ones see. Every
 * method of the contract has at least one case (a test checks), so a new method needs one.
 */
import { expect } from 'vitest';
import type { TestServer } from './api-test-support.js';
import { helloOperation, sleeperOperation, tickerOperation } from './api-test-support.js';
import type { ErrorCode, MethodName } from './contract.js';

/** What the cases share: the node and the run made before them. */
export interface ContractWorld {
  target: TestServer;
  /** A finished run of `hello` (who: world). */
  runId: string;
}

export interface ContractCase {
  name: string;
  method: MethodName;
  input: (world: ContractWorld) => unknown;
  /** Checks a successful result (already parsed by the method's output schema). */
  expect?: (result: unknown, world: ContractWorld) => void | Promise<void>;
  /** The call must fail with this code (and, when given, issues at these paths). */
  error?: ErrorCode;
  issuePaths?: string[];
}

/** Prepares a node: three operations, one finished run, state, a notification. */
export async function prepareWorld(target: TestServer): Promise<ContractWorld> {
  const { node, api } = target;
  await node.addOperation(helloOperation, 'hello.yaml');
  await node.addOperation(tickerOperation, 'ticker.yaml');
  await node.addOperation(sleeperOperation, 'sleeper.yaml');
  const outcome = node.trigger('hello', {});
  if (outcome.type !== 'started') throw new Error(`hello did not start: ${outcome.type}`);
  await node.whenIdle();
  await node.engine.state.global.set('weather.oslo', { temp: 21 });
  api.notificationFeed()?.add({ title: 'hello ran', text: 'it said hello', severity: 'success' });
  return { target, runId: outcome.runId };
}

const fields = (value: unknown): Record<string, unknown> => value as Record<string, unknown>;

export const contractCases: ContractCase[] = [
  {
    name: 'node.status describes the node',
    method: 'node.status',
    input: () => ({}),
    expect: (r, w) => {
      expect(r).toMatchObject({ id: w.target.api.identity.id, operations: 3, paused: false, activeRuns: [] });
      expect(fields(r).nextFires).toEqual([expect.objectContaining({ operationId: 'ticker' })]);
    },
  },
  {
    name: 'node.status rejects unknown fields',
    method: 'node.status',
    input: () => ({ x: 1 }),
    error: 'bad-request',
  },
  {
    name: 'cluster.status is standalone',
    method: 'cluster.status',
    input: () => ({}),
    expect: (r) => expect(r).toEqual({ role: 'standalone', peers: [] }),
  },
  {
    name: 'operations.list lists every operation with triggers and next fire time',
    method: 'operations.list',
    input: () => ({}),
    expect: (r) => {
      const ops = fields(r).operations as { id: string; next?: unknown; triggers: unknown[] }[];
      expect(ops.map((o) => o.id)).toEqual(['hello', 'sleeper', 'ticker']);
      expect(ops[2]?.next).toMatchObject({ trigger: 'every-1' });
      expect(ops[2]?.triggers).toEqual([
        expect.objectContaining({ id: 'every-1', kind: 'every', enabled: true }),
      ]);
    },
  },
  {
    name: 'operations.get returns the text as saved',
    method: 'operations.get',
    input: () => ({ id: 'hello' }),
    expect: (r) => {
      expect(fields(r).text).toBe(helloOperation);
      expect(fields(r).operation).toMatchObject({ id: 'hello', name: 'Hello', paused: false });
    },
  },
  {
    name: 'operations.get of an unknown id',
    method: 'operations.get',
    input: () => ({ id: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'operations.get with a bad id',
    method: 'operations.get',
    input: () => ({ id: '../token' }),
    error: 'bad-request',
    issuePaths: ['id'],
  },
  {
    name: 'operations.validate accepts valid text',
    method: 'operations.validate',
    input: () => ({ text: helloOperation }),
    expect: (r) => expect(r).toEqual({ valid: true, id: 'hello', warnings: [] }),
  },
  {
    name: 'operations.validate reports problems with paths',
    method: 'operations.validate',
    input: () => ({ text: 'id: broken\ntasks:\n  - id: a\n    needs: [zzz]\n    shell: "true"\n' }),
    expect: (r) => {
      expect(r).toMatchObject({ valid: false });
      expect(fields(r).issues).toEqual([expect.objectContaining({ path: 'tasks[0].needs[0]' })]);
    },
  },
  {
    name: 'operations.save saves a new operation',
    method: 'operations.save',
    input: () => ({ text: 'id: extra\ntasks:\n  - id: a\n    shell: "true"\n', source: 'extra.yaml' }),
    expect: (r) => expect(r).toMatchObject({ id: 'extra', replaced: false, warnings: [] }),
  },
  {
    name: 'operations.save refuses invalid text and saves nothing',
    method: 'operations.save',
    input: () => ({ text: 'id: extra\ntasks: 12\n' }),
    error: 'bad-request',
    issuePaths: ['tasks'],
  },
  {
    name: 'operations.save needs text',
    method: 'operations.save',
    input: () => ({ text: 5 }),
    error: 'bad-request',
    issuePaths: ['text'],
  },
  {
    name: 'operations.pause pauses one operation',
    method: 'operations.pause',
    input: () => ({ id: 'ticker' }),
    expect: (r, w) => {
      expect(r).toEqual({ id: 'ticker', paused: true });
      const status = w.target.node.scheduler.status().operations.find((o) => o.id === 'ticker');
      expect(status?.paused).toBe(true);
    },
  },
  {
    name: 'operations.list shows the pause',
    method: 'operations.list',
    input: () => ({}),
    expect: (r) => {
      const ops = fields(r).operations as { id: string; paused: boolean }[];
      expect(ops.find((o) => o.id === 'ticker')?.paused).toBe(true);
    },
  },
  {
    name: 'operations.resume resumes it',
    method: 'operations.resume',
    input: () => ({ id: 'ticker' }),
    expect: (r) => expect(r).toEqual({ id: 'ticker', paused: false }),
  },
  {
    name: 'operations.pause of an unknown id',
    method: 'operations.pause',
    input: () => ({ id: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'node.pause pauses the node',
    method: 'node.pause',
    input: () => ({}),
    expect: (r, w) => {
      expect(r).toEqual({ paused: true });
      expect(w.target.node.scheduler.status().paused).toBe(true);
    },
  },
  {
    name: 'node.resume resumes it',
    method: 'node.resume',
    input: () => ({}),
    expect: (r, w) => {
      expect(r).toEqual({ paused: false });
      expect(w.target.node.scheduler.status().paused).toBe(false);
    },
  },
  {
    name: 'operations.next gives fire times in order',
    method: 'operations.next',
    input: () => ({ id: 'ticker', count: 3, from: '2030-01-01T00:30:00Z' }),
    expect: (r) => {
      const fires = fields(r).fires as { at: string }[];
      expect(fires.map((f) => f.at)).toEqual([
        '2030-01-01T01:00:00.000Z',
        '2030-01-01T02:00:00.000Z',
        '2030-01-01T03:00:00.000Z',
      ]);
    },
  },
  {
    name: 'operations.next rejects a time that is not one',
    method: 'operations.next',
    input: () => ({ from: 'soonish' }),
    error: 'bad-request',
    issuePaths: ['from'],
  },
  {
    name: 'operations.next rejects a count out of range',
    method: 'operations.next',
    input: () => ({ count: 1000 }),
    error: 'bad-request',
    issuePaths: ['count'],
  },
  {
    name: 'operations.trigger starts a run',
    method: 'operations.trigger',
    input: () => ({ id: 'hello', params: { who: 'api' } }),
    expect: async (r, w) => {
      expect(r).toMatchObject({ outcome: 'started', operationId: 'hello' });
      await w.target.node.whenIdle();
    },
  },
  {
    name: 'operations.trigger refuses unknown params',
    method: 'operations.trigger',
    input: () => ({ id: 'hello', params: { city: 'Oslo' } }),
    error: 'bad-request',
    issuePaths: ['params'],
  },
  {
    name: 'operations.trigger params must be an object',
    method: 'operations.trigger',
    input: () => ({ id: 'hello', params: ['x'] }),
    error: 'bad-request',
    issuePaths: ['params'],
  },
  {
    name: 'operations.trigger of an unknown id',
    method: 'operations.trigger',
    input: () => ({ id: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'operations.delete removes an operation',
    method: 'operations.delete',
    input: () => ({ id: 'extra' }),
    expect: (r, w) => {
      expect(r).toEqual({ id: 'extra', removed: true });
      expect(w.target.node.operations.has('extra')).toBe(false);
    },
  },
  {
    name: 'operations.delete of an unknown id',
    method: 'operations.delete',
    input: () => ({ id: 'extra' }),
    error: 'not-found',
  },
  {
    name: 'runs.list lists runs newest first',
    method: 'runs.list',
    input: () => ({ operationId: 'hello' }),
    expect: (r, w) => {
      const runs = fields(r).runs as { runId: string; status: string }[];
      expect(runs).toHaveLength(2);
      expect(runs[1]?.runId).toBe(w.runId);
      expect(runs.every((run) => run.status === 'success')).toBe(true);
    },
  },
  {
    name: 'runs.list pages with a cursor',
    method: 'runs.list',
    input: () => ({ operationId: 'hello', limit: 1, status: ['success'] }),
    expect: (r) => {
      expect(fields(r).runs).toHaveLength(1);
      expect(typeof fields(r).nextCursor).toBe('string');
    },
  },
  {
    name: 'runs.list says which field is wrong',
    method: 'runs.list',
    input: () => ({ limit: 'ten', status: 'done' }),
    error: 'bad-request',
    issuePaths: ['status', 'limit'],
  },
  {
    name: 'runs.list rejects a cursor from elsewhere',
    method: 'runs.list',
    input: () => ({ cursor: 'bm90LWEtY3Vyc29y' }),
    error: 'bad-request',
  },
  {
    name: 'runs.get returns the row and the manifest',
    method: 'runs.get',
    input: (w) => ({ runId: w.runId }),
    expect: (r, w) => {
      expect(fields(r).run).toMatchObject({ runId: w.runId, operationId: 'hello', status: 'success' });
      const manifest = fields(fields(r).manifest);
      expect(manifest.runId).toBe(w.runId);
      expect((manifest.tasks as { id: string }[]).map((t) => t.id)).toEqual([
        'greet',
        'save',
        'keep',
        'quiet',
      ]);
    },
  },
  {
    name: 'runs.get of an unknown run',
    method: 'runs.get',
    input: () => ({ runId: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'runs.cancel of a run that is not running',
    method: 'runs.cancel',
    input: (w) => ({ runId: w.runId }),
    expect: (r, w) => expect(r).toEqual({ runId: w.runId, cancelled: false }),
  },
  {
    name: 'runs.cancel cancels a run in progress',
    method: 'runs.cancel',
    input: (w) => {
      const outcome = w.target.node.trigger('sleeper', {});
      if (outcome.type !== 'started') throw new Error(`sleeper did not start: ${outcome.type}`);
      return { runId: outcome.runId, reason: 'contract test' };
    },
    expect: async (r, w) => {
      expect(r).toMatchObject({ cancelled: true });
      await w.target.node.whenIdle();
      const runId = fields(r).runId as string;
      const row = w.target.node.engine.stores?.runs.get(runId);
      expect(row?.status).toBe('cancelled');
    },
  },
  {
    name: 'runs.retry runs it again with the same params',
    method: 'runs.retry',
    input: (w) => ({ runId: w.runId }),
    expect: async (r, w) => {
      expect(r).toMatchObject({ outcome: 'started', operationId: 'hello' });
      await w.target.node.whenIdle();
    },
  },
  {
    name: 'runs.summarize writes the summary again',
    method: 'runs.summarize',
    input: (w) => ({ runId: w.runId }),
    expect: (r, w) => {
      expect(r).toMatchObject({ runId: w.runId, summary: { source: 'engine' } });
      expect((fields(r).summary as { title: string }).title).toContain('succeeded');
    },
  },
  {
    name: 'runs.summarize of an unknown run',
    method: 'runs.summarize',
    input: () => ({ runId: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'logs.read reads a task log',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'greet' }),
    expect: (r) => {
      expect(r).toMatchObject({ offset: 0, eof: true, live: false });
      expect(fields(r).text).toContain('\nhello world\n');
      expect(fields(r).nextOffset).toBe(fields(r).size);
    },
  },
  {
    name: 'logs.read reads a byte range',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'greet', offset: 0, length: 3 }),
    expect: (r) => expect(r).toMatchObject({ text: '» ', offset: 0, nextOffset: 3, eof: false }),
  },
  {
    name: 'logs.read never ends a range inside a character',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'greet', offset: 0, length: 1 }),
    expect: (r) => expect(r).toMatchObject({ text: '', offset: 0, nextOffset: 0 }),
  },
  {
    name: 'logs.read of a success that printed nothing (no log file) reads as empty',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'quiet' }),
    expect: (r) => expect(r).toEqual({ text: '', offset: 0, nextOffset: 0, size: 0, eof: true, live: false }),
  },
  {
    name: 'logs.read of a task the run does not have',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'nope' }),
    error: 'not-found',
  },
  {
    name: 'logs.read never leaves the run folder',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: '../../../../token' }),
    error: 'bad-request',
    issuePaths: ['taskId'],
  },
  {
    name: 'logs.read rejects a negative offset',
    method: 'logs.read',
    input: (w) => ({ runId: w.runId, taskId: 'greet', offset: -1 }),
    error: 'bad-request',
    issuePaths: ['offset'],
  },
  {
    name: 'state.get reads a path',
    method: 'state.get',
    input: () => ({ scope: 'global', path: 'weather.oslo' }),
    expect: (r) => expect(r).toEqual({ scope: 'global', path: 'weather.oslo', value: { temp: 21 } }),
  },
  {
    name: 'state.get names the bad field',
    method: 'state.get',
    input: () => ({ scope: 'cluster' }),
    error: 'bad-request',
    issuePaths: ['scope'],
  },
  {
    name: 'state.set sets a value',
    method: 'state.set',
    input: () => ({ scope: 'node', path: 'mode', value: 'quiet' }),
    expect: (r, w) => {
      expect(r).toEqual({ scope: 'node', path: 'mode', op: 'set' });
      expect(w.target.node.engine.state.node.get('mode')).toBe('quiet');
    },
  },
  {
    name: 'state.set merge needs an object',
    method: 'state.set',
    input: () => ({ scope: 'global', path: 'weather', op: 'merge', value: 3 }),
    error: 'bad-request',
    issuePaths: ['value'],
  },
  {
    name: 'state.set refuses reserved keys',
    method: 'state.set',
    input: () => ({ scope: 'global', path: 'a.__proto__.b', value: 1 }),
    error: 'bad-request',
    issuePaths: ['path'],
  },
  {
    name: 'data.collections counts records',
    method: 'data.collections',
    input: () => ({}),
    expect: (r) => expect(fields(r).collections).toEqual([{ collection: 'greetings', count: 2 }]),
  },
  {
    name: 'data.query filters with where clauses',
    method: 'data.query',
    input: () => ({ collection: 'greetings', where: ['data.who == "api"'] }),
    expect: (r) => {
      const records = fields(r).records as { key?: string; data: unknown }[];
      expect(records).toEqual([expect.objectContaining({ key: 'api', data: { who: 'api' } })]);
    },
  },
  {
    name: 'data.query explains a bad where clause',
    method: 'data.query',
    input: () => ({ collection: 'greetings', where: ['who is api'] }),
    error: 'bad-request',
  },
  {
    name: 'files.list lists stored files with download links',
    method: 'files.list',
    input: (w) => ({ runId: w.runId }),
    expect: (r) => {
      const files = fields(r).files as { name: string; download: string; size: number }[];
      expect(files).toHaveLength(1);
      expect(files[0]).toMatchObject({ name: 'greeting.txt', size: 'hello world'.length });
      expect(files[0]?.download).toMatch(/^\/files\/\d+/);
    },
  },
  {
    name: 'notifications.list lists the pane',
    method: 'notifications.list',
    input: () => ({}),
    expect: (r) => {
      expect(fields(r).unread).toBe(1);
      expect(fields(r).items).toEqual([expect.objectContaining({ title: 'hello ran', severity: 'success' })]);
    },
  },
  {
    name: 'notifications.markRead marks all read',
    method: 'notifications.markRead',
    input: () => ({ ids: 'all' }),
    expect: (r) => expect(r).toEqual({ marked: 1, unread: 0 }),
  },
  {
    name: 'notifications.markRead needs ids',
    method: 'notifications.markRead',
    input: () => ({ ids: [] }),
    error: 'bad-request',
    issuePaths: ['ids'],
  },
  {
    name: 'settings.get gives defaults',
    method: 'settings.get',
    input: () => ({}),
    expect: (r) =>
      expect(r).toEqual({
        ui: { theme: 'system', pageSize: 50 },
        notifications: { desktop: true, minSeverity: 'warning' },
      }),
  },
  {
    name: 'settings.set changes one field',
    method: 'settings.set',
    input: () => ({ ui: { theme: 'dark' } }),
    expect: (r) => expect(fields(r).ui).toEqual({ theme: 'dark', pageSize: 50 }),
  },
  {
    name: 'settings.set names the bad field',
    method: 'settings.set',
    input: () => ({ ui: { theme: 'pink' } }),
    error: 'bad-request',
    issuePaths: ['ui.theme'],
  },
  {
    name: 'llm.models without an LLM configured',
    method: 'llm.models',
    input: () => ({}),
    expect: (r) => expect(r).toMatchObject({ configured: false }),
  },
  {
    name: 'settings.set configures an LLM',
    method: 'settings.set',
    input: () => ({ llm: { provider: 'ollama', host: 'http://127.0.0.1:9', model: 'tiny' } }),
    expect: (r) =>
      expect(fields(r).llm).toEqual({ provider: 'ollama', host: 'http://127.0.0.1:9', model: 'tiny' }),
  },
  {
    name: 'llm.models reports an LLM server that does not answer',
    method: 'llm.models',
    input: () => ({}),
    expect: (r) => {
      expect(r).toMatchObject({ configured: true, provider: 'ollama', defaultModel: 'tiny', models: [] });
      expect(typeof fields(r).error).toBe('string');
    },
  },
  {
    name: 'settings.set takes every LLM field the engine reads',
    method: 'settings.set',
    input: () => ({
      llm: { apiKey: 'k', timeout: '30s', concurrency: 2, maxQueue: 4, contextTokens: 4096 },
    }),
    expect: (r) =>
      expect(fields(r).llm).toEqual({
        provider: 'ollama',
        host: 'http://127.0.0.1:9',
        model: 'tiny',
        apiKey: 'k',
        timeout: '30s',
        concurrency: 2,
        maxQueue: 4,
        contextTokens: 4096,
      }),
  },
  {
    name: 'settings.set names a bad LLM timeout',
    method: 'settings.set',
    input: () => ({ llm: { timeout: 'soon' } }),
    error: 'bad-request',
    issuePaths: ['llm.timeout'],
  },
];
