/** Objects whose prototype is Object.prototype or null: the only objects whose members expressions may read. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Reads `target[key]` the safe way: own data properties of plain objects and arrays, and string characters.
 *
 * Never walks the prototype chain and never runs getters, so `x.__proto__`, `x.constructor` and friends are
 * undefined unless the data itself holds such a key. Integer keys may be negative to count from the end.
 */
export function readMember(target: unknown, key: unknown): unknown {
  if (typeof target === 'string' || Array.isArray(target)) {
    if (key === 'length') return target.length;
    const index = toIndex(key, target.length);
    if (index === undefined) return undefined;
    return typeof target === 'string' ? target.charAt(index) : ownData(target, String(index));
  }
  if (!isPlainObject(target) || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
  return ownData(target, String(key));
}

function ownData(target: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
}

function toIndex(key: unknown, length: number): number | undefined {
  const index = typeof key === 'string' && /^-?\d+$/.test(key) ? Number(key) : key;
  if (typeof index !== 'number' || !Number.isInteger(index)) return undefined;
  const fromStart = index < 0 ? length + index : index;
  return fromStart >= 0 && fromStart < length ? fromStart : undefined;
}

/** JS truthiness, except that an empty list and an empty object are false. */
export function isTruthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return Boolean(value);
}

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number, or a string that spells a decimal number ("26", " -1.5 "); undefined for anything else. */
export function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return NUMERIC.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * Equality for `==`: numbers match numeric strings, null matches undefined, lists and objects compare deeply.
 *
 * Task outputs are often text (`"26"` from stdout), so `output == 26` should hold; everything else is strict.
 */
export function looseEquals(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null || b === undefined || b === null) {
    return (a === undefined || a === null) && (b === undefined || b === null);
  }
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a);
    return x !== undefined && x === toNumber(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => looseEquals(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && looseEquals(a[key], b[key]))
    );
  }
  return a === b;
}

/** Text for a value inside a template: strings as is, null and undefined as '', lists and objects as JSON. */
export function stringifyValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'function' || typeof value === 'symbol') return '';
  return toJson(value) ?? '';
}

/** JSON.stringify with its real return type: undefined for values JSON cannot hold. */
export function toJson(value: unknown): string | undefined {
  const json: string | undefined = JSON.stringify(value);
  return json;
}

/** A short type name for messages: list, object, string, number, boolean, null or undefined. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}
