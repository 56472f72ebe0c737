// POST /heartbeat/<check>: how the application feeds a heartbeat check. A caller must carry the
// check's bearer token when one is configured, or else come from loopback; only a declared heartbeat
// check is accepted (404 otherwise, listing nothing); the body is a few KiB at most, and what it says
// goes through the same bounds as any check's output.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { bearerOf, isLoopbackCaller, isSameSecret } from './callers.js';
import { UNREADABLE_TOKEN, type Beat, type Heartbeats, type Token } from './heartbeat.js';
import type { Logger } from './log.js';
import type { Route } from './server.js';

/** The largest body a beat may carry. */
export const MAX_BEAT_BYTES = 4096;

/** Why a beat was refused: the label of vigil_heartbeat_rejected_total (bounded, never a check name). */
export type BeatRejection = 'unauthorized' | 'not_found' | 'too_large' | 'bad_request' | 'forbidden_origin';

export interface HeartbeatRouteOptions {
  readonly heartbeats: Heartbeats;
  /** server.trustLoopback: loopback callers may post to checks without a token. */
  readonly trustLoopback: () => boolean;
  readonly log: Logger;
  /** Counts a refused beat. */
  readonly rejected?: (reason: BeatRejection) => void;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

export function heartbeatRoute({ heartbeats, trustLoopback, log, rejected }: HeartbeatRouteOptions): Route {
  const refuse = (c: Context, reason: BeatRejection, status: 400 | 401 | 403 | 404 | 413 | 415, error: string, name: string, headers: Record<string, string> = {}) => {
    rejected?.(reason);
    log.debug('heartbeat refused', { check: name, reason, status, error });
    return c.json({ error }, status, { ...NO_STORE, ...headers });
  };
  return {
    path: '/heartbeat/:name',
    async handler(c: Context) {
      if (c.req.method !== 'POST') return c.json({ error: `method ${c.req.method} not allowed` }, 405, { ...NO_STORE, Allow: 'POST' });
      const name = c.req.param('name') ?? '';
      // A browser page elsewhere may send a simple POST here without any preflight: a request
      // carrying an Origin other than the agent's own is refused whoever it comes from.
      if (!isOwnOrigin(c)) return refuse(c, 'forbidden_origin', 403, 'cross-origin requests are refused', name);
      // Who may post is decided before whether the name is a heartbeat check: a caller that may not
      // post gets 401 whatever the name, so the answer never says which checks exist.
      if (!mayPost(c, heartbeats.tokenOf(name), trustLoopback())) {
        return refuse(c, 'unauthorized', 401, 'a valid bearer token is required', name, { 'WWW-Authenticate': 'Bearer' });
      }
      if (!heartbeats.has(name)) return refuse(c, 'not_found', 404, 'not found', name);
      const body = await readBounded(c, MAX_BEAT_BYTES);
      if (body === undefined) return refuse(c, 'too_large', 413, `the body is larger than ${MAX_BEAT_BYTES} bytes`, name, { Connection: 'close' });
      if (body === ABORTED) return refuse(c, 'bad_request', 400, 'the body did not arrive', name, { Connection: 'close' });
      // A reload (or the agent stopping) may have removed the check, or changed its type, while the body was arriving.
      if (!heartbeats.has(name)) return refuse(c, 'not_found', 404, 'not found', name);
      // application/json is not a type a browser may send cross-site without asking first (text/plain,
      // a form's types are): a body must say it.
      if (body.length > 0 && !isJson(c.req.header('content-type'))) return refuse(c, 'bad_request', 415, 'a body must be sent as Content-Type: application/json', name);
      const beat = parseBeat(body, heartbeats.tokens());
      if (typeof beat === 'string') return refuse(c, 'bad_request', 400, beat, name);
      heartbeats.beat(name, beat);
      return c.body(null, 204, NO_STORE);
    },
  };
}

/** No Origin header (not a browser's cross-site request), or one naming the host the request was sent to. */
function isOwnOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  const host = c.req.header('host');
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    // "null" (a sandboxed or file: page) and anything unparsable.
    return false;
  }
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/** With a token configured, every caller must carry it (loopback too); without one, loopback callers only. */
function mayPost(c: Context, token: Token, trustLoopback: boolean): boolean {
  if (token === undefined) return trustLoopback && isLoopbackCaller(c);
  if (token === UNREADABLE_TOKEN) return false;
  const given = bearerOf(c);
  return given !== undefined && isSameSecret(given, token);
}

/** A body that stopped arriving: the caller went away. */
const ABORTED = Symbol('aborted');

/**
 * The body as text, or undefined when it is longer than maxBytes (read no further than that).
 * Read from Node's request stream itself: asking the web Request for its body makes the adapter
 * build a whole Request (headers, a stream, an abort controller) for every beat, which heartbeat
 * spam turns into a hundred megabytes of RSS.
 */
async function readBounded(c: Context, maxBytes: number): Promise<string | undefined | typeof ABORTED> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > maxBytes) return undefined;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return readWebBounded(c.req.raw, maxBytes);
  // No body at all (curl -X POST): nothing to read.
  if (declared === 0 && c.req.header('transfer-encoding') === undefined) return '';
  if (incoming.readableEnded) return '';
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const settle = (value: string | undefined | typeof ABORTED) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onAborted);
      incoming.off('close', onAborted);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.byteLength;
      if (length > maxBytes) {
        // Read no further: the answer closes the connection.
        incoming.pause();
        settle(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(Buffer.concat(chunks, length).toString('utf8'));
    const onAborted = () => settle(ABORTED);
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAborted);
    incoming.on('close', onAborted);
  });
}

/** As readBounded, from a web Request (an app served by something else than @hono/node-server). */
async function readWebBounded(request: Request, maxBytes: number): Promise<string | undefined> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * An empty body is a passing beat; otherwise a JSON object `{ "status": "pass" | "fail", "output": "…" }`
 * (both optional). Returns the beat, or what is wrong with the body. The output is operator text:
 * tokens are masked and control characters removed here; its length is left to the agent's output
 * path, which masks the config's secrets first and bounds it after (a cut made before masking could
 * leave part of a secret showing). The body's own bound (MAX_BEAT_BYTES) bounds it meanwhile.
 */
export function parseBeat(body: string, tokens: readonly string[]): Beat | string {
  if (body.trim() === '') return { ok: true };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'the body must be empty or a JSON object such as {"status":"fail","output":"…"}';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the body must be a JSON object';
  const { status = 'pass', output, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) return `unknown key ${JSON.stringify(unknown[0])} (known: status, output)`;
  if (status !== 'pass' && status !== 'fail') return 'status must be "pass" or "fail"';
  if (output !== undefined && typeof output !== 'string') return 'output must be a string';
  if (status === 'pass') return { ok: true };
  if (output === undefined || output.trim() === '') return { ok: false };
  let text = output;
  for (const token of tokens) text = text.split(token).join('***');
  return { ok: false, output: text.replace(LINE_BREAKS, ' ').replace(CONTROLS, '') };
}

// As in output.ts: tabs and line breaks become spaces, other C0/C1 controls and DEL go.
const LINE_BREAKS = /[\t\n\r\v\f]+/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
