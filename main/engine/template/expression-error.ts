/** Extra facts that make an {@link ExpressionError} message actionable. */
export interface ExpressionErrorDetails {
  /** What would have been valid at that point, e.g. `a value after "+"`. */
  readonly expected?: string;
  /** The whole text the offset points into; lets the message give a line as well as a column. */
  readonly source?: string;
  /** Where the text sits inside a larger value, e.g. `headers.accept` (set by renderDeep). */
  readonly path?: string;
}

/**
 * An expression or template that cannot be parsed or evaluated.
 *
 * `offset` is a 0-based index into the parsed text (the whole template, not one placeholder) so editors and the
 * operation validator can point at the exact character; the message repeats it as a 1-based column.
 */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';

  constructor(
    readonly problem: string,
    readonly offset: number,
    readonly details: ExpressionErrorDetails = {},
  ) {
    const where = `${problem} at ${describePosition(offset, details.source)}`;
    const message = details.expected === undefined ? where : `${where}: expected ${details.expected}`;
    super(details.path === undefined ? message : `${details.path}: ${message}`);
  }

  /** The same error, located inside a larger value at `path`. */
  at(path: string): ExpressionError {
    return new ExpressionError(this.problem, this.offset, { ...this.details, path });
  }
}

/** `column 7`, or `line 2, column 3` when the source has several lines. */
export function describePosition(offset: number, source: string | undefined): string {
  if (source === undefined || !source.includes('\n')) return `column ${offset + 1}`;
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}
