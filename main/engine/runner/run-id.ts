import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A run id that sorts by start time and reads as one: `20261125T031245123Z-k3m9x2`.
 *
 * Sortable ids let folders and the index list newest-first without reading manifests.
 */
export function newRunId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  const suffix = Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('');
  return `${stamp}-${suffix}`;
}
