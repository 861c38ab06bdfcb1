import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStoreError } from './file-store.js';
import { makeManifest, testStores } from './store-test-helpers.js';
import type { Stores } from './stores.js';

let dataDir: string;
let stores: Stores;
let cleanup: () => Promise<void>;
let outside: string;

beforeEach(async () => {
  ({ dataDir, stores, cleanup } = await testStores());
  outside = await mkdtemp(join(tmpdir(), 'uv-outside-'));
});
afterEach(async () => {
  await cleanup();
  await rm(outside, { recursive: true, force: true });
});

const owner = { operationId: 'reports', runId: '20260301T000000000Z-abcdef', taskId: 'keep', nodeId: 'n1' };
const sha = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

describe('FileStore', () => {
  it('writes content, copies and moves files, and catalogues size, sha256 and media type', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'ab');
    await writeFile(join(outside, 'big.bin'), big);
    await writeFile(join(outside, 'data.csv'), 'a,b\n1,2\n');
    const written = await stores.files.put(owner, { content: '# hi\n' }, 'report.md');
    const copied = await stores.files.put(owner, { from: join(outside, 'big.bin') }, 'raw/big.bin');
    const moved = await stores.files.put(
      owner,
      { from: join(outside, 'data.csv'), move: true },
      'raw/2026/data.csv',
    );

    const folder = join(dataDir, 'files', 'reports', owner.runId);
    expect(written).toMatchObject({
      name: 'report.md',
      path: join(folder, 'report.md'),
      size: 5,
      sha256: sha('# hi\n'),
      mediaType: 'text/markdown',
    });
    expect(copied).toMatchObject({
      name: 'raw/big.bin',
      size: big.length,
      sha256: sha(big),
      mediaType: 'application/octet-stream',
    });
    expect(moved).toMatchObject({
      name: 'raw/2026/data.csv',
      size: 8,
      sha256: sha('a,b\n1,2\n'),
      mediaType: 'text/csv',
    });
    // Buffer.equals: a deep toEqual over megabytes takes seconds.
    expect((await readFile(copied.path)).equals(big)).toBe(true);
    expect((await readFile(join(outside, 'big.bin'))).equals(big)).toBe(true);
    await expect(stat(join(outside, 'data.csv'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(moved.path, 'utf8')).toBe('a,b\n1,2\n');

    expect(stores.files.list().files.map((f) => f.name)).toEqual([
      'raw/2026/data.csv',
      'raw/big.bin',
      'report.md',
    ]);
    expect(stores.files.list({ runId: 'other' }).files).toEqual([]);
    expect(stores.files.get(copied.id)).toEqual(copied);
    // No temp files left behind.
    expect((await readdir(join(folder, 'raw'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('replaces a file written again under the same name, keeping one catalogue row', async () => {
    const first = await stores.files.put(owner, { content: 'one' }, 'out.txt');
    const second = await stores.files.put(owner, { content: 'two!' }, 'out.txt');
    expect(second.id).toBe(first.id);
    expect(stores.files.list().files).toHaveLength(1);
    expect(stores.files.get(first.id)).toMatchObject({ size: 4, sha256: sha('two!') });
  });

  it('refuses names that leave the run folder and writes nothing', async () => {
    for (const name of [
      '../escape.txt',
      '../../../../etc/passwd',
      'a/../../b.txt',
      '/etc/passwd',
      '',
      '.',
      'ok/..',
    ]) {
      await expect(stores.files.put(owner, { content: 'x' }, name), name).rejects.toThrow(FileStoreError);
    }
    expect(stores.files.list().files).toEqual([]);
    expect(await readdir(outside)).toEqual([]);
  });

  it('refuses symlinked folders that lead out of the store', async () => {
    const folder = stores.files.runFolder(owner.operationId, owner.runId);
    await mkdir(folder, { recursive: true });
    await symlink(outside, join(folder, 'link'));
    await expect(stores.files.put(owner, { content: 'x' }, 'link/evil.txt')).rejects.toThrow(
      /link out of the store/,
    );
    await expect(stores.files.put(owner, { content: 'x' }, 'link/deeper/evil.txt')).rejects.toThrow(
      /link out of the store/,
    );
    // A whole run folder that is a link out is refused as well.
    const other = { ...owner, runId: '20260301T000000000Z-linked' };
    await symlink(outside, stores.files.runFolder(other.operationId, other.runId));
    await expect(stores.files.put(other, { content: 'x' }, 'evil.txt')).rejects.toThrow(
      /link out of the store/,
    );
    expect(await readdir(outside)).toEqual([]);
  });

  it('replaces a symlink at the destination instead of writing through it', async () => {
    const victim = join(outside, 'victim.txt');
    await writeFile(victim, 'precious');
    const folder = stores.files.runFolder(owner.operationId, owner.runId);
    await mkdir(folder, { recursive: true });
    await symlink(victim, join(folder, 'out.txt'));
    await stores.files.put(owner, { content: 'new' }, 'out.txt');
    expect(await readFile(victim, 'utf8')).toBe('precious');
    expect(await readFile(join(folder, 'out.txt'), 'utf8')).toBe('new');
  });

  it('refuses ids that are not ids, and sources that are not files', async () => {
    expect(() => stores.files.runFolder('../x', 'r')).toThrow(FileStoreError);
    expect(() => stores.files.runFolder('op', '../r')).toThrow(FileStoreError);
    await expect(stores.files.put(owner, { from: outside }, 'dir')).rejects.toThrow(/not a regular file/);
    await expect(stores.files.put(owner, { from: join(outside, 'nope') }, 'x')).rejects.toThrow(
      /does not exist/,
    );
  });

  it('rebuilds catalogue rows from a manifest and removes a run with its rows', async () => {
    const stored = await stores.files.put(owner, { content: 'abc' }, 'a/b.txt');
    const manifest = { ...makeManifest(dataDir, { operationId: owner.operationId, runId: owner.runId }) };
    manifest.outputs.files.push({
      path: stored.path,
      name: stored.name,
      size: 3,
      sha256: stored.sha256,
      mediaType: stored.mediaType,
      task: 'keep',
    });
    manifest.outputs.files.push({
      path: join(stored.path, '..', 'gone.txt'),
      name: 'a/gone.txt',
      size: 1,
      sha256: sha('z'),
    });
    stores.files.forgetRuns([owner.runId]);
    expect(stores.files.list().files).toEqual([]);
    expect(await stores.files.recordManifest(manifest)).toBe(1);
    expect(stores.files.list().files.map((f) => [f.name, f.sha256, f.taskId])).toEqual([
      ['a/b.txt', sha('abc'), 'keep'],
    ]);
    await stores.files.removeRun(owner.operationId, owner.runId);
    expect(stores.files.list().files).toEqual([]);
    await expect(stat(stored.path)).rejects.toThrow(/ENOENT/);
  });
});
