// Scheduler lateness, CPU and RSS with many second-level schedules, beside a bare setTimeout loop
// aimed at the same instants, both running at the same time in separate processes.
//   npx tsx bench/scheduler/scheduler-bench.ts [--ops 1000] [--seconds 60] [--idle-seconds 10]
//   npm run bench -- scheduler [same flags]
//
// Roles (the parent spawns the children with `node --import tsx <this file> --role …`):
//   core       the Scheduler itself (timer queue, overlap gate, cursors persisted to disk) with N
//              operations on `schedule: "* * * * * *"` and an in-process no-op launcher: what the
//              scheduler costs, compared with the bare loop.
//   node       a real UltravisorNode: the same N operations, each run a real engine run of one
//              `state` task whose kind is swapped for an in-process no-op (no state file is written;
//              the engine still writes every run's folder, log and manifest as in production).
//   bare       N `setTimeout` chains aimed at every whole second: the floor for lateness.
//   idle       a node with N operations armed on a daily schedule: what a quiet daemon costs.
// Each of core and node runs at the same time as its own bare loop, in separate processes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../../main/engine/logger.js';
import { parseOperation } from '../../main/engine/model/load-operation.js';
import type { Manifest } from '../../main/engine/model/manifest.js';
import { UltravisorNode } from '../../main/engine/node.js';
import { systemClock } from '../../main/engine/triggers/clock.js';
import { CursorStore } from '../../main/engine/triggers/cursor-store.js';
import { Scheduler } from '../../main/engine/triggers/scheduler.js';
import { LlmPool } from '../../main/engine/ai/llm-pool.js';
import { defaultLlmSettings } from '../../main/engine/ai/llm-settings.js';
import { createTaskKinds, type TaskKindRegistry } from '../../main/engine/tasks/registry.js';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    'idle-seconds': { type: 'string', default: '10' },
    scenarios: { type: 'string', default: 'core,node' },
    'node-ops': { type: 'string' },
    role: { type: 'string' },
  },
  strict: false,
});
const ops = Number(values.ops);
const seconds = Number(values.seconds);
const idleSeconds = Number(values['idle-seconds']);
/** Operations in the `node` scenario (default --ops): lower it to see the node below the engine's limit. */
const nodeOps = typeof values['node-ops'] === 'string' ? Number(values['node-ops']) : ops;

/** What each child reports on stdout as one JSON line. */
interface RoleResult {
  role: string;
  samples: number;
  p50: number;
  p99: number;
  max: number;
  cpuPercent: number;
  rssMiB: number;
  peakRssMiB: number;
  /** Firings skipped by `overlap: skip` (a run of the operation was still going). */
  skipped?: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Measures CPU and peak RSS over a window: warm-up first (arming, first firings), then the window.
 */
async function measure(
  warmupMs: number,
  windowMs: number,
  collect: (on: boolean) => void,
): Promise<{ cpuPercent: number; rssMiB: number; peakRssMiB: number }> {
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  collect(true);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 1000);
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  clearInterval(sampler);
  collect(false);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const rss = process.memoryUsage().rss;
  return {
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    rssMiB: rss / 2 ** 20,
    peakRssMiB: Math.max(peak, rss) / 2 ** 20,
  };
}

/** A `state` kind that does nothing: the run is real, its task costs nothing. */
const noopKinds: TaskKindRegistry = {
  ...createTaskKinds({ llm: { pool: new LlmPool(), settings: defaultLlmSettings } }),
  state: { kind: 'state', run: () => Promise.resolve({ output: null }) },
};

async function openBenchNode(
  schedule: string,
  count: number,
): Promise<{ node: UltravisorNode; dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'uv-sched-bench-'));
  const node = await UltravisorNode.open({
    dataDir,
    logger: silentLogger(),
    kinds: noopKinds,
    watchDataDir: false,
  });
  for (let i = 0; i < count; i++) {
    await node.addOperation(
      `id: op-${i}\ntriggers: [{ schedule: "${schedule}", missed: skip }]\ntasks: [{ id: noop, state: { set: x, value: 1 } }]\n`,
      `op-${i}.yaml`,
    );
  }
  return { node, dataDir };
}

async function coreRole(): Promise<RoleResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'uv-sched-bench-'));
  const cursors = await CursorStore.open(dataDir, silentLogger());
  const done = Promise.resolve({} as Manifest);
  let runs = 0;
  const scheduler = new Scheduler({
    clock: systemClock(),
    logger: silentLogger(),
    cursors,
    launch: () => ({ runId: `run-${runs++}`, dir: '', cancel: () => undefined, done }),
  });
  const lateness: number[] = [];
  let on = false;
  scheduler.on('event', (event) => {
    if (on && event.type === 'fired') lateness.push(event.latenessMs);
  });
  const operations = Array.from({ length: ops }, (_, i) => ({
    operation: parseOperation(
      `id: op-${i}\ntriggers: [{ schedule: "* * * * * *", missed: skip }]\ntasks: [{ id: noop, state: { set: x, value: 1 } }]\n`,
      `op-${i}.yaml`,
    ),
    baseDir: dataDir,
  }));
  scheduler.start(operations, { paused: false, pausedOperations: new Set() });
  const usage = await measure(3000, seconds * 1000, (v) => (on = v));
  await scheduler.stop();
  await rm(dataDir, { recursive: true, force: true });
  const sorted = [...lateness].sort((a, b) => a - b);
  return {
    role: 'core',
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    ...usage,
  };
}

async function nodeRole(): Promise<RoleResult> {
  const { node, dataDir } = await openBenchNode('* * * * * *', nodeOps);
  const lateness: number[] = [];
  let on = false;
  let skipped = 0;
  node.scheduler.on('event', (event) => {
    if (on && event.type === 'fired') lateness.push(event.latenessMs);
    if (on && event.type === 'skipped') skipped += event.count;
  });
  await node.start();
  const usage = await measure(3000, seconds * 1000, (v) => (on = v));
  await node.stop({ graceMs: 5000 });
  await rm(dataDir, { recursive: true, force: true });
  const sorted = [...lateness].sort((a, b) => a - b);
  return {
    role: 'node',
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    ...usage,
    skipped,
  };
}

async function bareRole(count: number): Promise<RoleResult> {
  const lateness: number[] = [];
  let on = false;
  const timers: NodeJS.Timeout[] = [];
  for (let i = 0; i < count; i++) {
    let target = Math.floor(Date.now() / 1000) * 1000 + 1000;
    const fire = (): void => {
      const now = Date.now();
      if (on) lateness.push(now - target);
      target += 1000;
      while (target <= now) target += 1000;
      timers[i] = setTimeout(fire, target - Date.now());
    };
    timers[i] = setTimeout(fire, target - Date.now());
  }
  const usage = await measure(3000, seconds * 1000, (v) => (on = v));
  for (const t of timers) clearTimeout(t);
  const sorted = [...lateness].sort((a, b) => a - b);
  return {
    role: 'bare',
    samples: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    ...usage,
  };
}

async function idleRole(): Promise<RoleResult> {
  const { node, dataDir } = await openBenchNode('0 0 3 * * *', ops);
  await node.start();
  // Long warm-up: V8's memory reducer compacts the heap a few seconds after the startup burst.
  const usage = await measure(15_000, idleSeconds * 1000, () => undefined);
  await node.stop({ graceMs: 1000 });
  await rm(dataDir, { recursive: true, force: true });
  return { role: 'idle', samples: 0, p50: 0, p99: 0, max: 0, ...usage };
}

function runChild(role: string): Promise<RoleResult> {
  const file = join(import.meta.dirname, 'scheduler-bench.ts');
  const args = ['--import', 'tsx', file, '--role', role, '--ops', String(ops), '--seconds', String(seconds)];
  args.push('--idle-seconds', String(idleSeconds), '--node-ops', String(nodeOps));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) reject(new Error(`${role} exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as RoleResult);
    });
  });
}

function row(r: RoleResult): string {
  const f = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(n < 10 ? 1 : 0));
  return `${r.role.padEnd(10)} ${String(r.samples).padStart(8)} ${f(r.p50).padStart(6)} ${f(r.p99).padStart(6)} ${f(r.max).padStart(6)} ${f(r.cpuPercent).padStart(7)} ${f(r.rssMiB).padStart(7)} ${f(r.peakRssMiB).padStart(8)}`;
}

const role = typeof values.role === 'string' ? values.role : undefined;
const roles: Record<string, () => Promise<RoleResult>> = {
  core: coreRole,
  node: nodeRole,
  bare: () => bareRole(ops),
  'bare-node': () => bareRole(nodeOps),
  idle: idleRole,
};
if (role !== undefined) {
  const run = roles[role];
  if (run === undefined) throw new Error(`unknown role ${role}`);
  process.stdout.write(`${JSON.stringify(await run())}\n`);
} else {
  const scenarios = String(values.scenarios).split(',');
  process.stdout.write(
    `scheduler bench: ${ops} operations (node: ${nodeOps}) on "* * * * * *" for ${seconds} s (${scenarios.join(', ')}), each beside a bare setTimeout loop run at the same time; then ${idleSeconds} s idle\n`,
  );
  const results: RoleResult[] = [];
  for (const scenario of scenarios) {
    // The bare loop aims at as many instants as the scenario fires.
    const [measured, bare] = await Promise.all([
      runChild(scenario),
      runChild(scenario === 'node' ? 'bare-node' : 'bare'),
    ]);
    results.push(measured, { ...bare, role: `bare/${scenario}` });
  }
  const idle = await runChild('idle');
  results.push(idle);
  process.stdout.write(
    `\n${'role'.padEnd(10)} ${'samples'.padStart(8)} ${'p50ms'.padStart(6)} ${'p99ms'.padStart(6)} ${'maxms'.padStart(6)} ${'cpu%'.padStart(7)} ${'rssMiB'.padStart(7)} ${'peakMiB'.padStart(8)}\n`,
  );
  for (const r of results) process.stdout.write(`${row(r)}\n`);
  process.stdout.write('\n');
  for (let i = 0; i + 1 < results.length; i += 2) {
    const measured = results[i];
    const bare = results[i + 1];
    if (measured === undefined || bare === undefined || measured.role === 'idle') continue;
    const expected = bare.samples;
    const skipped =
      measured.skipped === undefined ? '' : `, ${measured.skipped} skipped (overlap: a run still going)`;
    process.stdout.write(
      `${measured.role}: ${measured.samples} of ${expected} firings (${((measured.samples / expected) * 100).toFixed(1)}%)${skipped}; ` +
        `p99 lateness ${(measured.p99 - bare.p99).toFixed(1)} ms above the bare loop's (goal ≤ 10 ms)\n`,
    );
  }
  process.stdout.write(`idle CPU with ${ops} armed operations: ${idle.cpuPercent.toFixed(2)}% (goal < 1%)\n`);
}
