import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifestSchema } from '../engine/model/manifest.js';
import { repoRoot, runCli } from './cli-test-helpers.js';

let dataDir: string;
let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'uv-cli-'));
  dataDir = join(work, 'data');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ultravisor CLI', () => {
  it('prints help', async () => {
    const r = await runCli(['--help'], dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: ultravisor');
    expect(r.stdout).toContain('run [options] <file>');
  });

  it('runs an operation, exits 0 and prints the manifest with --json', async () => {
    const file = join(work, 'op.yaml');
    await writeFile(
      file,
      `id: cli\nparams:\n  who: { default: x }\ntasks:\n  - { id: hi, shell: ['echo', 'hi {{ params.who }}'] }\n`,
    );
    const r = await runCli(['run', file, '--param', 'who=Ada', '--json'], dataDir);
    expect(r.code).toBe(0);
    const manifest = manifestSchema.parse(JSON.parse(r.stdout));
    expect(manifest.tasks[0]?.output).toMatchObject({ stdout: 'hi Ada\n' });
    expect(r.stderr).toContain('✔ hi');
    const list = await runCli(['runs', 'list'], dataDir);
    expect(list.stdout).toContain(manifest.runId);
    const show = await runCli(['runs', 'show', manifest.runId.slice(0, 20)], dataDir);
    expect(show.stdout).toContain('success   hi');
  });

  it('writes a stored run’s summary again with runs summarize', async () => {
    const file = join(work, 'op.yaml');
    await writeFile(file, `id: again\ntasks:\n  - { id: no, shell: 'exit 3' }\n`);
    const run = await runCli(['run', file, '--json'], dataDir);
    const { runId } = manifestSchema.parse(JSON.parse(run.stdout));
    const r = await runCli(['runs', 'summarize', runId], dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^again failed/);
    expect(r.stdout).toContain('exited with code 3');
  });

  it('exits 1 when the run fails', async () => {
    const file = join(work, 'op.yaml');
    await writeFile(file, `id: cli\ntasks:\n  - { id: no, shell: 'exit 4' }\n`);
    const r = await runCli(['run', file], dataDir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('exited with code 4');
  });

  it.each([
    ['malformed YAML', 'id: x\ntasks: [\n', /op\.yaml:\d+/],
    ['an unknown task kind', 'id: x\ntasks:\n  - { id: a, bash: ls }\n', /tasks\[0\]: task has no kind/],
    [
      'a cycle',
      'id: x\ntasks:\n  - { id: a, needs: [b], shell: ls }\n  - { id: b, needs: [a], shell: ls }\n',
      /cycle: a → b → a/,
    ],
    [
      'a template naming an unknown task',
      'id: x\ntasks:\n  - { id: a, shell: "echo {{ tasks.z.output }}" }\n',
      /tasks\.z names no task/,
    ],
  ])('exits 2 on %s, names the file and path, and writes nothing', async (_name, text, message) => {
    const file = join(work, 'op.yaml');
    await writeFile(file, text);
    const r = await runCli(['run', file], dataDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('op.yaml');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('exits 2 on an unknown param', async () => {
    const file = join(work, 'op.yaml');
    await writeFile(file, `id: cli\ntasks:\n  - { id: a, shell: ls }\n`);
    const r = await runCli(['run', file, '--param', 'nope=1'], dataDir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown param "nope"');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('validates files and prints the JSON Schema', async () => {
    const r = await runCli(['validate', join(repoRoot, 'resources/examples/hello-world.yaml')], dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('✔');
    const schema = await runCli(['schema'], dataDir);
    const parsed = JSON.parse(schema.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(parsed.properties)).toEqual(
      expect.arrayContaining(['id', 'tasks', 'triggers', 'params']),
    );
  });

  it('cancels on Ctrl-C and still writes a complete manifest', async () => {
    const file = join(work, 'op.yaml');
    await writeFile(file, `id: long\ntasks:\n  - { id: wait, shell: 'echo started; sleep 30' }\n`);
    const r = await runCli(['run', file], dataDir, { signalAfter: /… wait|⋯ wait/ });
    expect(r.code).toBe(1);
    const [runId] = await readdir(join(dataDir, 'runs', 'long'));
    const manifest = manifestSchema.parse(
      JSON.parse(await readFile(join(dataDir, 'runs', 'long', runId ?? '', 'manifest.json'), 'utf8')),
    );
    expect(manifest.status).toBe('cancelled');
    expect(manifest.tasks[0]?.status).toBe('cancelled');
    expect(manifest.endedAt).toBeDefined();
  });
});

describe('shipped examples', () => {
  it.each(['hello-world', 'rest-pull', 'random-words', 'nightly-report'])(
    '%s runs successfully as shipped',
    async (name) => {
      const r = await runCli(
        ['run', join(repoRoot, 'resources/examples', `${name}.yaml`), '--json'],
        dataDir,
      );
      expect(r.stderr).not.toContain('✖');
      expect(r.code).toBe(0);
      expect(manifestSchema.parse(JSON.parse(r.stdout)).status).toBe('success');
    },
  );
});
