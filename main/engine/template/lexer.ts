import { ExpressionError } from './expression-error.js';

/** Two-character punctuators come first so the longest match wins. */
const PUNCTUATORS = [
  '<=',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
  '}}',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  '?',
  ':',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
] as const;
export type Punctuator = (typeof PUNCTUATORS)[number];

export type Token =
  | { readonly type: 'number'; readonly value: number; readonly offset: number }
  | { readonly type: 'string'; readonly value: string; readonly offset: number }
  | { readonly type: 'name'; readonly value: string; readonly offset: number }
  | { readonly type: 'punctuator'; readonly value: Punctuator; readonly offset: number }
  | { readonly type: 'end'; readonly offset: number };

/**
 * Identifiers follow the task id pattern: a letter or `_`, then letters, digits, `_` and `-`.
 *
 * Dashes belong to the name so `tasks.each-city.output` reads naturally; the price is that subtraction needs
 * spaces (`a - b`, while `a-b` is one name).
 */
const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;
const NUMBER = /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"',
};
const NEAR_MISSES: Readonly<Record<string, string>> = { '=': '"=="', '&': '"&&"', '|': '"||"', '}': '"}}"' };

/**
 * Reads tokens one at a time from `start`.
 *
 * Lazy on purpose: inside a template the lexer stops at the closing `}}` and never looks at the literal text after
 * it, which may hold quotes or characters that are not valid expression syntax.
 */
export class Lexer {
  constructor(
    private readonly source: string,
    private position: number,
  ) {}

  next(): Token {
    const { source } = this;
    while (/\s/.test(source.charAt(this.position))) this.position++;
    const offset = this.position;
    if (offset >= source.length) return { type: 'end', offset };
    const char = source.charAt(offset);
    if (char === "'" || char === '"') return this.readString(char, offset);
    const name = this.match(NAME);
    if (name !== undefined) return { type: 'name', value: name, offset };
    const digits = this.match(NUMBER);
    if (digits !== undefined) return { type: 'number', value: Number(digits), offset };
    const punctuator = PUNCTUATORS.find((p) => source.startsWith(p, offset));
    if (punctuator !== undefined) {
      this.position += punctuator.length;
      return { type: 'punctuator', value: punctuator, offset };
    }
    throw new ExpressionError(`unexpected character ${JSON.stringify(char)}`, offset, {
      source,
      ...(NEAR_MISSES[char] === undefined ? {} : { expected: NEAR_MISSES[char] }),
    });
  }

  private match(pattern: RegExp): string | undefined {
    pattern.lastIndex = this.position;
    const found = pattern.exec(this.source)?.[0];
    if (found !== undefined) this.position += found.length;
    return found;
  }

  private readString(quote: string, start: number): Token {
    const { source } = this;
    let value = '';
    let i = start + 1;
    while (i < source.length) {
      const char = source.charAt(i);
      if (char === quote) {
        this.position = i + 1;
        return { type: 'string', value, offset: start };
      }
      if (char !== '\\') {
        value += char;
        i++;
        continue;
      }
      const escaped = source.charAt(i + 1);
      const simple = SIMPLE_ESCAPES[escaped];
      if (simple !== undefined) {
        value += simple;
        i += 2;
        continue;
      }
      const unicode = /^u(?:([0-9a-fA-F]{4})|\{([0-9a-fA-F]{1,6})\})/.exec(source.slice(i + 1, i + 10));
      const code = unicode ? parseInt(unicode[1] ?? unicode[2] ?? '', 16) : NaN;
      if (!unicode || code > 0x10ffff) {
        throw new ExpressionError(`unknown escape "\\${escaped}" in string`, i, {
          source,
          expected: String.raw`one of \n \t \r \b \f \v \0 \\ \' \" \uXXXX \u{X}`,
        });
      }
      value += String.fromCodePoint(code);
      i += 1 + unicode[0].length;
    }
    throw new ExpressionError('unterminated string', start, { source, expected: `a closing ${quote}` });
  }
}
