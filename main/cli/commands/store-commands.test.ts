import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { databasePath } from '../../engine/store/database.js';
import { makeManifest, writeRun } from '../../engine/store/store-test-helpers.js';
import { openStores } from '../../engine/store/stores.js';
import { silentLogger } from '../../engine/logger.js';
import { UsageError, type CliContext } from '../cli-context.js';
import { dataExportCommand, dataQueryCommand } from './data-command.js';
import { filesListCommand, filesPathCommand } from './files-command.js';
import { runsListCommand, runsShowCommand } from './runs-command.js';
import { storePruneCommand } from './store-command.js';

let dataDir: string;
let ctx: CliContext;
let stdout: () => string;
let stderr: () => string;

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'uv-cli-'));
  const out = capture();
  const err = capture();
  ctx = { dataDir, logger: silentLogger(), out: out.stream, err: err.stream };
  stdout = out.text;
  stderr = err.text;
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const listOptions = { limit: '20', json: false };

describe('runs list / show', () => {
  it('rebuilds a missing index from the manifests, then lists and shows from it', async () => {
    const old = makeManifest(dataDir, {
      operationId: 'backup',
      startedAt: new Date('2026-01-01T00:00:00Z'),
      title: 'Backup done',
    });
    const recent = makeManifest(dataDir, {
      operationId: 'fetch',
      status: 'failure',
      startedAt: new Date('2026-01-02T00:00:00Z'),
      title: 'Fetch failed',
    });
    await writeRun(old);
    await writeRun(recent);
    expect(await runsListCommand(ctx, listOptions)).toBe(0);
    expect(stderr()).toMatch(/rebuilt it from 2 manifests/);
    const lines = stdout().trimEnd().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([recent.runId, old.runId]);

    await rm(databasePath(dataDir));
    expect(await runsListCommand(ctx, { ...listOptions, status: 'failure', json: true })).toBe(0);
    const page = JSON.parse(stdout().slice(stdout().indexOf('{'))) as { runs: { runId: string }[] };
    expect(page.runs.map((r) => r.runId)).toEqual([recent.runId]);

    expect(await runsShowCommand(ctx, old.runId.slice(0, 18), { json: false })).toBe(0);
    expect(stdout()).toContain(`run ${old.runId}  backup  success`);
  });

  it('pages with the cursor it prints and rejects bad filters as usage errors', async () => {
    for (let i = 0; i < 3; i++)
      await writeRun(makeManifest(dataDir, { startedAt: new Date(Date.UTC(2026, 0, 1, i)) }));
    await runsListCommand(ctx, { ...listOptions, limit: '2' });
    const cursor = /more: --cursor (\S+)/.exec(stderr())?.[1];
    expect(cursor).toBeDefined();
    const before = stdout().split('\n').length;
    await runsListCommand(ctx, { ...listOptions, limit: '2', cursor: cursor ?? '' });
    expect(stdout().split('\n').length - before).toBe(1);
    await expect(runsListCommand(ctx, { ...listOptions, status: 'exploded' })).rejects.toThrow(UsageError);
    await expect(runsListCommand(ctx, { ...listOptions, since: 'yesterday-ish' })).rejects.toThrow(
      /neither a date/,
    );
    await expect(runsListCommand(ctx, { ...listOptions, cursor: 'garbage' })).rejects.toThrow(UsageError);
  });
});

describe('data and files commands', () => {
  it('queries with --where as CSV, exports atomically, lists and locates files, prunes', async () => {
    const stores = openStores(dataDir, { retention: { interval: 1000 } });
    stores.data.write(
      'weather',
      [
        { key: 'osl', data: { city: 'Oslo', temp: 4 } },
        { key: 'cai', data: { city: 'Cairo', temp: 35 } },
      ],
      'append',
    );
    const m = makeManifest(dataDir, { operationId: 'reports', extra: { retention: { keepRuns: 1 } } });
    const newer = makeManifest(dataDir, {
      operationId: 'reports',
      startedAt: new Date(Date.now() + 1000),
      extra: { retention: { keepRuns: 1 } },
    });
    await writeRun(m);
    await writeRun(newer);
    stores.runs.recordMany([m, newer]);
    const file = await stores.files.put(
      { operationId: 'reports', runId: m.runId },
      { content: 'hello' },
      'a.txt',
    );
    stores.close();

    await dataQueryCommand(ctx, 'weather', {
      where: ['data.temp > 20'],
      order: 'desc',
      limit: '50',
      json: false,
      csv: true,
    });
    expect(stdout()).toMatch(
      /^id,key,createdAt,updatedAt,operation,run,task,node,data\.city,data\.temp\r\n2,cai,.*,Cairo,35\r\n$/,
    );
    await expect(
      dataQueryCommand(ctx, 'weather', {
        where: ['data.temp ; 1'],
        order: 'desc',
        limit: '5',
        json: true,
        csv: false,
      }),
    ).rejects.toThrow(UsageError);

    const target = join(dataDir, 'out.jsonl');
    expect(await dataExportCommand(ctx, 'weather', { where: [], format: 'jsonl', out: target })).toBe(0);
    expect(
      (await readFile(target, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { key: string }).key),
    ).toEqual(['osl', 'cai']);

    await filesListCommand(ctx, { op: 'reports', limit: '10', json: false });
    expect(stdout()).toMatch(/reports\s+\S+\s+5\s+text\/plain\s+a\.txt/);
    expect(await filesPathCommand(ctx, String(file.id))).toBe(0);
    expect(stdout()).toContain(`${file.path}\n`);
    expect(await filesPathCommand(ctx, '999')).toBe(2);

    expect(await storePruneCommand(ctx, { dryRun: false, json: true })).toBe(0);
    const report = JSON.parse(stdout().slice(stdout().lastIndexOf('{\n  "dryRun"'))) as {
      removed: { runId: string }[];
    };
    expect(report.removed.map((r) => r.runId)).toEqual([m.runId]);
    expect(await filesPathCommand(ctx, String(file.id))).toBe(2);
  });
});
