import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, openDatabase, type Database } from './database.js';

let dir: string;
let db: Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uv-db-'));
  db = openDatabase(dir);
});
afterEach(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('uses WAL, NORMAL sync, foreign keys and a busy timeout', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });
});

describe('migrate', () => {
  it('applies each step once per module and keeps modules apart', () => {
    const applied: string[] = [];
    const steps = [
      {
        version: 1,
        description: 'a',
        up: (d: Database) => (applied.push('a1'), d.exec('CREATE TABLE a (x)')),
      },
      {
        version: 2,
        description: 'b',
        up: (d: Database) => (applied.push('a2'), d.exec('ALTER TABLE a ADD y')),
      },
    ];
    migrate(db, 'alpha', steps);
    migrate(db, 'alpha', steps);
    migrate(db, 'beta', [
      { version: 1, description: 'b', up: (d) => (applied.push('b1'), d.exec('CREATE TABLE b (x)')) },
    ]);
    expect(applied).toEqual(['a1', 'a2', 'b1']);
    const versions = db.prepare('SELECT module, version FROM schema_migrations ORDER BY module').all();
    expect(versions).toEqual([
      { module: 'alpha', version: 2 },
      { module: 'beta', version: 1 },
    ]);
  });

  it('rolls a failing step back and applies nothing of it', () => {
    expect(() =>
      migrate(db, 'gamma', [
        { version: 1, description: 'ok', up: (d) => d.exec('CREATE TABLE g (x)') },
        { version: 2, description: 'bad', up: (d) => d.exec('THIS IS NOT SQL') },
      ]),
    ).toThrow();
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'g'").get()).toBeUndefined();
  });

  it('refuses a database written by a newer version', () => {
    migrate(db, 'delta', [
      { version: 1, description: '1', up: () => undefined },
      { version: 2, description: '2', up: () => undefined },
    ]);
    expect(() => migrate(db, 'delta', [{ version: 1, description: '1', up: () => undefined }])).toThrow(
      /newer than this Ultravisor/,
    );
  });
});
