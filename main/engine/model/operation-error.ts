/** One problem found in an operation file. */
export interface OperationIssue {
  /** Dotted path into the file, e.g. `tasks[2].needs[0]`; empty for the whole file. */
  path: string;
  message: string;
  /** 1-based line and column in the file, when known. */
  line?: number;
  column?: number;
}

/** Formats a zod-style path (`['tasks', 2, 'needs', 0]`) as `tasks[2].needs[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * An operation file that cannot be used; lists every problem found, each with its path.
 *
 * The CLI prints this and exits 2; nothing has run and nothing has been written.
 */
export class OperationFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: OperationIssue[],
  ) {
    super(
      `${file}: ${issues.length === 1 ? 'is invalid' : `has ${issues.length} problems`}\n` +
        issues
          .map((i) => {
            const where =
              i.line === undefined ? '' : `:${i.line}${i.column === undefined ? '' : `:${i.column}`}`;
            return `  ${file}${where} ${i.path === '' ? '' : `${i.path}: `}${i.message}`;
          })
          .join('\n'),
    );
    this.name = 'OperationFileError';
  }
}
