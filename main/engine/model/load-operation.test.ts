import { describe, expect, it } from 'vitest';
import { parseOperation } from './load-operation.js';
import { OperationFileError } from './operation-error.js';

function problems(text: string): string[] {
  try {
    parseOperation(text, 'op.yaml');
  } catch (err) {
    if (err instanceof OperationFileError)
      return err.issues.map((i) => `${i.line ?? '?'} ${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected the operation to be rejected');
}

const ok = `
id: weather-pull
params:
  city: { default: Oslo }
  word: { choices: [amber, cobalt] }
timeout: 10m
tasks:
  - id: fetch
    http: { url: "http://127.0.0.1:8080/forecast?city={{ params.city }}", retry: { attempts: 3, backoff: 2s } }
  - id: remember
    needs: [fetch]
    state: { scope: global, set: "weather.{{ params.city }}", value: "{{ tasks.fetch.output.body.temp }}" }
  - id: report
    needs: [fetch]
    if: "tasks.fetch.output.body.temp > 25"
    shell: ["notify-send", "Hot in {{ params.city }} {{ random(params.word.choices) }}"]
  - id: each-city
    forEach: ["Oslo", "Lima", "Pune"]
    concurrency: 2
    shell: "echo {{ item }} >> {{ run.staging }}/cities.txt"
`;

describe('parseOperation', () => {
  it('accepts the reference operation and normalises tasks to {kind, spec}', () => {
    const op = parseOperation(ok, 'op.yaml');
    expect(op.timeout).toBe(600_000);
    expect(op.concurrency).toBe(4);
    expect(op.tasks.map((t) => [t.id, t.kind])).toEqual([
      ['fetch', 'http'],
      ['remember', 'state'],
      ['report', 'shell'],
      ['each-city', 'shell'],
    ]);
    const fetch = op.tasks[0];
    expect(fetch?.kind === 'http' && fetch.spec.retry).toEqual({ attempts: 3, backoff: 2000 });
    const report = op.tasks[2];
    expect(report?.kind === 'shell' && report.spec.command).toEqual([
      'notify-send',
      'Hot in {{ params.city }} {{ random(params.word.choices) }}',
    ]);
  });

  it('reports malformed YAML with its line', () => {
    expect(problems('id: x\ntasks:\n  - id: a\n    shell: [unclosed\n')[0]).toMatch(/^\d+ /);
  });

  it('names an unknown task kind and two kinds in one task', () => {
    expect(problems('id: x\ntasks:\n  - id: a\n    bash: ls\n')[0]).toMatch(
      /^3 tasks\[0\]: task has no kind: give it one of shell, http, state, operation/,
    );
    expect(problems('id: x\ntasks:\n  - id: a\n    shell: ls\n    http: { url: "http://x" }\n')[0]).toContain(
      'tasks[0]: task has 2 kinds (shell, http)',
    );
  });

  it('refuses shell strings whose placeholders cannot be quoted where they stand, before anything runs', () => {
    expect(
      problems('id: x\ntasks:\n  - id: a\n    shell: \'echo "${{ item }}"\'\n    forEach: [1]\n')[0],
    ).toMatch(/tasks\[0\]\.shell: \{\{ item \}\}: a placeholder right after `\$`/);
    expect(problems('id: x\ntasks:\n  - id: a\n    shell: { command: "cat <<{{ now }}" }\n')[0]).toMatch(
      /tasks\[0\]\.shell\.command: .*here-document delimiter/,
    );
    expect(() =>
      parseOperation('id: x\ntasks:\n  - id: a\n    shell: "echo \'{{ now }}\' \\"{{ now }}\\""\n', 'x.yaml'),
    ).not.toThrow();
  });

  it('takes only POSIX shells for the string form, and says to use argv for another interpreter', () => {
    const withShell = (shell: string) =>
      `id: x\ntasks:\n  - id: a\n    shell: { command: 'print(1)', shell: ${shell} }\n`;
    expect(problems(withShell('python3'))[0]).toMatch(/tasks\[0\]\.shell\.shell: .*POSIX.*argv form/);
    expect(problems(withShell('/usr/bin/node'))).toHaveLength(1);
    expect(() => parseOperation(withShell('bash'), 'x.yaml')).not.toThrow();
    expect(() => parseOperation(withShell('/bin/zsh'), 'x.yaml')).not.toThrow();
  });

  it('rejects unknown fields inside a kind with their path', () => {
    expect(problems('id: x\ntasks:\n  - id: a\n    http: { url: "http://x", verb: GET }\n')[0]).toMatch(
      /tasks\[0\].*verb/,
    );
  });

  it('rejects duplicate ids, missing needs and cycles with paths', () => {
    expect(problems('id: x\ntasks:\n  - { id: a, shell: ls }\n  - { id: a, shell: ls }\n')).toEqual([
      '4 tasks[1].id: duplicate task id "a" (also tasks[0])',
    ]);
    expect(
      problems('id: x\ntasks:\n  - { id: a, shell: ls }\n  - { id: b, needs: [a, zz], shell: ls }\n'),
    ).toEqual(['4 tasks[1].needs[1]: needs "zz", but no task has that id']);
    expect(
      problems(
        'id: x\ntasks:\n  - { id: a, needs: [c], shell: ls }\n  - { id: b, needs: [a], shell: ls }\n  - { id: c, needs: [b], shell: ls }\n',
      )[0],
    ).toContain('cycle: a → c → b → a');
  });

  it('rejects templates naming unknown or non-upstream tasks, unknown params and bad syntax', () => {
    expect(problems('id: x\ntasks:\n  - { id: a, shell: "echo {{ tasks.nope.output }}" }\n')[0]).toContain(
      'tasks[0].shell: tasks.nope names no task',
    );
    expect(
      problems(
        'id: x\ntasks:\n  - { id: a, shell: ls }\n  - { id: b, shell: "echo {{ tasks.a.output }}" }\n',
      )[0],
    ).toContain('add "a" to needs');
    expect(problems('id: x\ntasks:\n  - { id: a, shell: "echo {{ params.city }}" }\n')[0]).toContain(
      'params.city is not declared',
    );
    expect(problems('id: x\ntasks:\n  - { id: a, shell: "echo {{ params. }}" }\n')[0]).toMatch(
      /tasks\[0\]\.shell/,
    );
    expect(problems('id: x\ntasks:\n  - { id: a, shell: "echo {{ item }}" }\n')[0]).toContain(
      'item exists only inside a task with forEach',
    );
  });

  it('rejects bad durations and cron strings with the field path', () => {
    expect(problems('id: x\ntimeout: soon\ntasks:\n  - { id: a, shell: ls }\n')[0]).toContain(
      'timeout: "soon" is not a duration',
    );
    expect(
      problems('id: x\ntriggers:\n  - schedule: "61 * * * *"\ntasks:\n  - { id: a, shell: ls }\n')[0],
    ).toMatch(/triggers\[0\]\.schedule: invalid cron/);
    expect(problems('id: x\ntriggers:\n  - every: 0s\ntasks:\n  - { id: a, shell: ls }\n')[0]).toContain(
      'at least 1s',
    );
  });

  it('accepts a condition trigger whose interval is named every', () => {
    const op = parseOperation(
      'id: x\ntriggers:\n  - condition: { check: disk, path: /, below: 5GB }\n    every: 10s\ntasks:\n  - { id: a, shell: ls }\n',
      'op.yaml',
    );
    expect(op.triggers[0]).toMatchObject({ kind: 'condition', every: 10_000, condition: { below: 5e9 } });
  });
});
