import { ApiError } from '../../main/api/contract-client';

/** Any thrown value as a sentence for the UI, with input issues (`params.city: required`) on their own lines. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const issues = (err.issues ?? []).map((i) => `${i.path === '' ? '(input)' : i.path}: ${i.message}`);
    return [err.message, ...issues].join('\n');
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Whether the node refused the token. */
export function isUnauthorized(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'unauthorized';
}
