// Runner overhead and output streaming, each beside a plain baseline in the same run.
//   npm run bench -- runner [--items 2000] [--concurrency 8] [--bytes 1073741824]
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
  },
});
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

async function engineLoop(dataDir: string): Promise<number> {
  const engine = await openEngine(dataDir, silentLogger());
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

async function engineStream(dataDir: string): Promise<{ ms: number; rssGrowthMb: number; logMb: number }> {
  const engine = await openEngine(dataDir, silentLogger());
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

const dir = await mkdtemp(join(tmpdir(), 'uv-bench-runner-'));
try {
  await plainLoop(); // warm up the spawn path once
  const plainMs = await plainLoop();
  const engineMs = await engineLoop(join(dir, 'overhead'));
  const plainRate = (items / plainMs) * 1000;
  const engineRate = (items / engineMs) * 1000;
  process.stdout.write(
    `runner overhead: ${items} × true at concurrency ${concurrency}\n` +
      `  plain Node loop : ${plainRate.toFixed(0)} commands/s (${plainMs.toFixed(0)} ms)\n` +
      `  ultravisor      : ${engineRate.toFixed(0)} commands/s (${engineMs.toFixed(0)} ms)\n` +
      `  ratio           : ${(engineRate / plainRate).toFixed(2)} (goal ≥ 0.90)\n`,
  );
  await rm(join(dir, 'overhead'), { recursive: true, force: true });

  const catMs = await plainStream(join(dir, 'plain.out'));
  await rm(join(dir, 'plain.out'), { force: true });
  const stream = await engineStream(join(dir, 'stream'));
  const mb = bytes / 1e6;
  process.stdout.write(
    `output streaming: ${mb.toFixed(0)} MB on stdout\n` +
      `  head > file     : ${((mb / catMs) * 1000).toFixed(0)} MB/s\n` +
      `  ultravisor      : ${((mb / stream.ms) * 1000).toFixed(0)} MB/s, peak RSS growth ${stream.rssGrowthMb.toFixed(1)} MB, log on disk ${stream.logMb.toFixed(0)} MB\n` +
      `  ratio           : ${(catMs / stream.ms).toFixed(2)} (goal ≥ 0.70; RSS growth goal < 50 MB)\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
