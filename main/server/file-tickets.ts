import { createHmac, timingSafeEqual } from 'node:crypto';

/** How long a download link stays valid (10 minutes). */
export const ticketLifetimeMs = 10 * 60_000;

function signature(key: string, fileId: number, expires: number): Buffer {
  return createHmac('sha256', key).update(`file:${fileId}:${expires}`).digest();
}

/**
 * A short-lived download ticket for one stored file: `<expires>.<hmac>`.
 *
 * Lets a browser follow a plain link (which cannot carry an Authorization header) without ever
 * putting the node token in a URL; a ticket opens that one file for a few minutes, nothing else.
 */
export function fileTicket(key: string, fileId: number, now = Date.now()): string {
  const expires = now + ticketLifetimeMs;
  return `${expires}.${signature(key, fileId, expires).toString('base64url')}`;
}

/** Whether `ticket` opens file `fileId` now. */
export function checkFileTicket(key: string, fileId: number, ticket: string, now = Date.now()): boolean {
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
  if (match?.[1] === undefined || match[2] === undefined) return false;
  const expires = Number(match[1]);
  if (!(expires > now) || expires > now + ticketLifetimeMs) return false;
  const given = Buffer.from(match[2], 'base64url');
  const wanted = signature(key, fileId, expires);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
