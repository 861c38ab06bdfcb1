import { parseTemplate } from './template.js';

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

/** Puts placeholder values into a template's text; sees the literal text between them, in order. */
export interface Quoter {
  literal(text: string): void;
  /** The value as it must be written where the text seen so far leaves off; throws when it cannot be made safe. */
  value(text: string): string;
}

/**
 * A context of the shell lexer.
 *
 * `word`: outside quotes, also inside `$(…)` (`subst`) and backticks; `arith`: inside `$((…))` or
 * `((…))`; `single`/`double`: inside the user's own quotes; `heredoc`: the body of a here-document
 * whose delimiter is not quoted (`$`, `` ` `` and `\` are active there, quotes are not);
 * `literal-heredoc`: one whose delimiter is quoted (nothing is active).
 */
type Frame =
  /** `ansi`: inside bash's `$'…'`, which sh reads as `$` and a plain `'…'`. */
  | { kind: 'word' | 'backtick' | 'single' | 'double' | 'ansi' }
  /** `cases`: open `case … esac` statements, whose patterns end with a `)` that closes nothing. */
  | { kind: 'subst'; cases: number }
  | { kind: 'arith'; depth: number }
  | { kind: 'heredoc' | 'literal-heredoc'; delimiter: string; dash: boolean };

const wordBreak = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/**
 * A quoter for `sh -c` scripts: every value arrives as literal text, whatever surrounds its
 * placeholder. Outside quotes it becomes one single-quoted word; inside the user's `'…'` or `"…"`
 * it is escaped for those quotes (so `echo "{{ x }}"` works as written, without extra quote marks);
 * inside `$(…)` and backticks the rules start over; in a here-document body it is escaped for
 * that body.
 *
 * The literal text is followed with a small POSIX sh lexer: quotes, backslashes, `$(…)`, `$((…))`
 * and backticks (nested), comments, and here-documents (`<<EOF`, `<<-EOF`, `<<'EOF'`). A value
 * that could end a here-document early (a line break, or the delimiter itself) is refused.
 */
export function shellQuoter(): Quoter {
  const stack: Frame[] = [{ kind: 'word' }];
  /** Here-documents announced on the current line; their bodies start at the next line break. */
  let pending: Frame[] = [];
  let atWordStart = true;
  /** The word being read outside quotes, to spot `case` and `esac`. */
  let word = '';
  let escaped = false;
  let inComment = false;
  /** Text after `<<` (or `<<-`) that names a here-document's delimiter, while it is being read. */
  let operator: { text: string; dash: boolean } | undefined;
  /** The last literal character, when it was an unescaped `$` (a value after it could form an expansion). */
  let afterDollar = false;
  /** The current line of a here-document body, to spot its delimiter. */
  let line = '';

  const top = (): Frame => stack[stack.length - 1] ?? { kind: 'word' };

  const newline = (): void => {
    inComment = false;
    atWordStart = true;
    // Bodies follow in the order their operators appeared: the first ends up on top.
    for (const heredoc of pending.reverse()) stack.push(heredoc);
    pending = [];
  };

  const endOperator = (): void => {
    const word = (operator?.text ?? '').trim();
    const dash = operator?.dash === true;
    operator = undefined;
    if (word === '') return;
    const delimiter = word.replace(/['"\\]/g, '');
    pending.push({ kind: /['"\\]/.test(word) ? 'literal-heredoc' : 'heredoc', delimiter, dash });
  };

  const bodyLine = (frame: { dash: boolean }, text: string): string =>
    frame.dash ? text.replace(/^\t+/, '') : text;

  /** Consumes one or more characters at `i`; returns how many. */
  const step = (text: string, i: number): number => {
    const ch = text[i] ?? '';
    afterDollar = ch === '$' && !escaped && top().kind !== 'single' && top().kind !== 'literal-heredoc';
    const next = text[i + 1];
    const frame = top();
    if (frame.kind === 'heredoc' || frame.kind === 'literal-heredoc') {
      if (ch !== '\n') {
        line += ch;
        return 1;
      }
      if (bodyLine(frame, line) === frame.delimiter) stack.pop();
      line = '';
      if (top().kind !== 'heredoc' && top().kind !== 'literal-heredoc') atWordStart = true;
      return 1;
    }
    if (inComment) {
      if (ch === '\n') newline();
      return 1;
    }
    if (escaped) {
      escaped = false;
      atWordStart = false;
      return 1;
    }
    if (operator !== undefined) {
      if (operator.text === '' && ch === '-' && !operator.dash) {
        operator.dash = true; // <<- strips leading tabs from the body and its delimiter line.
        return 1;
      }
      if (ch !== '\n' && !(wordBreak.has(ch) && operator.text.trim() !== '')) {
        operator.text += ch;
        return 1;
      }
      endOperator();
    }
    switch (frame.kind) {
      case 'single':
        if (ch === "'") stack.pop();
        return 1;
      case 'ansi':
        if (ch === '\\') escaped = true;
        else if (ch === "'") stack.pop();
        return 1;
      case 'double':
        if (ch === '\\') escaped = true;
        else if (ch === '"') stack.pop();
        else if (ch === '`') stack.push({ kind: 'backtick' });
        else if (ch === '$' && next === '(') return open(text, i);
        return 1;
      case 'arith':
        if (ch === '(') frame.depth++;
        else if (ch === ')' && frame.depth > 0) frame.depth--;
        else if (ch === ')' && next === ')') {
          stack.pop();
          return 2;
        }
        return 1;
      case 'word':
      case 'subst':
      case 'backtick': {
        const wordStart = atWordStart;
        atWordStart = wordBreak.has(ch);
        if (atWordStart) {
          if (frame.kind === 'subst' && word === 'case') frame.cases++;
          if (frame.kind === 'subst' && word === 'esac' && frame.cases > 0) frame.cases--;
          word = '';
        } else word += ch;
        if (ch === '\n') newline();
        else if (ch === '\\') escaped = true;
        else if (ch === "'") stack.push({ kind: 'single' });
        else if (ch === '"') stack.push({ kind: 'double' });
        else if (ch === '#' && wordStart) inComment = true;
        else if (ch === '`') {
          if (frame.kind === 'backtick') stack.pop();
          else stack.push({ kind: 'backtick' });
        } else if (ch === '$' && next === '(') return open(text, i);
        else if (ch === '$' && next === "'") {
          stack.push({ kind: 'ansi' });
          afterDollar = false;
          return 2;
        } else if (ch === '(' && next === '(' && wordStart) {
          stack.push({ kind: 'arith', depth: 0 });
          return 2;
        } else if (ch === '(' && frame.kind === 'subst') stack.push({ kind: 'subst', cases: 0 });
        else if (ch === ')' && frame.kind === 'subst' && frame.cases === 0) stack.pop();
        else if (ch === '<' && next === '<') {
          if (text[i + 2] === '<') return 3; // A bash here-string: an ordinary word follows.
          operator = { text: '', dash: false };
          return 2;
        }
        return 1;
      }
    }
  };

  /** `$(` or `$((` at `i`. */
  const open = (text: string, i: number): number => {
    atWordStart = true;
    word = '';
    if (text[i + 2] === '(') {
      stack.push({ kind: 'arith', depth: 0 });
      return 3;
    }
    stack.push({ kind: 'subst', cases: 0 });
    return 2;
  };

  return {
    literal(text) {
      for (let i = 0; i < text.length;) i += step(text, i);
    },
    value(text) {
      // In a comment a value means nothing, but a line break in it would end the comment and run
      // the rest: it becomes a space.
      if (inComment) return text.replace(/\r\n|[\r\n]/g, ' ');
      if (operator !== undefined)
        throw new Error('a placeholder cannot be a here-document delimiter; write the delimiter as text');
      if (escaped)
        throw new Error('a placeholder right after a backslash cannot be quoted; remove the backslash');
      if (afterDollar)
        throw new Error(
          'a placeholder right after `$` could form an expansion with its value; remove the `$`',
        );
      atWordStart = false;
      afterDollar = false;
      const frame = top();
      switch (frame.kind) {
        case 'word':
        case 'subst':
        case 'arith':
          return shellQuote(text);
        case 'backtick':
          // The shell first finds the closing backtick and drops the backslash before \, ` and $;
          // only then are quotes parsed. So the quoted word is escaped once more for that pass.
          if (stack.filter((f) => f.kind === 'backtick').length > 1)
            throw new Error('a placeholder in nested backticks cannot be quoted; use $(…) instead');
          return shellQuote(text).replace(/[\\`$]/g, '\\$&');
        case 'single':
          return text.replaceAll("'", `'\\''`);
        case 'ansi':
          if (/['\\]/.test(text))
            throw new Error(
              "a value with ' or \\ cannot go into $'…' (bash and sh read it differently); use '…' or \"…\" around the placeholder",
            );
          return text;
        case 'double':
          return text.replace(/[\\"$`]/g, '\\$&');
        case 'heredoc':
        case 'literal-heredoc': {
          if (/[\r\n]/.test(text))
            throw new Error(
              'a value with a line break cannot go into a here-document safely (it could end it early); pass it through stdin or env instead',
            );
          if (frame.kind === 'heredoc' && /(^|[^\\])(\\\\)*\\$/.test(line))
            throw new Error('a placeholder right after a backslash cannot be quoted; remove the backslash');
          const out = frame.kind === 'heredoc' ? text.replace(/[\\$`]/g, '\\$&') : text;
          const lineSoFar = bodyLine(frame, line + out);
          if (out !== '' && frame.delimiter.startsWith(lineSoFar))
            throw new Error(
              `a value could end the here-document early (its delimiter is ${frame.delimiter})`,
            );
          line += out;
          return out;
        }
      }
    },
  };
}

/**
 * What is wrong with where a shell template puts its placeholders, found without running it (a
 * placeholder right after `$` or `\`, or naming a here-document delimiter); undefined when nothing
 * is. Values that cannot go where they stand are still refused when the task runs.
 */
export function shellTemplateProblem(text: string): string | undefined {
  const quoter = shellQuoter();
  for (const part of parseTemplate(text)) {
    if (part.kind === 'text') {
      quoter.literal(part.text);
      continue;
    }
    try {
      quoter.value('');
    } catch (err) {
      return `{{ ${part.source} }}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}
