/** Bound parameter values of the stores' queries. */
export type SqlValue = string | number;

/**
 * The WHERE clause of a store query, built from optional filters: each clause joins with AND and
 * brings its own bound values, so SQL text and parameters cannot drift apart.
 */
export class SqlFilter {
  private readonly clauses: string[] = [];
  readonly params: SqlValue[] = [];

  /** Adds `clause` (with one `?`) bound to `value`, unless the value is undefined. */
  when(clause: string, value: SqlValue | undefined): this {
    if (value !== undefined) this.add(clause, value);
    return this;
  }

  /** Adds `clause` with its bound values, one per `?`. */
  add(clause: string, ...values: SqlValue[]): this {
    this.clauses.push(clause);
    this.params.push(...values);
    return this;
  }

  /** `WHERE a AND b`, or nothing without clauses. */
  get sql(): string {
    return this.clauses.length === 0 ? '' : `WHERE ${this.clauses.join(' AND ')}`;
  }
}
