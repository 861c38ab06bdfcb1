import { z } from 'zod';

/** Documentation schemas for keyed unions, used when printing the JSON Schema (see operation-json-schema.ts). */
export const keyedUnionDocs = new WeakMap<object, z.ZodType>();

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A union whose member is chosen by which one of `kinds`' keys the object holds.
 *
 * A plain z.union reports every branch's errors when none matches, which buries the one that
 * matters; choosing the branch by key first lets errors say "two kinds in one task" or name the
 * bad field of the kind the user meant.
 */
export function keyedUnion<T extends Record<string, z.ZodType>>(
  what: string,
  kinds: T,
  companions: Partial<Record<keyof T, (keyof T)[]>> = {},
): z.ZodType<z.output<T[keyof T]> & { kind: keyof T & string }> {
  const names = Object.keys(kinds);
  const schema = z.unknown().transform((value, ctx) => {
    if (!isRecord(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `a ${what} must be a mapping with one of: ${names.join(', ')}`,
      });
      return z.NEVER;
    }
    const found = names.filter((name) => name in value);
    // A kind may use another kind's key as an ordinary field (a condition's `every`).
    const allowed = new Set(found.flatMap((name) => companions[name] ?? []));
    const present = found.filter((name) => !allowed.has(name));
    const [kind] = present;
    if (kind === undefined) {
      ctx.addIssue({ code: 'custom', message: `${what} has no kind: give it one of ${names.join(', ')}` });
      return z.NEVER;
    }
    if (present.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} has ${present.length} kinds (${present.join(', ')}): a ${what} has exactly one`,
      });
      return z.NEVER;
    }
    const member = kinds[kind];
    if (member === undefined) return z.NEVER;
    const result = member.safeParse(value);
    if (!result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path, input: undefined });
      }
      return z.NEVER;
    }
    return { ...(result.data as object), kind } as z.output<T[keyof T]> & { kind: keyof T & string };
  });
  const members = Object.values(kinds);
  keyedUnionDocs.set(schema, z.union(members as [z.ZodType, z.ZodType, ...z.ZodType[]]));
  return schema;
}
