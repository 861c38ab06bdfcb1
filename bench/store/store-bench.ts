// Store benchmark: the SQLite stores at a million rows, beside a lowdb JSON-file store in the same run.
//
//   npx tsx bench/store/store-bench.ts [--records N] [--runs N] [--lowdb-records N] [--lowdb-runs N]
//
// Prints rows/s for batched inserts, p50/p99 for key and indexed-JSON-field queries, and the time to
// list the newest 50 runs with a million runs indexed. The lowdb side is scaled down (it rewrites
// its whole file on every write, so a million rows in batches is quadratic); the output says by how much.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { manifestVersion, type Manifest } from '../../main/engine/model/manifest.js';
import { newRunId } from '../../main/engine/runner/run-id.js';
import { openStores, type Stores } from '../../main/engine/store/stores.js';

const args = process.argv.slice(2);
function arg(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number`);
  return value;
}

const records = arg('records', 1_000_000);
const runs = arg('runs', 1_000_000);
const lowRecords = arg('lowdb-records', 100_000);
const lowRuns = arg('lowdb-runs', 100_000);
const batch = 10_000;
const queries = 1000;
const sensors = 1000;
const operations = 100;
const statuses = ['success', 'success', 'success', 'failure', 'cancelled'] as const;

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

// Collect the garbage of one section before timing the next, so its pauses are not charged to the queries.
setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Times `n` calls after `n / 10` untimed ones (JIT and page cache warm-up), starting from a clean heap. */
function timeEach(n: number, body: (i: number) => unknown): { p50: number; p99: number; max: number } {
  for (let i = 0; i < Math.ceil(n / 10); i++) body(i);
  collectGarbage();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    body(i);
    samples.push(performance.now() - t);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

async function timeEachAsync(
  n: number,
  body: (i: number) => Promise<unknown>,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.ceil(n / 10); i++) await body(i);
  collectGarbage();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await body(i);
    samples.push(performance.now() - t);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const fmt = (ms: number) => `${ms < 10 ? ms.toFixed(3) : ms.toFixed(1)} ms`;
const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')} rows/s`;
const random = (n: number) => Math.floor(Math.random() * n);

function reading(i: number): {
  key: string;
  data: { sensor: string; city: string; temp: number; seq: number };
} {
  return {
    key: `r-${i}`,
    data: {
      sensor: `s-${i % sensors}`,
      city: ['Oslo', 'Berlin', 'Cairo', 'Lima'][i % 4] ?? '',
      temp: (i % 500) / 10,
      seq: i,
    },
  };
}

function runManifest(dataDir: string, i: number, base: number): Manifest {
  const started = new Date(base + i * 1000);
  const runId = newRunId(started);
  const operationId = `op-${i % operations}`;
  // Not i % 5: with 100 operations that would give each operation a single status.
  const status = statuses[Math.floor(i / operations) % statuses.length] ?? 'success';
  const dir = join(dataDir, 'runs', operationId, runId);
  return {
    manifestVersion,
    runId,
    operation: { id: operationId },
    node: { id: 'bench-node', name: 'bench' },
    trigger: { kind: 'schedule', firedAt: started.toISOString() },
    params: {},
    status,
    startedAt: started.toISOString(),
    endedAt: new Date(started.getTime() + 1500).toISOString(),
    durationMs: 1500,
    summary: { title: `${operationId} ${status}`, text: `run ${i} of ${operationId}`, source: 'engine' },
    tasks: [
      {
        id: 'main',
        kind: 'shell',
        status: status === 'success' ? 'success' : 'failure',
        attempts: 1,
        executions: [],
      },
    ],
    outputs: { files: [], data: [] },
    links: { run: dir, manifest: join(dir, 'manifest.json'), logs: join(dir, 'logs') },
    extra: {},
  };
}

async function sqliteSide(dir: string): Promise<Record<string, string>> {
  const stores: Stores = openStores(dir, { retention: { interval: 600_000 } });
  const figures: Record<string, string> = {};
  const provenance = { operationId: 'bench', runId: 'bench-run', taskId: 'save', nodeId: 'n' };
  const insert = (from: number, count: number) => {
    for (let start = from; start < from + count; start += batch) {
      const rows = Array.from({ length: Math.min(batch, from + count - start) }, (_, j) =>
        reading(start + j),
      );
      stores.data.write('readings', rows, 'append', provenance);
    }
  };
  try {
    let t = performance.now();
    insert(0, records);
    const insertMs = performance.now() - t;
    figures.insert = `${records.toLocaleString('en-US')} records in ${(insertMs / 1000).toFixed(1)} s = ${rate(records, insertMs)} (batches of ${batch}, one transaction each; keyed, default indexes)`;
    t = performance.now();
    stores.data.ensureIndex('readings', 'sensor');
    figures.indexBuild = `${fmt(performance.now() - t)} to add the data.sensor index to ${records.toLocaleString('en-US')} records`;
    const extra = Math.max(batch, Math.round(records / 10));
    t = performance.now();
    insert(records, extra);
    const indexedMs = performance.now() - t;
    figures.insertIndexed = `${extra.toLocaleString('en-US')} more records with that index present = ${rate(extra, indexedMs)}`;
    stores.data.analyze();

    const byKey = timeEach(queries, () =>
      stores.data.query({ collection: 'readings', key: `r-${random(records)}` }),
    );
    figures.key = `p50 ${fmt(byKey.p50)}, p99 ${fmt(byKey.p99)} (${queries} random keys)`;
    const byField = timeEach(queries, () =>
      stores.data.query({
        collection: 'readings',
        where: [`data.sensor == "s-${random(sensors)}"`],
        limit: 50,
      }),
    );
    figures.field = `p50 ${fmt(byField.p50)}, p99 ${fmt(byField.p99)} (data.sensor == "s-N", newest 50 of ~${Math.round(records / sensors)} matches, indexed)`;
    const unindexed = timeEach(10, () =>
      stores.data.query({ collection: 'readings', where: [`data.seq == ${random(records)}`], limit: 50 }),
    );
    figures.unindexed = `p50 ${fmt(unindexed.p50)} (data.seq == N, not indexed: a full scan, for contrast; 10 queries)`;

    t = performance.now();
    const base = Date.parse('2024-01-01T00:00:00Z');
    for (let start = 0; start < runs; start += batch) {
      const manifests = Array.from({ length: Math.min(batch, runs - start) }, (_, j) =>
        runManifest(dir, start + j, base),
      );
      stores.runs.recordMany(manifests);
    }
    const runsMs = performance.now() - t;
    figures.runsInsert = `${runs.toLocaleString('en-US')} runs (1 task each) indexed in ${(runsMs / 1000).toFixed(1)} s = ${rate(runs, runsMs)}`;
    stores.db.exec('ANALYZE');
    const newest = timeEach(100, () => stores.runs.list({ limit: 50 }));
    figures.newest = `p50 ${fmt(newest.p50)}, p99 ${fmt(newest.p99)} (100 queries)`;
    const byOp = timeEach(100, (i) =>
      stores.runs.list({ limit: 50, operationId: `op-${i % operations}`, status: 'failure' }),
    );
    figures.filtered = `p50 ${fmt(byOp.p50)}, p99 ${fmt(byOp.p99)} (operation + status filter)`;
    let cursor: string | undefined;
    const deep = timeEach(200, () => {
      const page = stores.runs.list({ limit: 50, ...(cursor === undefined ? {} : { cursor }) });
      cursor = page.nextCursor;
    });
    figures.paging = `p99 ${fmt(deep.p99)} per page over the first 200 pages (cursor keyset)`;
    const search = timeEach(5, () => stores.runs.list({ limit: 50, text: 'run 999999 of' }));
    figures.search = `p50 ${fmt(search.p50)} (text search, a LIKE scan; 5 queries)`;
  } finally {
    stores.close();
  }
  const size = (await stat(join(dir, 'ultravisor.db'))).size;
  figures.size = `${(size / 1e6).toFixed(0)} MB database`;
  return figures;
}

interface LowData {
  records: {
    id: number;
    collection: string;
    key: string;
    data: ReturnType<typeof reading>['data'];
    createdAt: number;
  }[];
  runs: { runId: string; operationId: string; status: string; startedAt: string; title: string }[];
}

async function lowdbSide(dir: string): Promise<Record<string, string>> {
  const figures: Record<string, string> = {};
  const db = new Low<LowData>(new JSONFile(join(dir, 'lowdb.json')), { records: [], runs: [] });
  await db.read();
  let t = performance.now();
  for (let start = 0; start < lowRecords; start += batch) {
    for (let j = start; j < Math.min(start + batch, lowRecords); j++) {
      const r = reading(j);
      db.data.records.push({
        id: j + 1,
        collection: 'readings',
        key: r.key,
        data: r.data,
        createdAt: Date.now(),
      });
    }
    await db.write();
  }
  const insertMs = performance.now() - t;
  figures.insert = `${lowRecords.toLocaleString('en-US')} records in ${(insertMs / 1000).toFixed(1)} s = ${rate(lowRecords, insertMs)} (batches of ${batch}, one file write each)`;
  const byKey = await timeEachAsync(queries, () => {
    const key = `r-${random(lowRecords)}`;
    return Promise.resolve(db.data.records.find((r) => r.collection === 'readings' && r.key === key));
  });
  figures.key = `p50 ${fmt(byKey.p50)}, p99 ${fmt(byKey.p99)} (Array.find over ${lowRecords.toLocaleString('en-US')})`;
  const byField = await timeEachAsync(queries, () => {
    const sensor = `s-${random(sensors)}`;
    return Promise.resolve(
      db.data.records
        .filter((r) => r.collection === 'readings' && r.data.sensor === sensor)
        .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
        .slice(0, 50),
    );
  });
  figures.field = `p50 ${fmt(byField.p50)}, p99 ${fmt(byField.p99)} (filter + sort + slice)`;

  t = performance.now();
  const base = Date.parse('2024-01-01T00:00:00Z');
  for (let start = 0; start < lowRuns; start += batch) {
    for (let j = start; j < Math.min(start + batch, lowRuns); j++) {
      const m = runManifest(dir, j, base);
      db.data.runs.push({
        runId: m.runId,
        operationId: m.operation.id,
        status: m.status,
        startedAt: m.startedAt,
        title: m.summary?.title ?? '',
      });
    }
    await db.write();
  }
  const runsMs = performance.now() - t;
  figures.runsInsert = `${lowRuns.toLocaleString('en-US')} runs in ${(runsMs / 1000).toFixed(1)} s = ${rate(lowRuns, runsMs)}`;
  const newest = await timeEachAsync(20, () =>
    Promise.resolve(
      [...db.data.runs]
        .sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0))
        .slice(0, 50),
    ),
  );
  figures.newest = `p50 ${fmt(newest.p50)}, p99 ${fmt(newest.p99)} (copy + sort + slice; 20 queries)`;
  // Any change, even one record, rewrites the whole file.
  db.data.records.push({
    id: lowRecords + 1,
    collection: 'readings',
    key: 'one-more',
    data: reading(0).data,
    createdAt: Date.now(),
  });
  t = performance.now();
  await db.write();
  figures.write = `${fmt(performance.now() - t)} to write one more record (the whole file is rewritten)`;
  // A fresh process must read the whole file before its first query.
  t = performance.now();
  const reopened = new Low<LowData>(new JSONFile(join(dir, 'lowdb.json')), { records: [], runs: [] });
  await reopened.read();
  figures.open = `${fmt(performance.now() - t)} to load the file before the first query`;
  const size = (await stat(join(dir, 'lowdb.json'))).size;
  figures.size = `${(size / 1e6).toFixed(0)} MB JSON file`;
  return figures;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'uv-store-bench-'));
  try {
    out(
      `# store benchmark — node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, ${new Date().toISOString()}`,
    );
    out(`data dir ${dir}`);
    out();
    const sqlite = await sqliteSide(join(dir, 'sqlite'));
    out('SQLite (better-sqlite3, WAL, synchronous=NORMAL)');
    out(`  data insert        ${sqlite.insert}`);
    out(`  field index        ${sqlite.indexBuild}`);
    out(`  indexed insert     ${sqlite.insertIndexed}`);
    out(`  query by key       ${sqlite.key}`);
    out(`  query by field     ${sqlite.field}`);
    out(`  unindexed field    ${sqlite.unindexed}`);
    out(`  runs index         ${sqlite.runsInsert}`);
    out(`  newest 50 runs     ${sqlite.newest}`);
    out(`  filtered 50 runs   ${sqlite.filtered}`);
    out(`  paging             ${sqlite.paging}`);
    out(`  runs text search   ${sqlite.search}`);
    out(`  size               ${sqlite.size}`);
    out();
    const low = await lowdbSide(join(dir, 'sqlite'));
    out(
      `lowdb (JSON file) — scaled down to ${lowRecords.toLocaleString('en-US')} records and ${lowRuns.toLocaleString('en-US')} runs ` +
        `(1/${Math.round(records / lowRecords)} and 1/${Math.round(runs / lowRuns)}): each write rewrites the whole file, so the full size in batches is quadratic`,
    );
    out(`  data insert        ${low.insert}`);
    out(`  query by key       ${low.key}`);
    out(`  query by field     ${low.field}`);
    out(`  runs insert        ${low.runsInsert}`);
    out(`  newest 50 runs     ${low.newest}`);
    out(`  one write          ${low.write}`);
    out(`  open               ${low.open}`);
    out(`  size               ${low.size}`);
    out();
    out(
      'Goals: >= 100,000 rows/s insert; <= 5 ms p99 by key and by indexed field; <= 20 ms newest 50 of 1,000,000 runs.',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
