import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.js';
import { parseOperation } from '../model/load-operation.js';
import { runYaml, task, testEngine } from '../runner/run-test-helpers.js';
import type { Stores } from '../store/stores.js';

let engine: Engine;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ engine, cleanup } = await testEngine());
});
afterEach(async () => {
  engine.close();
  await cleanup();
});

function stores(): Stores {
  const s = engine.stores;
  if (!s) throw new Error('the engine has no stores');
  return s;
}

describe('data task', () => {
  it('appends every item a previous task returned, attributed to the run, and notes counts in the manifest', async () => {
    const m = await runYaml(
      engine,
      `id: weather
tasks:
  - id: fetch
    shell: "echo '[{\\"city\\":\\"Oslo\\",\\"temp\\":4},{\\"city\\":\\"Cairo\\",\\"temp\\":35}]'"
  - id: save
    needs: [fetch]
    data:
      collection: readings
      records: "{{ parseJson(tasks.fetch.output.stdout) }}"
      index: [city]
  - id: note
    needs: [save]
    data: { collection: notes, record: { saved: "{{ tasks.save.output.count }}", run: "{{ run.id }}" } }
`,
    );
    expect(m.status).toBe('success');
    expect(task(m, 'save').output).toMatchObject({
      collection: 'readings',
      mode: 'append',
      count: 2,
      inserted: 2,
      updated: 0,
    });
    expect(m.outputs.data).toEqual([
      { collection: 'readings', count: 2 },
      { collection: 'notes', count: 1 },
    ]);
    const records = stores().data.query({ collection: 'readings', where: ['data.temp > 20'] }).records;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      data: { city: 'Cairo', temp: 35 },
      operation: 'weather',
      run: m.runId,
      task: 'save',
      node: m.node.id,
    });
    expect(stores().data.query({ collection: 'notes' }).records[0]?.data).toEqual({ saved: 2, run: m.runId });
  });

  it('upserts by key and by keyField, so a second run replaces instead of duplicating', async () => {
    const yaml = `id: prices
params: { price: { default: 1 } }
tasks:
  - id: one
    data: { collection: prices, key: "{{ 'apple' }}", record: { price: "{{ params.price }}" }, mode: upsert }
  - id: many
    data:
      collection: prices
      records: [{ sku: pear, price: 2 }, { sku: plum, price: 3 }]
      keyField: sku
      mode: upsert
`;
    const first = await runYaml(engine, yaml);
    const second = await runYaml(engine, yaml, { params: { price: 9 } });
    expect(task(first, 'many').output).toMatchObject({ inserted: 2, updated: 0 });
    expect(task(second, 'many').output).toMatchObject({ inserted: 0, updated: 2 });
    expect(task(second, 'one').output).toMatchObject({
      updated: 1,
      ids: (task(first, 'one').output as { ids: number[] }).ids,
    });
    expect(stores().data.collections()).toEqual([{ collection: 'prices', count: 3 }]);
    expect(stores().data.get('prices', 'apple')).toMatchObject({ data: { price: 9 }, run: second.runId });
  });

  it('fails with a clear message for a value that is not a list, a missing key, or a bad collection', async () => {
    const m = await runYaml(
      engine,
      `id: bad
tasks:
  - { id: notlist, data: { collection: c, records: "{{ 42 }}" }, continueOnError: true }
  - { id: nokey, data: { collection: c, records: [{ id: 1 }, { other: 2 }], keyField: id, mode: upsert }, continueOnError: true }
  - { id: badname, data: { collection: "../../etc", record: 1 }, continueOnError: true }
`,
    );
    expect(task(m, 'notlist').error).toMatch(/records: "\{\{ 42 \}\}" gave 42, not a list/);
    expect(task(m, 'nokey').error).toMatch(/records\[1\]: keyField "id" is undefined/);
    expect(task(m, 'badname').error).toMatch(/collection "..\/..\/etc" is not a valid name/);
    expect(stores().data.collections()).toEqual([]);
    expect(m.outputs.data).toEqual([]);
  });

  it('checks the spec when the operation is loaded', () => {
    expect(() => parseOperation('id: x\ntasks:\n  - { id: a, data: { collection: c } }\n', 'x.yaml')).toThrow(
      /exactly one of record or records/,
    );
    expect(() =>
      parseOperation(
        'id: x\ntasks:\n  - { id: a, data: { collection: c, record: 1, mode: upsert } }\n',
        'x.yaml',
      ),
    ).toThrow(/upsert needs key/);
    expect(() =>
      parseOperation(
        'id: x\ntasks:\n  - { id: a, data: { collection: c, records: [], key: k } }\n',
        'x.yaml',
      ),
    ).toThrow(/for records use keyField/);
  });
});
