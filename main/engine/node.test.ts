import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { parseOperation } from './model/load-operation.js';
import { openEngine } from './open-engine.js';
import { manifestSchema, type Manifest } from './model/manifest.js';
import { UltravisorNode } from './node.js';
import { OperationStore } from './operations/operation-store.js';
import { setNodePaused, setOperationPaused } from './triggers/control-file.js';
import type { SchedulerEvent } from './triggers/scheduler.js';
import { submitTriggerRequest } from './triggers/trigger-requests.js';

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'uv-node-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A started node on a fresh data dir (or the given one), stopped after the test. */
async function startNode(
  dataDir?: string,
  watchDataDir = false,
): Promise<{ node: UltravisorNode; events: SchedulerEvent[] }> {
  const dir = dataDir ?? (await tempDir());
  const node = await UltravisorNode.open({ dataDir: dir, logger: silentLogger(), watchDataDir });
  const events: SchedulerEvent[] = [];
  node.scheduler.on('event', (e) => events.push(e));
  await node.start();
  cleanups.push(() => node.stop({ graceMs: 0 }));
  return { node, events };
}

/** Resolves when `count` matching scheduler events have been seen; rejects after `timeoutMs`. */
function waitForEvents(
  node: UltravisorNode,
  events: SchedulerEvent[],
  match: (e: SchedulerEvent) => boolean,
  count: number,
  timeoutMs: number,
): Promise<SchedulerEvent[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = events.filter(match);
      if (found.length < count) return false;
      clearTimeout(timer);
      node.scheduler.off('event', onEvent);
      resolve(found);
      return true;
    };
    const onEvent = (): void => {
      check();
    };
    const timer = setTimeout(() => {
      node.scheduler.off('event', onEvent);
      reject(new Error(`timed out waiting for ${count} events; saw ${JSON.stringify(events.filter(match))}`));
    }, timeoutMs);
    node.scheduler.on('event', onEvent);
    check();
  });
}

/** Polls until `condition` holds; for state that has no event to await. */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const fired =
  (operationId: string) =>
  (e: SchedulerEvent): e is Extract<SchedulerEvent, { type: 'fired' }> =>
    e.type === 'fired' && e.operationId === operationId;

async function manifestOf(node: UltravisorNode, operationId: string, runId: string): Promise<Manifest> {
  const path = join(node.dataDir, 'runs', operationId, runId, 'manifest.json');
  return manifestSchema.parse(JSON.parse(await readFile(path, 'utf8')));
}

async function runManifests(
  node: UltravisorNode,
  events: SchedulerEvent[],
  operationId: string,
): Promise<Manifest[]> {
  await node.whenIdle();
  const runs = events.filter(fired(operationId)).map((e) => e.runId);
  return Promise.all(runs.map((runId) => manifestOf(node, operationId, runId)));
}

const task = (extra = '') =>
  `tasks:\n  - id: mark\n    state: { set: "marks.{{ run.id }}", value: "{{ trigger.kind }}" }${extra}\n`;

describe('UltravisorNode (real time)', () => {
  it('fires a 1-second schedule at least twice in 2.5 s, on time, and the manifest records it', async () => {
    const { node, events } = await startNode();
    await node.addOperation(`id: tick\ntriggers:\n  - schedule: "* * * * * *"\n${task()}`, 'tick.yaml');
    const fires = await waitForEvents(node, events, fired('tick'), 2, 2500);
    for (const e of fires) if (e.type === 'fired') expect(e.latenessMs).toBeLessThan(200);
    const [first] = await runManifests(node, events, 'tick');
    expect(first?.status).toBe('success');
    expect(first?.trigger).toMatchObject({ kind: 'schedule', id: 'schedule-1' });
    expect(first?.trigger.dueAt).toMatch(/\.000Z$/);
    expect(first?.trigger.latenessMs).toBe(
      Date.parse(first?.trigger.firedAt ?? '') - Date.parse(first?.trigger.dueAt ?? ''),
    );
    // The run saw its trigger through templates.
    expect(node.engine.state.global.get(`marks.${first?.runId ?? ''}`)).toBe('schedule');
  });

  it('fires a condition once when a file appears', async () => {
    const dir = await tempDir();
    const flag = join(dir, 'flag');
    const { node, events } = await startNode();
    await node.addOperation(
      `id: flip\ntriggers:\n  - condition: { check: file, path: ${flag}, state: exists }\n    every: 1s\n${task()}`,
      'flip.yaml',
    );
    // The first check runs at arming; wait until it has, and see it did not fire.
    await waitUntil(() => (node.scheduler.status().operations[0]?.triggers[0]?.checks ?? 0) >= 1, 2000);
    expect(events.filter(fired('flip'))).toHaveLength(0);
    await writeFile(flag, 'up');
    await waitForEvents(node, events, fired('flip'), 1, 3000);
    // Still true for two more checks: edge mode does not fire again.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(events.filter(fired('flip'))).toHaveLength(1);
    const [manifest] = await runManifests(node, events, 'flip');
    expect(manifest?.trigger).toMatchObject({
      kind: 'condition',
      id: 'condition-1',
      detail: { mode: 'edge' },
    });
  });

  it('fires a watch trigger once per burst of changes, with globs filtering', async () => {
    const inbox = await tempDir();
    const { node, events } = await startNode();
    await node.addOperation(
      `id: watcher\ntriggers:\n  - watch: { paths: ["${inbox}/**/*.csv"], debounce: 300ms }\n${task()}`,
      'watcher.yaml',
    );
    await node.scheduler.watchersReady();
    await writeFile(join(inbox, 'a.csv'), '1');
    await writeFile(join(inbox, 'b.csv'), '2');
    await writeFile(join(inbox, 'ignored.txt'), '3');
    await waitForEvents(node, events, fired('watcher'), 1, 5000);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(events.filter(fired('watcher'))).toHaveLength(1);
    const [manifest] = await runManifests(node, events, 'watcher');
    expect(manifest?.trigger).toMatchObject({ kind: 'watch', id: 'watch-1' });
    // Writing a new file may show up as add, then change: count at least one event per file.
    expect(manifest?.trigger.detail?.changeCount).toBeGreaterThanOrEqual(2);
    const paths = new Set((manifest?.trigger.detail?.changes as { path: string }[]).map((c) => c.path));
    expect([...paths].sort()).toEqual([join(inbox, 'a.csv'), join(inbox, 'b.csv')]);
  });

  it('chains `after` across three operations, passing each upstream manifest', async () => {
    const { node, events } = await startNode();
    await node.addOperation(`id: extract\n${task()}`, 'extract.yaml');
    await node.addOperation(
      `id: transform\ntriggers: [{ after: { operation: extract } }]\ntasks:\n  - id: note\n    state: { set: "upstream.transform", value: "{{ trigger.upstream.runId }}" }\n`,
      'transform.yaml',
    );
    await node.addOperation(
      `id: load\ntriggers: [{ after: { operation: transform, status: any } }]\ntasks:\n  - id: note\n    state: { set: "upstream.load", value: "{{ trigger.upstream.operationId }}" }\n`,
      'load.yaml',
    );
    expect(node.trigger('extract').type).toBe('started');
    await waitForEvents(node, events, fired('load'), 1, 5000);
    const [extract] = await runManifests(node, events, 'extract');
    const [transform] = await runManifests(node, events, 'transform');
    const [load] = await runManifests(node, events, 'load');
    expect(transform?.trigger).toMatchObject({
      kind: 'after',
      upstream: { runId: extract?.runId, operationId: 'extract', status: 'success' },
    });
    expect(load?.trigger).toMatchObject({
      kind: 'after',
      upstream: { runId: transform?.runId, operationId: 'transform' },
    });
    expect(load?.trigger.upstream).toHaveProperty('links.manifest', transform?.links.manifest);
    expect(node.engine.state.global.get('upstream')).toEqual({
      transform: extract?.runId,
      load: 'transform',
    });
  });

  it('replays `after` for upstream runs that ended while the node was down, once', async () => {
    const dataDir = await tempDir();
    const first = await startNode(dataDir);
    await first.node.addOperation(
      `id: up\ntasks:\n  - { id: t, shell: "exit {{ params.code }}" }\nparams:\n  code: { default: '0' }\n`,
      'up.yaml',
    );
    await first.node.addOperation(
      `id: down\ntriggers: [{ after: { operation: up } }]\ntasks:\n  - id: note\n    state: { set: "seen.{{ trigger.upstream.runId }}", value: 1 }\n`,
      'down.yaml',
    );
    await first.node.stop({ graceMs: 0 });

    // While no node runs, `up` runs from another process (as `ultravisor run` does): once failing, once not.
    const engine = await openEngine(dataDir, silentLogger());
    expect(engine.stores).toBeDefined();
    const up = parseOperation(await readFile(join(dataDir, 'operations', 'up.yaml'), 'utf8'), 'up.yaml');
    const failed = await engine.run({ operation: up, params: { code: '3' } });
    const succeeded = await engine.run({ operation: up });
    engine.close();
    expect([failed.status, succeeded.status]).toEqual(['failure', 'success']);

    const second = await startNode(dataDir);
    const [firing] = await waitForEvents(second.node, second.events, fired('down'), 1, 5000);
    const [down] = await runManifests(second.node, second.events, 'down');
    expect(down?.trigger).toMatchObject({
      kind: 'after',
      upstream: { runId: succeeded.runId, status: 'success' },
    });
    expect(firing).toBeDefined();
    await second.node.stop({ graceMs: 0 });

    const third = await startNode(dataDir);
    await third.node.whenIdle();
    // Nothing must fire: absence has no event to await, so give a replay time to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(third.events.filter(fired('down'))).toEqual([]);
  });

  it('notices operations added, paused, resumed and removed by another process (the CLI)', async () => {
    const dataDir = await tempDir();
    const { node, events } = await startNode(dataDir, true);
    const cli = await OperationStore.open(dataDir, silentLogger());
    await cli.add(`id: outside\ntriggers: [{ every: 1s }]\n${task()}`, 'outside.yaml');
    await waitForEvents(node, events, fired('outside'), 1, 3000);

    await setOperationPaused(dataDir, 'outside', true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const whilePaused = events.filter(fired('outside')).length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(events.filter(fired('outside'))).toHaveLength(whilePaused);
    expect(node.scheduler.status().operations[0]?.paused).toBe(true);

    await setOperationPaused(dataDir, 'outside', false);
    await waitForEvents(node, events, fired('outside'), whilePaused + 1, 3000);

    await setNodePaused(dataDir, true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(node.scheduler.status().paused).toBe(true);
    await setNodePaused(dataDir, false);

    await cli.remove('outside');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const afterRemove = events.filter(fired('outside')).length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(events.filter(fired('outside'))).toHaveLength(afterRemove);
    expect(node.operations.has('outside')).toBe(false);
  });

  it('re-arms an operation edited through the data dir without losing or repeating a firing', async () => {
    const dataDir = await tempDir();
    const { node, events } = await startNode(dataDir, true);
    const cli = await OperationStore.open(dataDir, silentLogger());
    await cli.add(`id: edited\noverlap: parallel\ntriggers: [{ every: 1s }]\n${task()}`, 'edited.yaml');
    await waitForEvents(node, events, fired('edited'), 1, 3000);
    for (let i = 0; i < 6; i++) {
      await cli.add(
        `id: edited\noverlap: parallel\ndescription: v${i}\ntriggers: [{ every: 1s }]\n${task()}`,
        'edited.yaml',
      );
      await new Promise((resolve) => setTimeout(resolve, 250 + (i % 3) * 110));
    }
    await waitForEvents(node, events, fired('edited'), 4, 3000);
    const due = events.filter(fired('edited')).map((e) => e.dueAt);
    const steps = due.slice(1).map((t, i) => t - (due[i] ?? 0));
    expect(new Set(due).size).toBe(due.length);
    expect(steps.every((s) => s === 1000)).toBe(true);
    expect(node.operations.get('edited')?.operation.description).toBe('v5');
  });

  it('answers a trigger request from the CLI with the run it started', async () => {
    const dataDir = await tempDir();
    const { node, events } = await startNode(dataDir, true);
    await node.addOperation(`id: manual\nparams: { who: { default: nobody } }\n${task()}`, 'manual.yaml');
    const reply = await submitTriggerRequest(dataDir, 'manual', { who: 'cli' }, { timeoutMs: 5000 });
    expect(reply).toMatchObject({ ok: true });
    if (!reply.ok) return;
    await node.whenIdle();
    const manifest = await manifestOf(node, 'manual', reply.runId);
    expect(manifest.params).toEqual({ who: 'cli' });
    expect(manifest.trigger).toMatchObject({ kind: 'manual', id: 'manual' });
    expect(manifest.trigger.latenessMs).toBeLessThan(2000);
    expect(events.filter(fired('manual'))).toHaveLength(1);

    const unknown = await submitTriggerRequest(dataDir, 'nope', {}, { timeoutMs: 5000 });
    expect(unknown).toEqual({ ok: false, error: expect.stringMatching(/no operation "nope"/) as unknown });
  });

  it('on stop, lets runs finish within the grace period, then cancels them and says so', async () => {
    const dataDir = await tempDir();
    const node = await UltravisorNode.open({ dataDir, logger: silentLogger(), watchDataDir: false });
    await node.start();
    await node.addOperation('id: slow\ntasks:\n  - id: wait\n    shell: "sleep 30"\n', 'slow.yaml');
    await node.addOperation('id: quick\ntasks:\n  - id: wait\n    shell: "sleep 0.2"\n', 'quick.yaml');
    const slow = node.trigger('slow');
    const quick = node.trigger('quick');
    if (slow.type !== 'started' || quick.type !== 'started') throw new Error('runs did not start');
    const report = await node.stop({ graceMs: 1500 });
    expect(report).toEqual({ running: 2, cancelled: 1 });
    const slowManifest = await manifestOf(node, 'slow', slow.runId);
    expect(slowManifest.status).toBe('cancelled');
    expect(slowManifest.error).toMatch(/node stopping: the 2s grace period ran out/);
    expect((await manifestOf(node, 'quick', quick.runId)).status).toBe('success');
  });

  it('stops when its AbortSignal aborts', async () => {
    const dataDir = await tempDir();
    const node = await UltravisorNode.open({ dataDir, logger: silentLogger(), watchDataDir: false });
    const controller = new AbortController();
    await node.start({ signal: controller.signal, graceMs: 0 });
    controller.abort();
    await expect(node.stop()).resolves.toEqual({ running: 0, cancelled: 0 });
    // The lock is released: another node may serve the data dir now.
    const next = await UltravisorNode.open({ dataDir, logger: silentLogger(), watchDataDir: false });
    await next.start();
    await next.stop();
  });

  it('refuses a second node on the same data dir', async () => {
    const dataDir = await tempDir();
    await startNode(dataDir);
    const second = await UltravisorNode.open({ dataDir, logger: silentLogger(), watchDataDir: false });
    await expect(second.start()).rejects.toThrow(/another ultravisor node \(pid \d+/);
  });
});
