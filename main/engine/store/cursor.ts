import { z } from 'zod';

/** A cursor that cannot be read: wrong shape, or from another kind of list. */
export class CursorError extends Error {
  constructor(message = 'the cursor is not valid here: pass the nextCursor a previous page printed') {
    super(message);
    this.name = 'CursorError';
  }
}

/**
 * Encodes the sort key of the last row of a page as an opaque string for the next page.
 *
 * Keyset paging (`WHERE (a, b) < (?, ?)`) costs the same on page 1 and page 10,000, where OFFSET
 * reads and discards every row before the page.
 */
export function encodeCursor(kind: string, key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString('base64url');
}

const cursorSchema = z.array(z.union([z.string(), z.number()])).min(1);

/** Decodes a cursor made by {@link encodeCursor} for `kind`, checking each key part against `schema`. */
export function decodeCursor<T extends z.ZodType>(kind: string, cursor: string, schema: T): z.output<T> {
  let parts: (string | number)[];
  try {
    parts = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new CursorError();
  }
  if (parts[0] !== kind) throw new CursorError();
  const parsed = schema.safeParse(parts.slice(1));
  if (!parsed.success) throw new CursorError();
  return parsed.data;
}
