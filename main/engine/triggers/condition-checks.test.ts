import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOperation } from '../model/load-operation.js';
import type { ConditionCheck } from '../model/trigger-spec.js';
import { openStateStores } from '../state/state-stores.js';
import { runCheck, type CheckContext } from './condition-checks.js';

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uv-checks-'));
  server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, queue: 7 }));
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 2000);
    } else {
      res.writeHead(503);
      res.end('down');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** A check as an operation file would give it. */
function check(yaml: string): ConditionCheck {
  const op = parseOperation(
    `id: c\ntriggers:\n  - condition: ${yaml}\ntasks: [{ id: t, state: { set: a, value: 1 } }]\n`,
    'c.yaml',
  );
  const trigger = op.triggers[0];
  if (trigger?.kind !== 'condition') throw new Error('not a condition');
  return trigger.condition;
}

function ctx(extra: Partial<CheckContext> = {}): CheckContext {
  return { signal: new AbortController().signal, baseDir: dir, timeoutMs: 5000, ...extra };
}

describe('condition checks', () => {
  it('disk: free space below a threshold', async () => {
    expect((await runCheck(check(`{ check: disk, path: ${dir}, below: 1000TB }`), ctx())).value).toBe(true);
    const small = await runCheck(check(`{ check: disk, path: ${dir}, below: 1 }`), ctx());
    expect(small.value).toBe(false);
    expect(small.detail.freeBytes).toBeGreaterThan(0);
    await expect(runCheck(check('{ check: disk, path: /no/such/place, below: 1GB }'), ctx())).rejects.toThrow(
      /ENOENT/,
    );
  });

  it('memory and load against thresholds', async () => {
    expect((await runCheck(check('{ check: memory, above: 0 }'), ctx())).value).toBe(true);
    expect((await runCheck(check('{ check: memory, above: 100 }'), ctx())).value).toBe(false);
    expect((await runCheck(check('{ check: load, above: 100000 }'), ctx())).value).toBe(false);
  });

  it('cpu: the first check measures, the next compares', async () => {
    const first = await runCheck(check('{ check: cpu, above: -1 }'), ctx());
    expect(first.value).toBe(false);
    expect(first.cpu).toBeDefined();
    const started = Date.now();
    while (Date.now() - started < 50) Math.sqrt(Math.random());
    const second = await runCheck(
      check('{ check: cpu, above: -1 }'),
      ctx(first.cpu ? { previousCpu: first.cpu } : {}),
    );
    expect(second.value).toBe(true);
    expect(second.detail.cpuPercent).toBeGreaterThanOrEqual(0);
  });

  it('file: exists, missing, changed (relative to the operation folder)', async () => {
    const exists = check('{ check: file, path: flag, state: exists }');
    const missing = check('{ check: file, path: flag, state: missing }');
    const changed = check('{ check: file, path: flag, state: changed }');
    expect((await runCheck(exists, ctx())).value).toBe(false);
    expect((await runCheck(missing, ctx())).value).toBe(true);
    const baseline = await runCheck(changed, ctx());
    expect(baseline).toMatchObject({ value: false, signature: 'missing' });
    await writeFile(join(dir, 'flag'), 'one');
    expect((await runCheck(exists, ctx())).value).toBe(true);
    const appeared = await runCheck(changed, ctx({ previousSignature: baseline.signature ?? '' }));
    expect(appeared.value).toBe(true);
    const same = await runCheck(changed, ctx({ previousSignature: appeared.signature ?? '' }));
    expect(same.value).toBe(false);
    await utimes(join(dir, 'flag'), new Date(), new Date(Date.now() + 5000));
    expect((await runCheck(changed, ctx({ previousSignature: same.signature ?? '' }))).value).toBe(true);
  });

  it('http: status, JSON expression, failures and timeouts', async () => {
    expect((await runCheck(check(`{ check: http, url: "${base}/health" }`), ctx())).value).toBe(true);
    expect((await runCheck(check(`{ check: http, url: "${base}/down" }`), ctx())).value).toBe(false);
    expect((await runCheck(check(`{ check: http, url: "${base}/down", status: 503 }`), ctx())).value).toBe(
      true,
    );
    const expectQueue = check(`{ check: http, url: "${base}/health", expect: "response.body.queue > 5" }`);
    expect(await runCheck(expectQueue, ctx())).toMatchObject({ value: true, detail: { status: 200 } });
    const notOk = check(
      `{ check: http, url: "${base}/health", status: 200, expect: "response.body.ok == false" }`,
    );
    expect((await runCheck(notOk, ctx())).value).toBe(false);
    await expect(
      runCheck(check(`{ check: http, url: "${base}/slow", timeout: 200ms }`), ctx()),
    ).rejects.toThrow(/GET .*\/slow failed/);
    await expect(runCheck(check('{ check: http, url: "http://127.0.0.1:1/" }'), ctx())).rejects.toThrow(
      /failed/,
    );
  });

  it('state: an expression over global and node state', async () => {
    const state = await openStateStores(dir);
    await state.global.set('queue', [1, 2, 3]);
    await state.node.set('mode', 'busy');
    const c = check('{ check: state, expect: "len(state.global.queue) > 2 && state.node.mode == \'busy\'" }');
    expect((await runCheck(c, ctx({ state }))).value).toBe(true);
    await state.global.set('queue', []);
    expect((await runCheck(c, ctx({ state }))).value).toBe(false);
    await expect(runCheck(c, ctx())).rejects.toThrow(/no state stores/);
  });

  it('shell: exit code, argv and string forms, and a timeout that kills the tree', async () => {
    expect((await runCheck(check('{ check: shell, command: "exit 0" }'), ctx())).value).toBe(true);
    expect((await runCheck(check('{ check: shell, command: "exit 3" }'), ctx())).value).toBe(false);
    expect((await runCheck(check('{ check: shell, command: "exit 3", exitCode: 3 }'), ctx())).value).toBe(
      true,
    );
    expect((await runCheck(check('{ check: shell, command: [test, -d, "."] }'), ctx())).value).toBe(true);
    const started = Date.now();
    await expect(
      runCheck(check('{ check: shell, command: "sleep 30 & sleep 30; wait", timeout: 300ms }'), ctx()),
    ).rejects.toThrow(/timed out after 300 ms \(killed\)/);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(runCheck(check('{ check: shell, command: [/no/such/binary] }'), ctx())).rejects.toThrow(
      /ENOENT/,
    );
  });
});
