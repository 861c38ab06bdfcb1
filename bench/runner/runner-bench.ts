// Runner overhead and output streaming, each beside a plain baseline in the same run.
//   npm run bench -- runner [--items 2000] [--concurrency 8] [--bytes 1073741824] [--repeat 3]
// Baseline and engine take turns `repeat` times; the medians are compared (a 2-core VM is noisy).
import type { Engine } from '../../main/engine/engine.js';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silentLogger } from '../../main/engine/logger.js';
import { parseOperation } from '../../main/engine/model/load-operation.js';
import { openEngine } from '../../main/engine/open-engine.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '8' },
    bytes: { type: 'string', default: String(1024 ** 3) },
    repeat: { type: 'string', default: '3' },
  },
});
const repeat = Number(values.repeat);
const items = Number(values.items);
const concurrency = Number(values.concurrency);
const bytes = Number(values.bytes);

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('true', [], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

async function plainLoop(): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next++ < items) await spawnTrue();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - start;
}

async function engineLoop(engine: Engine): Promise<number> {
  const op = parseOperation(
    `id: bench-overhead\ntasks:\n  - id: t\n    forEach: '{{ range(${items}) }}'\n    concurrency: ${concurrency}\n    shell: ['true']\n`,
    'bench',
  );
  const start = performance.now();
  const manifest = await engine.run({ operation: op });
  if (manifest.status !== 'success') throw new Error(`bench run failed: ${manifest.error ?? ''}`);
  return performance.now() - start;
}

function plainStream(out: string): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `head -c ${bytes} /dev/zero > '${out}'`], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - start));
  });
}

async function engineStream(engine: Engine): Promise<{ ms: number; rssGrowthMb: number; logMb: number }> {
  const op = parseOperation(
    `id: bench-stream\ntasks:\n  - id: spew\n    shell: 'head -c ${bytes} /dev/zero'\n`,
    'bench',
  );
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  const manifest = await engine.run({ operation: op });
  const ms = performance.now() - start;
  clearInterval(sampler);
  if (manifest.status !== 'success') throw new Error(`bench run failed: ${manifest.error ?? ''}`);
  const log = manifest.tasks[0]?.log;
  const size = log === undefined ? 0 : (await stat(join(manifest.links.run, log))).size;
  // The node's log cap may keep only the head and tail; all bytes still went through the engine.
  if (size === 0) throw new Error('the task log is empty');
  return { ms, rssGrowthMb: (peak - before) / 1e6, logMb: size / 1e6 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const range = (values: number[], digits = 0): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

const dir = await mkdtemp(join(tmpdir(), 'uv-bench-runner-'));
try {
  // Warms up the spawn path, and shows the plain loop before the engine grows this process.
  const firstPlainRate = (items / (await plainLoop())) * 1000;
  const overheadEngine = await openEngine(join(dir, 'overhead'), silentLogger());
  const plainRates: number[] = [];
  const engineRates: number[] = [];
  for (let i = 0; i < repeat; i++) {
    plainRates.push((items / (await plainLoop())) * 1000);
    engineRates.push((items / (await engineLoop(overheadEngine))) * 1000);
  }
  const plainRate = median(plainRates);
  const engineRate = median(engineRates);
  process.stdout.write(
    `runner overhead: ${items} × true at concurrency ${concurrency}, median of ${repeat}\n` +
      `  plain Node loop : ${plainRate.toFixed(0)} commands/s (${range(plainRates)}; ${firstPlainRate.toFixed(0)} before the engine opened)\n` +
      `  ultravisor      : ${engineRate.toFixed(0)} commands/s (${range(engineRates)})\n` +
      `  ratio           : ${(engineRate / plainRate).toFixed(2)} (goal ≥ 0.90; ${(engineRate / firstPlainRate).toFixed(2)} against the loop before the engine opened)\n`,
  );
  overheadEngine.close();
  await rm(join(dir, 'overhead'), { recursive: true, force: true });

  const mb = bytes / 1e6;
  const streamEngine = await openEngine(join(dir, 'stream'), silentLogger());
  const headRates: number[] = [];
  const streamRates: number[] = [];
  const growths: number[] = [];
  let logMb = 0;
  for (let i = 0; i < repeat; i++) {
    headRates.push((mb / (await plainStream(join(dir, 'plain.out')))) * 1000);
    await rm(join(dir, 'plain.out'), { force: true });
    const stream = await engineStream(streamEngine);
    streamRates.push((mb / stream.ms) * 1000);
    growths.push(stream.rssGrowthMb);
    logMb = stream.logMb;
  }
  streamEngine.close();
  const headRate = median(headRates);
  const streamRate = median(streamRates);
  process.stdout.write(
    `output streaming: ${mb.toFixed(0)} MB on stdout, median of ${repeat}\n` +
      `  head > file     : ${headRate.toFixed(0)} MB/s (${range(headRates)})\n` +
      `  ultravisor      : ${streamRate.toFixed(0)} MB/s (${range(streamRates)}), log on disk ${logMb.toFixed(0)} MB\n` +
      `  peak RSS growth : ${Math.max(...growths).toFixed(1)} MB at most (${range(growths, 1)})\n` +
      `  ratio           : ${(streamRate / headRate).toFixed(2)} (goal ≥ 0.70; RSS growth goal < 50 MB)\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
