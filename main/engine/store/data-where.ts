/** A comparison operator a where clause may use; nothing else reaches SQL. */
export type WhereOperator = '==' | '!=' | '>' | '>=' | '<' | '<=' | '~' | 'exists' | 'missing';

/** A parsed `field op value` clause over a record's `data`. */
export interface WhereClause {
  /** The field as written, for messages. */
  field: string;
  /** A canonical SQLite JSON path such as `$.weather.temp` or `$.items[0]`. */
  path: string;
  op: WhereOperator;
  value: string | number | boolean | null;
}

/** A where clause that does not parse; the message says what and how to fix it. */
export class WhereError extends Error {
  constructor(clause: string, problem: string) {
    super(
      `--where "${clause}": ${problem}. Write field op value, e.g. data.temp > 20, data.city == "Oslo", data.tags ~ urgent, data.note exists`,
    );
    this.name = 'WhereError';
  }
}

const identifier = '[A-Za-z_][A-Za-z0-9_]*';
const fieldPattern = new RegExp(`^(?:data\\.)?(${identifier}(?:\\.${identifier}|\\[\\d{1,6}\\])*)`);
/** Longest operators first so `>=` is not read as `>` followed by `=`. */
const operators = ['==', '!=', '>=', '<=', '=', '>', '<', '~'] as const;
const numberPattern = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const barePattern = /^[^\s"']+$/;

/**
 * A JSON path that may appear literally in SQL: `$`, then `.identifier` or `[digits]` parts only.
 *
 * The path is written into the SQL text (not bound) because SQLite uses an expression index only
 * when the query's expression is textually the same as the index's; this check is what makes that
 * safe — no quote, space or other character can get through.
 */
export const safeJsonPath = /^\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d{1,6}\])+$/;

/** Turns `data.a.b[2]` (or `a.b[2]`) into `$.a.b[2]`; throws {@link WhereError} for anything else. */
export function fieldToPath(field: string, clause = field): string {
  const match = fieldPattern.exec(field.trim());
  if (match?.[1] === undefined || match[0].length !== field.trim().length) {
    throw new WhereError(
      clause,
      `"${field}" is not a field: use letters, digits and _ joined by dots, e.g. data.weather.temp`,
    );
  }
  const path = `$.${match[1]}`;
  if (!safeJsonPath.test(path)) throw new WhereError(clause, `"${field}" is not a field`);
  return path;
}

function parseValue(text: string, clause: string): string | number | boolean | null {
  if (text === '') throw new WhereError(clause, 'the value is missing');
  if (text.startsWith('"')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // reported below
    }
    throw new WhereError(clause, `${text} is not a complete "quoted" string`);
  }
  if (text.startsWith("'")) {
    if (text.length < 2 || !text.endsWith("'"))
      throw new WhereError(clause, `${text} is not a complete 'quoted' string`);
    return text.slice(1, -1).replace(/\\(['\\])/g, '$1');
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (numberPattern.test(text)) return Number(text);
  if (barePattern.test(text)) return text;
  throw new WhereError(clause, `${text} is not a value: quote text that holds spaces or quotes`);
}

/** Parses one clause: `field op value`, `field exists` or `field missing`. */
export function parseWhere(clause: string): WhereClause {
  const text = clause.trim();
  const fieldMatch = fieldPattern.exec(text);
  if (!fieldMatch) {
    throw new WhereError(clause, 'it must start with a field such as data.temp');
  }
  const field = fieldMatch[0];
  const path = fieldToPath(field, clause);
  const rest = text.slice(field.length).trim();
  const word = /^(exists|missing)$/i.exec(rest);
  if (word?.[1] !== undefined) {
    return { field, path, op: word[1].toLowerCase() === 'exists' ? 'exists' : 'missing', value: null };
  }
  const op = operators.find((o) => rest.startsWith(o));
  if (op === undefined) {
    const shown = /^\S*/.exec(rest)?.[0] ?? '';
    throw new WhereError(
      clause,
      shown === ''
        ? 'an operator is missing'
        : `unknown operator "${shown}"; use ==, !=, >, >=, <, <=, ~, exists or missing`,
    );
  }
  const afterOp = rest.slice(op.length);
  if (/^[=<>!~]/.test(afterOp)) {
    throw new WhereError(
      clause,
      `unknown operator "${op}${afterOp[0] ?? ''}"; use ==, !=, >, >=, <, <=, ~, exists or missing`,
    );
  }
  const value = parseValue(afterOp.trim(), clause);
  const normalised: WhereOperator = op === '=' ? '==' : op;
  if (value === null && normalised !== '==' && normalised !== '!=') {
    throw new WhereError(clause, `null only compares with == or !=`);
  }
  if (normalised === '~' && typeof value !== 'string') {
    throw new WhereError(clause, '~ (contains) needs text, e.g. data.title ~ "disk full"');
  }
  return { field, path, op: normalised, value };
}

/** SQL and bound parameters for one clause over the `data` column. */
export interface WhereSql {
  sql: string;
  params: (string | number)[];
}

/**
 * Translates a parsed clause into SQL with every value bound.
 *
 * Only a path that passed {@link safeJsonPath} reaches the SQL text. Comparisons also check the
 * stored value's type: SQLite orders every text above every number, so without the check
 * `temp > 20` would match `"temp": "cold"`.
 */
export function whereToSql(clause: WhereClause, column = 'data'): WhereSql {
  if (!safeJsonPath.test(clause.path)) throw new WhereError(clause.field, 'not a field');
  const extract = `json_extract(${column}, '${clause.path}')`;
  const { value } = clause;
  switch (clause.op) {
    case 'exists':
      return { sql: `json_type(${column}, '${clause.path}') IS NOT NULL`, params: [] };
    case 'missing':
      return { sql: `json_type(${column}, '${clause.path}') IS NULL`, params: [] };
    case '~':
      return {
        sql: `${extract} LIKE ? ESCAPE '\\'`,
        params: [`%${String(value).replace(/[\\%_]/g, (c) => `\\${c}`)}%`],
      };
    case '==':
    case '!=': {
      if (value === null) return { sql: `${extract} IS ${clause.op === '==' ? '' : 'NOT '}NULL`, params: [] };
      const bound = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      return { sql: `${extract} ${clause.op === '==' ? '=' : '!='} ?`, params: [bound] };
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      if (value === null) throw new WhereError(clause.field, 'null only compares with == or !=');
      const bound = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      const types = typeof value === 'string' ? "'text'" : "'integer', 'real'";
      return { sql: `${extract} ${clause.op} ? AND typeof(${extract}) IN (${types})`, params: [bound] };
    }
    default:
      return clause.op satisfies never;
  }
}
