import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CursorError } from './cursor.js';
import { exportData } from './data-export.js';
import { DataStoreError } from './data-store.js';
import { parseWhere, whereToSql, WhereError } from './data-where.js';
import { testStores } from './store-test-helpers.js';
import type { Stores } from './stores.js';

let stores: Stores;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ stores, cleanup } = await testStores());
});
afterEach(async () => {
  await cleanup();
});

const provenance = { operationId: 'weather', runId: 'r1', taskId: 'save', nodeId: 'n1' };

function seedWeather(): void {
  stores.data.write(
    'weather',
    [
      { key: 'osl', data: { city: 'Oslo', temp: 4, tags: ['cold'], wind: { speed: 12 } } },
      { key: 'ber', data: { city: 'Berlin', temp: 21, tags: ['warm'], wind: { speed: 3 } } },
      { key: 'cai', data: { city: 'Cairo', temp: 35, tags: [], wind: { speed: 7 } } },
      { key: 'bad', data: { city: 'Nowhere', temp: 'cold' } },
      { data: { city: 'O\'Brien "quoted"', temp: null } },
    ],
    'append',
    provenance,
    1000,
  );
}

const cities = (where: string[]) =>
  stores.data
    .query({ collection: 'weather', where, order: 'asc' })
    .records.map((r) => (r.data as { city: string }).city);

describe('writing', () => {
  it('appends records with provenance and ids', () => {
    const result = stores.data.write(
      'logs',
      [{ data: { a: 1 } }, { data: [1, 2] }, { data: 'text' }],
      'append',
      provenance,
      5000,
    );
    expect(result).toMatchObject({ collection: 'logs', inserted: 3, updated: 0 });
    expect(result.ids).toHaveLength(3);
    const [first] = stores.data.query({ collection: 'logs', order: 'asc', limit: 1 }).records;
    expect(first).toMatchObject({
      id: result.ids[0],
      data: { a: 1 },
      operation: 'weather',
      run: 'r1',
      task: 'save',
      node: 'n1',
      createdAt: new Date(5000).toISOString(),
    });
  });

  it('upserts by key: replaces data, keeps id and createdAt, counts inserts and updates', () => {
    const first = stores.data.write('kv', [{ key: 'a', data: 1 }], 'upsert', provenance, 1000);
    const second = stores.data.write(
      'kv',
      [
        { key: 'a', data: 2 },
        { key: 'b', data: 3 },
        { key: 'b', data: 4 },
      ],
      'upsert',
      { ...provenance, runId: 'r2' },
      2000,
    );
    expect(second).toMatchObject({ inserted: 1, updated: 2 });
    expect(second.ids[0]).toBe(first.ids[0]);
    expect(stores.data.get('kv', 'a')).toMatchObject({
      data: 2,
      run: 'r2',
      createdAt: new Date(1000).toISOString(),
      updatedAt: new Date(2000).toISOString(),
    });
    expect(stores.data.get('kv', 'b')?.data).toBe(4);
    expect(stores.data.collections()).toEqual([{ collection: 'kv', count: 2 }]);
  });

  it('writes all records or none', () => {
    stores.data.write('kv', [{ key: 'a', data: 1 }], 'append');
    expect(() =>
      stores.data.write(
        'kv',
        [
          { key: 'z', data: 1 },
          { key: 'a', data: 2 },
        ],
        'append',
      ),
    ).toThrow(/key "a" already exists in kv: use mode: upsert/);
    expect(stores.data.get('kv', 'z')).toBeUndefined();
    expect(() => stores.data.write('kv', [{ data: 1 }], 'upsert')).toThrow(/upsert needs a key/);
    expect(() => stores.data.write('kv', [{ data: undefined }], 'append')).toThrow(/not JSON/);
    expect(() => stores.data.write('bad name', [{ data: 1 }], 'append')).toThrow(DataStoreError);
    expect(() => stores.data.write("x'; DROP TABLE data_records; --", [{ data: 1 }], 'append')).toThrow(
      DataStoreError,
    );
  });
});

describe('querying', () => {
  it('filters by JSON field comparisons with type-aware semantics', () => {
    seedWeather();
    expect(cities(['data.temp > 20'])).toEqual(['Berlin', 'Cairo']);
    expect(cities(['temp>=21', 'temp <= 21'])).toEqual(['Berlin']);
    expect(cities(['data.temp < 10'])).toEqual(['Oslo']);
    expect(cities(['data.city == "Oslo"'])).toEqual(['Oslo']);
    expect(cities(["data.city = 'Cairo'"])).toEqual(['Cairo']);
    expect(cities(['data.city == Berlin'])).toEqual(['Berlin']);
    // exists: the field is there, even when it holds null.
    expect(cities(['data.city != Berlin', 'data.temp exists'])).toEqual([
      'Oslo',
      'Cairo',
      'Nowhere',
      'O\'Brien "quoted"',
    ]);
    expect(cities(['data.temp == null'])).toEqual(['O\'Brien "quoted"']);
    expect(cities(['data.wind missing'])).toEqual(['Nowhere', 'O\'Brien "quoted"']);
    expect(cities(['data.wind.speed > 5'])).toEqual(['Oslo', 'Cairo']);
    expect(cities(['data.tags[0] == warm'])).toEqual(['Berlin']);
    expect(cities(['data.city ~ "ai"'])).toEqual(['Cairo']);
    expect(cities(['data.city > "M"'])).toEqual(['Oslo', 'Nowhere', 'O\'Brien "quoted"']);
  });

  it('treats injection attempts as data or refuses them, and never runs them', () => {
    seedWeather();
    const attempts = [
      `data.city == "x' OR 1=1 --"`,
      `data.city == 'Oslo" OR "1"="1'`,
      `data.city == "'); DROP TABLE data_records; --"`,
      `data.city ~ "%"`,
      `data.city ~ "_"`,
    ];
    for (const where of attempts) expect(cities([where])).toEqual([]);
    const refused = [
      `data.city') OR 1=1 -- == x`,
      `data.city == x OR 1=1`,
      `data["city"] == Oslo`,
      `data.city; DROP TABLE data_records == 1`,
      `data.$.city == Oslo`,
      `data.temp >> 3`,
      `data.temp`,
      `data.temp > `,
      `1 == 1`,
    ];
    for (const where of refused) expect(() => cities([where]), where).toThrow(WhereError);
    expect(stores.data.collections()).toEqual([{ collection: 'weather', count: 5 }]);
  });

  it('binds every value and only ever puts a checked path into SQL', () => {
    const sql = whereToSql(parseWhere(`data.a.b[2] == "it's"`));
    expect(sql).toEqual({ sql: `json_extract(data, '$.a.b[2]') = ?`, params: ["it's"] });
    expect(() => whereToSql({ field: 'x', path: "$.a') OR ('1", op: '==', value: 1 })).toThrow(WhereError);
  });

  it('filters by key, operation, run and time, and pages with a cursor both ways', () => {
    for (let i = 0; i < 25; i++) {
      stores.data.write(
        'series',
        [{ key: `k${i}`, data: { i } }],
        'append',
        { operationId: i < 10 ? 'a' : 'b', runId: `r${i % 3}` },
        1000 + i,
      );
    }
    expect(stores.data.query({ collection: 'series', key: 'k7' }).records.map((r) => r.data)).toEqual([
      { i: 7 },
    ]);
    expect(stores.data.query({ collection: 'series', operationId: 'a', limit: 100 }).records).toHaveLength(
      10,
    );
    expect(stores.data.query({ collection: 'series', runId: 'r1', limit: 100 }).records).toHaveLength(8);
    expect(
      stores.data
        .query({ collection: 'series', from: 1010, to: 1015, order: 'asc' })
        .records.map((r) => (r.data as { i: number }).i),
    ).toEqual([10, 11, 12, 13, 14]);
    for (const order of ['asc', 'desc'] as const) {
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const page = stores.data.query({
          collection: 'series',
          order,
          limit: 7,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.records.map((r) => (r.data as { i: number }).i));
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      const all = Array.from({ length: 25 }, (_, i) => i);
      expect(seen).toEqual(order === 'asc' ? all : all.reverse());
    }
    const descCursor = stores.data.query({ collection: 'series', limit: 1 }).nextCursor ?? '';
    expect(() => stores.data.query({ collection: 'series', order: 'asc', cursor: descCursor })).toThrow(
      CursorError,
    );
  });

  it('uses an expression index for an indexed field and the key index for keys', () => {
    seedWeather();
    const plan = (sql: string) =>
      stores.db
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all('weather', 'Oslo')
        .map((r) => (r as { detail: string }).detail)
        .join('\n');
    const fieldQuery = `SELECT * FROM data_records WHERE collection = ? AND (json_extract(data, '$.city') = ?) ORDER BY created_at DESC, id DESC`;
    expect(plan(fieldQuery)).not.toMatch(/data_field_/);
    expect(stores.data.ensureIndex('weather', 'data.city')).toMatchObject({ created: true });
    expect(stores.data.ensureIndex('weather', 'city')).toMatchObject({ created: false });
    expect(plan(fieldQuery)).toMatch(/USING INDEX data_field_/);
    expect(plan('SELECT * FROM data_records WHERE collection = ? AND key = ?')).toMatch(
      /USING INDEX data_records_key/,
    );
    expect(cities(['data.city == Oslo'])).toEqual(['Oslo']);
  });
});

describe('export', () => {
  async function exported(format: 'csv' | 'jsonl', where: string[] = []): Promise<string> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const count = await exportData(stores.data, { collection: 'weather', where }, format, out, {
      pageSize: 2,
    });
    out.end();
    expect(count).toBeGreaterThan(0);
    return Buffer.concat(chunks).toString('utf8');
  }

  it('streams JSON Lines, oldest first, across pages', async () => {
    seedWeather();
    const lines = (await exported('jsonl')).trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    const records = lines.map((l) => JSON.parse(l) as { key?: string; data: { city: string } });
    expect(records.map((r) => r.data.city)).toEqual([
      'Oslo',
      'Berlin',
      'Cairo',
      'Nowhere',
      'O\'Brien "quoted"',
    ]);
    expect(records[0]).toMatchObject({ key: 'osl', operation: 'weather', run: 'r1' });
  });

  it('writes RFC 4180 CSV with a column per top-level field', async () => {
    seedWeather();
    stores.data.write('weather', [{ data: 17 }], 'append', provenance, 2000);
    const csv = await exported('csv');
    const rows = csv.split('\r\n');
    expect(rows[0]).toBe(
      'id,key,createdAt,updatedAt,operation,run,task,node,data.city,data.temp,data.tags,data.wind,data',
    );
    expect(rows[1]).toMatch(
      /^1,osl,1970-01-01T00:00:01.000Z,1970-01-01T00:00:01.000Z,weather,r1,save,n1,Oslo,4,"\[""cold""\]","\{""speed"":12\}",$/,
    );
    expect(rows[5]).toMatch(/,"O'Brien ""quoted""",,,,$/);
    expect(rows[6]).toMatch(/,,,,,17$/);
    expect(rows[7]).toBe('');
    expect(rows).toHaveLength(8);
  });

  it('exports only what the filters match', async () => {
    seedWeather();
    const lines = (await exported('jsonl', ['data.temp > 20'])).trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['ber', 'cai']);
  });
});
