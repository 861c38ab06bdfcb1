import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { Manifest as EngineManifest } from '../engine/model/manifest.js';
import { Api } from './api-service.js';
import { helloOperation, recordEvents, startTestServer, type TestServer } from './api-test-support.js';
import { contractCases, prepareWorld, type ContractWorld } from './contract-cases.js';
import { ApiClient, httpTransport, type ApiTransport } from './contract-client.js';
import { methodNames, methods, operationIdSchema, taskIdSchema, type Manifest } from './contract.js';
import { operationIdPattern, taskIdPattern } from '../engine/model/operation.js';
import { inProcessEvents, inProcessTransport } from './in-process-channel.js';

describe('the contract', () => {
  it('has a case for every method', () => {
    const covered = new Set(contractCases.map((c) => c.method));
    expect(methodNames.filter((m) => !covered.has(m))).toEqual([]);
  });

  it('accepts exactly the ids the engine accepts', () => {
    expect(operationIdSchema.def.checks?.length).toBeGreaterThan(0);
    for (const id of ['weather-pull', 'a', 'x-1']) expect(operationIdSchema.safeParse(id).success).toBe(true);
    for (const id of ['Weather', 'a/b', '../x', 'a_b', '']) {
      expect(operationIdSchema.safeParse(id).success).toBe(operationIdPattern.test(id));
    }
    for (const id of ['fetch', '_x', 'a-b_c']) expect(taskIdSchema.safeParse(id).success).toBe(true);
    for (const id of ['1a', '../x', 'a.b', ''])
      expect(taskIdSchema.safeParse(id).success).toBe(taskIdPattern.test(id));
  });

  it('describes the engine manifest (no field of it is unknown to the API)', () => {
    expectTypeOf<EngineManifest>().toExtend<Manifest>();
  });
});

const transports: [string, (target: TestServer) => ApiTransport][] = [
  ['in-process', (target) => inProcessTransport(target.api)],
  ['http', (target) => httpTransport({ baseUrl: target.url, token: target.token })],
];

describe.each(transports)('contract over %s', (_name, makeTransport) => {
  let world: ContractWorld;
  let transport: ApiTransport;

  beforeAll(async () => {
    const target = await startTestServer();
    world = await prepareWorld(target);
    transport = makeTransport(target);
  });

  afterAll(async () => {
    await world.target.close();
  });

  it.each(contractCases.map((c) => [c.name, c] as const))('%s', async (_caseName, c) => {
    const reply = await transport.call(c.method, c.input(world));
    if (c.error !== undefined) {
      expect(reply).toMatchObject({ ok: false, error: { code: c.error } });
      if (!reply.ok && c.issuePaths !== undefined) {
        expect(reply.error.issues?.map((i) => i.path).sort()).toEqual([...c.issuePaths].sort());
        for (const issue of reply.error.issues ?? []) expect(reply.error.message).toContain(issue.message);
      }
      return;
    }
    if (!reply.ok) throw new Error(`${c.method} failed: ${reply.error.code} ${reply.error.message}`);
    const parsed = methods[c.method].output.safeParse(reply.result);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    await c.expect?.(parsed.data, world);
  });
});

describe('events over the in-process channel', () => {
  it('delivers run events and replays what a late subscriber missed', async () => {
    const target = await startTestServer();
    try {
      await target.node.addOperation(helloOperation, 'hello.yaml');
      const before = target.api.hub.seq;
      const client = new ApiClient(inProcessTransport(target.api));
      const recorder = await recordEvents(client, ['run.started', 'run.ended', 'task.log'], { logs: '*' });
      const reply = await client.call('operations.trigger', { id: 'hello' });
      if (reply.outcome !== 'started') throw new Error('not started');
      await recorder.waitFor('run.ended', (e) => e.runId === reply.runId);
      expect(recorder.events[0]).toMatchObject({ event: 'run.started', payload: { runId: reply.runId } });
      expect(recorder.events.some((e) => e.event === 'task.log')).toBe(true);
      client.close();

      const late: string[] = [];
      const stream = inProcessEvents(
        target.api,
        { events: ['run.ended'] },
        { onEvent: (e) => late.push(`${e.event} ${(e.payload as { runId: string }).runId}`) },
        before,
      );
      stream.close();
      expect(late).toEqual([`run.ended ${reply.runId}`]);
    } finally {
      await target.close();
    }
  });
});

describe('runs.summarize', () => {
  it('goes through the node summary service, which announces the new summary as run.summary', async () => {
    const target = await startTestServer();
    try {
      await target.node.addOperation(helloOperation, 'hello.yaml');
      const client = new ApiClient(inProcessTransport(target.api));
      const recorder = await recordEvents(client, ['run.ended', 'run.summary']);
      const started = await client.call('operations.trigger', { id: 'hello' });
      if (started.outcome !== 'started') throw new Error('not started');
      await recorder.waitFor('run.ended', (e) => e.runId === started.runId);
      const { summary } = await client.call('runs.summarize', { runId: started.runId });
      const event = await recorder.waitFor('run.summary', (e) => e.runId === started.runId);
      expect(event).toEqual({ runId: started.runId, operationId: 'hello', summary });
      client.close();
    } finally {
      await target.close();
    }
  });

  it('answers unavailable, saying where it works, on an API without a summary service', async () => {
    const target = await startTestServer();
    const bare = await Api.create(target.node, { logger: target.logger });
    try {
      await target.node.addOperation(helloOperation, 'hello.yaml');
      const started = target.node.trigger('hello', {});
      if (started.type !== 'started') throw new Error('not started');
      await target.node.whenIdle();
      const reply = await bare.call('runs.summarize', { runId: started.runId }, { transport: 'in-process' });
      expect(reply).toMatchObject({ ok: false, error: { code: 'unavailable' } });
      if (!reply.ok) expect(reply.error.message).toContain('ultravisor runs summarize');
    } finally {
      bare.close();
      await target.close();
    }
  });
});
