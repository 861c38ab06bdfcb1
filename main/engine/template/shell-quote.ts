/**
 * Quotes a string as one literal POSIX shell word: `it's` → `'it'\''s'`, empty → `''`.
 *
 * Always quotes, even "safe" words: an unquoted value in command position could still be a keyword (`if`) or an
 * assignment (`A=b`). Inside single quotes nothing is special to sh except the closing quote, which is spliced
 * as `'\''`. A NUL byte cannot be passed to a process at all; Node rejects such a command when it spawns it.
 */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
