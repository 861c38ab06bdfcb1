import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.js';
import { manifestSchema } from '../model/manifest.js';
import { parseOperation } from '../model/load-operation.js';
import { ParamError } from './params.js';
import { runYaml, task, testEngine } from './run-test-helpers.js';

let engine: Engine;
let dataDir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ engine, dataDir, cleanup } = await testEngine());
});
afterEach(async () => {
  await cleanup();
});

describe('task graph', () => {
  it('runs independent tasks in parallel and dependents after their needs', async () => {
    const m = await runYaml(
      engine,
      `id: g
tasks:
  - { id: a, shell: 'sleep 0.3; echo a' }
  - { id: b, shell: 'sleep 0.3; echo b' }
  - { id: c, needs: [a, b], shell: "printf %s {{ tasks.a.output.stdout }}" }
`,
    );
    expect(m.status).toBe('success');
    const [a, b, c] = [task(m, 'a'), task(m, 'b'), task(m, 'c')];
    expect(Date.parse(b.startedAt ?? '')).toBeLessThan(Date.parse(a.endedAt ?? ''));
    expect(Date.parse(c.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(a.endedAt ?? ''));
    expect(Date.parse(c.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(b.endedAt ?? ''));
    expect(c.output).toMatchObject({ stdout: 'a\n' });
  });

  it('never runs more tasks at once than concurrency', async () => {
    const m = await runYaml(
      engine,
      `id: g
concurrency: 1
tasks:
  - { id: a, shell: 'sleep 0.2' }
  - { id: b, shell: 'sleep 0.2' }
`,
    );
    const [a, b] = [task(m, 'a'), task(m, 'b')];
    const [first, second] = Date.parse(a.startedAt ?? '') <= Date.parse(b.startedAt ?? '') ? [a, b] : [b, a];
    expect(Date.parse(second.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(first.endedAt ?? ''));
  });

  it('skips on a false if, skips dependents of failures, and honours runIf and continueOnError', async () => {
    const m = await runYaml(
      engine,
      `id: g
params:
  n: { default: 3 }
tasks:
  - { id: small, if: 'params.n > 5', shell: 'echo big' }
  - { id: after-small, needs: [small], shell: 'echo never' }
  - { id: boom, shell: 'exit 3' }
  - { id: after-boom, needs: [boom], shell: 'echo never' }
  - { id: cleanup, needs: [boom], runIf: always, shell: 'echo cleanup' }
  - { id: on-failure, needs: [boom], runIf: failure, shell: 'echo handling' }
  - { id: not-on-success, needs: [cleanup], runIf: failure, shell: 'echo never' }
  - { id: tolerated, continueOnError: true, shell: 'exit 1' }
  - { id: after-tolerated, needs: [tolerated], shell: 'echo still runs' }
`,
    );
    const status = Object.fromEntries(m.tasks.map((t) => [t.id, t.status]));
    expect(status).toEqual({
      small: 'skipped',
      'after-small': 'skipped',
      boom: 'failure',
      'after-boom': 'skipped',
      cleanup: 'success',
      'on-failure': 'success',
      'not-on-success': 'skipped',
      tolerated: 'failure',
      'after-tolerated': 'success',
    });
    expect(task(m, 'small').skipReason).toBe('if: params.n > 5 was false');
    expect(task(m, 'after-boom').skipReason).toBe('needs boom (failure)');
    expect(task(m, 'boom').exitCode).toBe(3);
    expect(m.status).toBe('failure');
    expect(m.error).toBe('task boom failed');
  });

  it('treats a run whose only failures were tolerated as a success', async () => {
    const m = await runYaml(engine, `id: g\ntasks:\n  - { id: t, continueOnError: true, shell: 'exit 1' }\n`);
    expect(m.status).toBe('success');
  });
});

describe('forEach', () => {
  it('writes no log file for items that succeeded silently, and records their command', async () => {
    const m = await runYaml(
      engine,
      `id: quiet
tasks:
  - id: each
    forEach: [0, 1, 2]
    shell: ['test', '{{ item }}', '!=', '1']
`,
    );
    const each = task(m, 'each');
    expect(each.status).toBe('failure');
    expect(each.executions.map((e) => [e.status, e.command, e.log])).toEqual([
      ['success', "test 0 '!=' 1", undefined],
      ['failure', "test 1 '!=' 1", 'logs/each.1.log'],
      ['success', "test 2 '!=' 1", undefined],
    ]);
    expect(await readFile(join(m.links.run, 'logs/each.1.log'), 'utf8')).toMatch(
      /^» \$ test 1 '!=' 1\n» exited with code 1 after \S+\n» error: exited with code 1\n$/,
    );
    expect(existsSync(join(m.links.run, 'logs/each.0.log'))).toBe(false);
    expect(manifestSchema.safeParse(m).success).toBe(true);
  });

  it('iterates a literal list with per-item logs and collects outputs in order', async () => {
    const m = await runYaml(
      engine,
      `id: f
tasks:
  - id: each
    forEach: [Oslo, Lima, Pune]
    concurrency: 2
    shell: ['echo', '{{ index }}:{{ item }}']
`,
    );
    const each = task(m, 'each');
    expect(each.items).toBe(3);
    expect(each.executions.map((e) => e.log)).toEqual([
      'logs/each.0.log',
      'logs/each.1.log',
      'logs/each.2.log',
    ]);
    expect((each.output as { stdout: string }[]).map((o) => o.stdout)).toEqual([
      '0:Oslo\n',
      '1:Lima\n',
      '2:Pune\n',
    ]);
    expect(await readFile(join(m.links.run, 'logs/each.1.log'), 'utf8')).toContain('\n1:Lima\n');
  });

  it('iterates JSON output, lines of output, and files matching a glob', async () => {
    const m = await runYaml(
      engine,
      `id: f
keepStaging: true
tasks:
  - { id: list, shell: "echo '[\\"a\\", \\"b\\"]'" }
  - { id: from-json, needs: [list], forEach: '{{ tasks.list.output.json }}', shell: ['echo', 'j-{{ item }}'] }
  - { id: lines, shell: "printf 'x\\\\n\\\\ny\\\\n'" }
  - { id: from-lines, needs: [lines], forEach: { lines: '{{ tasks.lines.output.stdout }}' }, shell: ['echo', 'l-{{ item }}'] }
  - { id: make, shell: 'touch one.txt two.txt skip.log' }
  - id: from-glob
    needs: [make]
    forEach: { glob: '*.txt' }
    shell: ['basename', '{{ item }}']
`,
    );
    expect(m.status).toBe('success');
    const outs = (id: string) => (task(m, id).output as { stdout: string }[]).map((o) => o.stdout.trim());
    expect(outs('from-json')).toEqual(['j-a', 'j-b']);
    expect(outs('from-lines')).toEqual(['l-x', 'l-y']);
    expect(outs('from-glob')).toEqual(['one.txt', 'two.txt']);
  });

  it('fails the task when an item fails, after running every item', async () => {
    const m = await runYaml(
      engine,
      `id: f\ntasks:\n  - { id: e, forEach: [0, 1, 0], shell: 'exit {{ item }}' }\n`,
    );
    const e = task(m, 'e');
    expect(e.status).toBe('failure');
    expect(e.executions.map((x) => x.status)).toEqual(['success', 'failure', 'success']);
    expect(e.error).toMatch(/^1 of 3 items did not succeed; item 1: /);
  });
});

describe('retries, timeouts and cancellation', () => {
  it('retries until an attempt succeeds and notes attempts in the log', async () => {
    const m = await runYaml(
      engine,
      `id: r
keepStaging: true
tasks:
  - id: flaky
    retry: { attempts: 3, backoff: 10ms, strategy: exponential }
    shell: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 2 ]'
`,
    );
    const flaky = task(m, 'flaky');
    expect(flaky.status).toBe('success');
    expect(flaky.attempts).toBe(2);
    const log = await readFile(join(m.links.run, flaky.log ?? ''), 'utf8');
    expect(log).toContain('» attempt 1 of 3');
    expect(log).toContain('» attempt 2 of 3');
  });

  it('times a task out, kills its process tree and fails the run', async () => {
    const m = await runYaml(
      engine,
      `id: t
tasks:
  - { id: hang, timeout: 300ms, killGrace: 200ms, shell: "trap '' TERM; sleep 30 & sleep 30; wait" }
`,
    );
    const hang = task(m, 'hang');
    expect(hang.status).toBe('timeout');
    expect(hang.durationMs).toBeLessThan(5000);
    expect(m.status).toBe('failure');
  });

  it('cancels running tasks, marks pending ones cancelled and writes a complete manifest', async () => {
    const op = parseOperation(
      `id: c
tasks:
  - { id: long, shell: 'sleep 30' }
  - { id: later, needs: [long], shell: 'echo never' }
`,
      'c.yaml',
    );
    const handle = engine.start({ operation: op });
    await new Promise<void>((resolve) => {
      engine.on('event', (e) => {
        if (e.type === 'task-started' && e.taskId === 'long') resolve();
      });
    });
    handle.cancel('cancelled by test');
    const m = await handle.done;
    expect(m.status).toBe('cancelled');
    expect(task(m, 'long').status).toBe('cancelled');
    expect(task(m, 'later').status).toBe('cancelled');
    const onDisk = manifestSchema.parse(JSON.parse(await readFile(m.links.manifest, 'utf8')));
    expect(onDisk.status).toBe('cancelled');
    expect(onDisk.endedAt).toBeDefined();
  });

  it('fails the run when the operation timeout passes', async () => {
    const m = await runYaml(engine, `id: t\ntimeout: 300ms\ntasks:\n  - { id: s, shell: 'sleep 30' }\n`);
    expect(m.status).toBe('failure');
    expect(m.error).toMatch(/run timed out/);
    expect(task(m, 's').status).toBe('timeout');
  });
});

describe('templating and safety', () => {
  const hostile = '; rm -rf ~ $(touch pwned) `touch pwned2` \'quoted\' "dq" *';

  it('passes a hostile param as one literal argument in both shell forms', async () => {
    const m = await runYaml(
      engine,
      `id: s
keepStaging: true
params:
  v: { default: x }
tasks:
  - { id: argv, shell: ['printf', '%s|', '{{ params.v }}'] }
  - { id: string, shell: "printf '%s|' {{ params.v }}" }
  - { id: check, needs: [argv, string], shell: 'ls' }
`,
      { params: { v: hostile } },
    );
    expect(m.status).toBe('success');
    expect(task(m, 'argv').output).toMatchObject({ stdout: `${hostile}|` });
    expect(task(m, 'string').output).toMatchObject({ stdout: `${hostile}|` });
    expect(task(m, 'check').output).toMatchObject({ stdout: '' });
  });

  it('stores typed values in state and reads them back', async () => {
    const m = await runYaml(
      engine,
      `id: st
tasks:
  - { id: num, shell: "echo '{\\"temp\\": 26.5}'" }
  - { id: set, needs: [num], state: { set: 'weather.oslo', value: '{{ tasks.num.output.json.temp }}' } }
  - { id: merge, needs: [set], state: { scope: node, merge: 'sensor', value: { ok: true } } }
  - { id: read, needs: [merge], if: 'state.global.weather.oslo > 25', shell: ['echo', '{{ state.node.sensor.ok }}'] }
`,
    );
    expect(m.status).toBe('success');
    expect(task(m, 'read').output).toMatchObject({ stdout: 'true\n' });
    const global: unknown = JSON.parse(await readFile(join(dataDir, 'state', 'global.json'), 'utf8'));
    expect(global).toEqual({ weather: { oslo: 26.5 } });
  });
});

describe('run folder and manifest', () => {
  it('removes staging after success, keeps it after failure, and the disk manifest matches', async () => {
    const good = await runYaml(engine, `id: m\ntasks:\n  - { id: a, shell: 'echo hi > out.txt' }\n`);
    expect(good.links.staging).toBeUndefined();
    expect(existsSync(join(good.links.run, 'staging'))).toBe(false);
    const bad = await runYaml(engine, `id: m\ntasks:\n  - { id: a, shell: 'echo hi > out.txt; exit 1' }\n`);
    expect(bad.links.staging).toBeDefined();
    expect(await readFile(join(bad.links.staging ?? '', 'out.txt'), 'utf8')).toBe('hi\n');
    const onDisk: unknown = JSON.parse(await readFile(bad.links.manifest, 'utf8'));
    expect(manifestSchema.parse(onDisk)).toEqual(JSON.parse(JSON.stringify(bad)));
    expect(bad.summary?.source).toBe('engine');
    expect(bad.summary?.title).toMatch(/^m failed in \d+ms$/);
  });

  it('rejects unknown params before writing anything', () => {
    const op = parseOperation(
      `id: p\nparams:\n  a: { default: 1 }\ntasks:\n  - { id: t, shell: ls }\n`,
      'p.yaml',
    );
    expect(() => engine.start({ operation: op, params: { b: 2 } })).toThrow(ParamError);
    expect(existsSync(join(dataDir, 'runs', 'p'))).toBe(false);
  });

  it('runs a child operation and links parent and child manifests', async () => {
    await writeFile(
      join(dataDir, 'child.yaml'),
      `id: child\nparams:\n  who: { default: x }\ntasks:\n  - { id: hi, shell: ['echo', 'hi {{ params.who }}'] }\n`,
    );
    const m = await engine.run({
      operation: parseOperation(
        `id: parent\ntasks:\n  - { id: call, operation: { file: child.yaml, params: { who: Ada } } }\n`,
        'parent.yaml',
      ),
      file: join(dataDir, 'parent.yaml'),
    });
    expect(m.status).toBe('success');
    const call = task(m, 'call');
    const childRunId = call.executions[0]?.childRunId ?? '';
    const child = manifestSchema.parse(
      JSON.parse(await readFile(join(dataDir, 'runs', 'child', childRunId, 'manifest.json'), 'utf8')),
    );
    expect(child.parent).toEqual({ runId: m.runId, operationId: 'parent', taskId: 'call' });
    expect(child.params).toEqual({ who: 'Ada' });
    expect(m.links.children).toEqual([child.links.manifest]);
  });
});
