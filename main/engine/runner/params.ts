import type { OperationDef } from '../model/operation.js';

/** A param value from the command line or an API call that does not fit the operation. */
export class ParamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParamError';
  }
}

function coerce(value: unknown, like: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (typeof like === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (typeof like === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** A choice matches its value, or the text of it when the value came from the command line. */
function sameChoice(choice: unknown, value: unknown): boolean {
  if (choice === value) return true;
  if (typeof choice === 'number' || typeof choice === 'boolean') return String(choice) === value;
  return JSON.stringify(choice) === JSON.stringify(value);
}

/**
 * Resolves a run's params: given values (coerced to the default's type), else defaults.
 *
 * A param with `choices` and no value stays unset, so `random(params.x.choices)` can pick;
 * the declared params object itself is exposed as `params.<name>.choices` through the scope.
 */
export function resolveParams(op: OperationDef, given: Record<string, unknown>): Record<string, unknown> {
  for (const name of Object.keys(given)) {
    if (!(name in op.params)) {
      const declared = Object.keys(op.params);
      throw new ParamError(
        `unknown param "${name}" for operation ${op.id}${declared.length ? ` (it takes: ${declared.join(', ')})` : ' (it takes none)'}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(op.params)) {
    const value = name in given ? coerce(given[name], def.default) : def.default;
    if (value === undefined) {
      if (def.required) throw new ParamError(`param "${name}" is required: pass --param ${name}=VALUE`);
      continue;
    }
    if (def.choices && name in given && !def.choices.some((c) => sameChoice(c, value))) {
      throw new ParamError(
        `param "${name}" must be one of ${def.choices.map((c) => JSON.stringify(c)).join(', ')}`,
      );
    }
    out[name] = value;
  }
  return out;
}
