/** Splits a dotted state path (`weather.Oslo.temp`, `list.0`) into keys. */
export function splitPath(path: string): string[] {
  const keys = path.split('.');
  if (keys.some((k) => k === ''))
    throw new Error(`"${path}" is not a state path: use dotted keys like weather.oslo`);
  for (const key of keys) {
    if (key === '__proto__' || key === 'prototype' || key === 'constructor') {
      throw new Error(`"${path}" uses the reserved key "${key}"`);
    }
  }
  return keys;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Reads the value at a path; undefined when any step is missing. */
export function getAt(root: unknown, keys: readonly string[]): unknown {
  let node = root;
  for (const key of keys) {
    if (!isRecord(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** Returns a copy of `root` with `value` at `keys`, creating objects along the way. */
export function setAt(root: unknown, keys: readonly string[], value: unknown): unknown {
  const [head, ...rest] = keys;
  if (head === undefined) return value;
  if (Array.isArray(root) && /^\d+$/.test(head)) {
    const copy = [...(root as unknown[])];
    copy[Number(head)] = setAt(copy[Number(head)], rest, value);
    return copy;
  }
  const base = isRecord(root) && !Array.isArray(root) ? root : {};
  return { ...base, [head]: setAt(base[head], rest, value) };
}

/** Returns a copy of `root` without the value at `keys`. */
export function deleteAt(root: unknown, keys: readonly string[]): unknown {
  const [head, ...rest] = keys;
  if (head === undefined || !isRecord(root)) return root;
  if (Array.isArray(root)) {
    const copy = [...(root as unknown[])];
    if (rest.length === 0) copy.splice(Number(head), 1);
    else copy[Number(head)] = deleteAt(copy[Number(head)], rest);
    return copy;
  }
  if (!(head in root)) return root;
  if (rest.length === 0) {
    const { [head]: _removed, ...others } = root;
    return others;
  }
  return { ...root, [head]: deleteAt(root[head], rest) };
}
