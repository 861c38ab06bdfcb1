import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.js';
import { parseOperation } from '../model/load-operation.js';
import { runYaml, task, testEngine } from '../runner/run-test-helpers.js';

let engine: Engine;
let dataDir: string;
let cleanup: () => Promise<void>;
let outside: string;

beforeEach(async () => {
  ({ engine, dataDir, cleanup } = await testEngine());
  outside = await mkdtemp(join(tmpdir(), 'uv-file-task-'));
});
afterEach(async () => {
  engine.close();
  await cleanup();
  await rm(outside, { recursive: true, force: true });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('file task', () => {
  it('copies globs from staging, moves absolute files, writes content, and links all in the manifest', async () => {
    await mkdir(join(outside, 'in'), { recursive: true });
    await writeFile(join(outside, 'in', 'moved.txt'), 'move me');
    const m = await runYaml(
      engine,
      `id: reports
tasks:
  - id: make
    shell: "mkdir -p out/2026 && printf 'a,b\\n' > out/one.csv && printf 'c\\n' > out/2026/two.csv && echo skip > out/note.txt"
  - id: keep
    needs: [make]
    file: { copy: "out/**/*.csv", to: csv }
  - id: take
    file: { move: ["${outside}/in/*.txt"] }
  - id: summary
    needs: [keep]
    file: { write: { path: "summary.json", json: { files: "{{ len(tasks.keep.output.files) }}" } } }
`,
    );
    expect(m.status).toBe('success');
    const folder = join(dataDir, 'files', 'reports', m.runId);
    const byName = Object.fromEntries(m.outputs.files.map((f) => [String(f.name), f]));
    expect(Object.keys(byName).sort()).toEqual([
      'csv/2026/two.csv',
      'csv/one.csv',
      'moved.txt',
      'summary.json',
    ]);
    expect(byName['csv/one.csv']).toMatchObject({
      path: join(folder, 'csv', 'one.csv'),
      size: 4,
      sha256: sha('a,b\n'),
      mediaType: 'text/csv',
      task: 'keep',
    });
    expect(byName['summary.json']).toMatchObject({ mediaType: 'application/json' });
    expect(JSON.parse(await readFile(join(folder, 'summary.json'), 'utf8'))).toEqual({ files: 2 });
    expect(await readFile(join(folder, 'moved.txt'), 'utf8')).toBe('move me');
    await expect(stat(join(outside, 'in', 'moved.txt'))).rejects.toThrow(/ENOENT/);
    expect(task(m, 'keep').output).toMatchObject({
      folder,
      files: [{ name: 'csv/2026/two.csv' }, { name: 'csv/one.csv' }],
    });
    const catalogue = engine.stores?.files.list({ runId: m.runId }).files ?? [];
    expect(catalogue.map((f) => f.name).sort()).toEqual(Object.keys(byName).sort());
    // Staging is gone after a successful run; the stored copies stay.
    expect(m.links.staging).toBeUndefined();
    expect(await readFile(join(folder, 'csv', '2026', 'two.csv'), 'utf8')).toBe('c\n');
  });

  it('refuses destinations outside the store and fails when nothing matches', async () => {
    const m = await runYaml(
      engine,
      `id: escape
tasks:
  - { id: up, file: { write: { path: "../../../escaped.txt", text: x } }, continueOnError: true }
  - { id: to, file: { write: { path: "x.txt", text: x }, to: "../other-run" }, continueOnError: true }
  - { id: none, file: { copy: "*.nothing" }, continueOnError: true }
  - { id: fine, file: { copy: "*.nothing", allowEmpty: true } }
`,
    );
    expect(task(m, 'up').error).toMatch(
      /refusing to store "..\/..\/..\/escaped.txt": it is outside the store/,
    );
    expect(task(m, 'to').error).toMatch(/refusing to store/);
    expect(task(m, 'none').error).toMatch(/copy: no file matches "\*.nothing"/);
    expect(task(m, 'fine').status).toBe('success');
    expect(m.outputs.files).toEqual([]);
    await expect(stat(join(dataDir, 'files', 'escaped.txt'))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(dataDir, 'escaped.txt'))).rejects.toThrow(/ENOENT/);
  });

  it('checks the spec when the operation is loaded', () => {
    expect(() => parseOperation('id: x\ntasks:\n  - { id: a, file: { to: x } }\n', 'x.yaml')).toThrow(
      /exactly one of copy, move or write/,
    );
    expect(() =>
      parseOperation('id: x\ntasks:\n  - { id: a, file: { write: { path: p } } }\n', 'x.yaml'),
    ).toThrow(/exactly one of text or json/);
  });
});
