import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { OperationFileError } from '../model/operation-error.js';
import { OperationStore, type OperationChange } from './operation-store.js';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'uv-ops-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const nightly = `# Nightly backup — comments must survive
id: nightly
triggers:
  - schedule: "0 3 * * *" # at three
tasks:
  - id: save
    state: { set: last, value: 1 }
`;

async function open(): Promise<{ store: OperationStore; changes: OperationChange[] }> {
  const store = await OperationStore.open(dataDir, silentLogger());
  const changes: OperationChange[] = [];
  store.on('change', (c) => changes.push(c));
  return { store, changes };
}

describe('OperationStore', () => {
  it('saves the text as given, comments and all, as <id>.yaml', async () => {
    const { store, changes } = await open();
    const { saved, replaced, warnings } = await store.add(nightly, 'nightly.yaml');
    expect(replaced).toBe(false);
    expect(warnings).toEqual([]);
    expect(saved.file).toBe(join(dataDir, 'operations', 'nightly.yaml'));
    expect(await readFile(saved.file, 'utf8')).toBe(nightly);
    expect(changes).toEqual([expect.objectContaining({ type: 'saved', id: 'nightly', replaced: false })]);
    const reopened = await OperationStore.open(dataDir, silentLogger());
    expect(reopened.get('nightly')?.operation.triggers[0]).toMatchObject({
      kind: 'schedule',
      schedule: '0 3 * * *',
    });
  });

  it('rejects invalid text with path-qualified errors and keeps the saved version', async () => {
    const { store } = await open();
    await store.add(nightly, 'nightly.yaml');
    const broken = nightly.replace('0 3 * * *', '0 25 * * *');
    const err = await store.add(broken, 'edited.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationFileError);
    expect((err as Error).message).toMatch(/edited\.yaml:4:\d+ triggers\[0\]\.schedule: invalid cron/);
    expect(await readFile(join(dataDir, 'operations', 'nightly.yaml'), 'utf8')).toBe(nightly);
    expect(store.get('nightly')?.text).toBe(nightly);
    // No temp files left behind.
    expect(await readdir(join(dataDir, 'operations'))).toEqual(['nightly.yaml']);
  });

  it('replaces a saved operation of the same id', async () => {
    const { store } = await open();
    await store.add(nightly, 'a.yaml');
    const edited = nightly.replace('0 3', '0 4');
    const { replaced } = await store.add(edited, 'b.yaml');
    expect(replaced).toBe(true);
    expect(store.get('nightly')?.text).toBe(edited);
  });

  it('warns about `after` naming an operation that is not saved (yet)', async () => {
    const { store } = await open();
    const { warnings } = await store.add(
      'id: report\ntriggers: [{ after: { operation: nightly } }]\ntasks: [{ id: t, state: { set: a, value: 1 } }]\n',
      'report.yaml',
    );
    expect(warnings).toEqual([
      expect.stringMatching(/triggers\[0\]\.after\.operation: no operation "nightly" is saved/),
    ]);
    expect(store.has('report')).toBe(true);
  });

  it('removes', async () => {
    const { store, changes } = await open();
    await store.add(nightly, 'nightly.yaml');
    expect(await store.remove('nightly')).toBe(true);
    expect(await store.remove('nightly')).toBe(false);
    expect(store.list()).toEqual([]);
    expect(changes.map((c) => c.type)).toEqual(['saved', 'removed']);
  });

  it('reload picks up files changed by another process', async () => {
    const { store, changes } = await open();
    const other = await OperationStore.open(dataDir, silentLogger());
    await other.add(nightly, 'nightly.yaml');
    expect(await store.reload()).toMatchObject({ added: ['nightly'] });
    await other.add(nightly.replace('0 3', '0 5'), 'nightly.yaml');
    expect(await store.reload()).toMatchObject({ changed: ['nightly'] });
    expect(await store.reload()).toEqual({ added: [], changed: [], removed: [], rejected: [] });
    await other.remove('nightly');
    expect(await store.reload()).toMatchObject({ removed: ['nightly'] });
    expect(changes.map((c) => c.type)).toEqual(['saved', 'saved', 'removed']);
  });

  it('keeps the last good version when a file is broken by hand', async () => {
    const { store } = await open();
    await store.add(nightly, 'nightly.yaml');
    await writeFile(join(dataDir, 'operations', 'nightly.yaml'), 'id: nightly\ntasks: []\n');
    const result = await store.reload();
    expect(result.rejected).toEqual([
      expect.objectContaining({ error: expect.stringMatching(/tasks/) as unknown }),
    ]);
    expect(store.get('nightly')?.text).toBe(nightly);
    expect(store.listProblems()).toHaveLength(1);
  });

  it('rejects a file whose name does not match its id', async () => {
    const { store } = await open();
    await writeFile(join(dataDir, 'operations', 'other.yaml'), nightly);
    const result = await store.reload();
    expect(result.rejected[0]?.error).toMatch(/named other\.yaml but holds operation "nightly"/);
    expect(store.list()).toEqual([]);
  });

  it('ignores temp files and unrelated names', async () => {
    const { store } = await open();
    await writeFile(join(dataDir, 'operations', '.nightly.yaml.abc.tmp'), nightly);
    await writeFile(join(dataDir, 'operations', 'README.txt'), 'hi');
    expect(await store.reload()).toEqual({ added: [], changed: [], removed: [], rejected: [] });
  });
});
