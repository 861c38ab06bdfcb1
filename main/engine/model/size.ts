import { z } from 'zod';

const unitBytes: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** Parses `5GB`, `512MiB`, `100kb` or a plain number of bytes. Undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (m?.[1] === undefined) return undefined;
  const factor = unitBytes[(m[2] ?? '').toLowerCase() || 'b'];
  return factor === undefined ? undefined : Math.round(Number(m[1]) * factor);
}

/** A size in an operation file: `5GB`, `512MiB`, or a number of bytes. Parsed to bytes. */
export const sizeSchema = z.union([z.string(), z.number().nonnegative()]).transform((value, ctx) => {
  if (typeof value === 'number') return value;
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a size: use e.g. 5GB, 512MiB or a number of bytes`,
    });
    return z.NEVER;
  }
  return bytes;
});
