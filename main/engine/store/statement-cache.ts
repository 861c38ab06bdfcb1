import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './database.js';

type Statement = BetterSqlite3.Statement;

/**
 * Prepared statements by SQL text, least recently used dropped past `max`.
 *
 * Queries built from filters have a handful of shapes (values are always bound), so preparing each
 * shape once saves the compile on every call.
 */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(
    private readonly db: Database,
    private readonly max = 64,
  ) {}

  get(sql: string): Statement {
    const cached = this.statements.get(sql);
    if (cached !== undefined) {
      this.statements.delete(sql);
      this.statements.set(sql, cached);
      return cached;
    }
    const statement = this.db.prepare(sql);
    this.statements.set(sql, statement);
    if (this.statements.size > this.max) {
      const oldest = this.statements.keys().next().value;
      if (oldest !== undefined) this.statements.delete(oldest);
    }
    return statement;
  }
}
