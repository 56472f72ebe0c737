// Who is asking: whether a request comes from loopback, and the bearer token it carries. Shared by
// the details policy and the heartbeat endpoint.
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;
const BEARER = /^bearer[ \t]+(.+?)[ \t]*$/i;

/** The request came over a loopback connection (the same host or pod). */
export function isLoopbackCaller(c: Context): boolean {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  const remote = incoming?.socket?.remoteAddress;
  return remote !== undefined && LOOPBACK.test(remote);
}

/** The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive, RFC 7235), if any. */
export function bearerOf(c: Context): string | undefined {
  const header = c.req.header('authorization');
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/** Compares in constant time for equal lengths. */
export function isSameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
