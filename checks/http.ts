// http: one request over a fresh connection (node:http, cheaper than fetch), the status judged
// against expect.status, at most 64 KiB of body read and searched for expect.bodyContains.
// Redirects are answers unless followRedirects; credentials never follow a redirect to another
// origin, and https never downgrades to http unless allowInsecureRedirects. TLS is verified unless
// tls.insecureSkipVerify.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions, DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { z } from 'zod';
import { defineCheck } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { chainOf, EXPIRY_OBSERVATIONS, expiryOptions, judgeExpiry, refineExpiry } from './support/cert-expiry.js';
import { peerText } from './support/peer-text.js';
import { toCheckError } from './support/socket-errors.js';
import { showUrl } from './support/target.js';
import { tlsBlock, tlsConnectionOptions } from './support/tls.js';

/** Most bytes of a body read; the rest is never downloaded. */
export const MAX_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;
const DEFAULT_STATUS = ['200-399'];
/** Headers that carry credentials: sent to the configured URL's origin only, as curl does. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
const STATUS_PATTERN = /^[1-5]\d\d(-[1-5]\d\d)?$/;
const URL_PATTERN = /^https?:\/\/[^/]/;
/** RFC 9110 token characters: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What Node lets through in a header value: visible characters, spaces, tabs; never CR or LF. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const statusSpec = z.union([
  z.number().int().min(100).max(599),
  z
    .string()
    .regex(STATUS_PATTERN, { message: 'must be a status code or a range such as 200-299' })
    // Only a well-formed range can be reversed: one issue per value.
    .refine((spec) => !STATUS_PATTERN.test(spec) || isAscending(toRange(spec)), { message: 'is a reversed range: write the lower code first' }),
]);

const headers = z
  .record(z.string().meta({ pattern: HEADER_NAME.source }), z.string().meta({ pattern: HEADER_VALUE.source }))
  .superRefine((given, ctx) => {
    // Issues name the header, never its value: a value may hold a secret.
    for (const [name, value] of Object.entries(given)) {
      if (!HEADER_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], input: name, message: "is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)" });
      } else if (!HEADER_VALUE.test(value)) {
        ctx.addIssue({ code: 'custom', path: [name], input: name, message: 'has a value with CR, LF or another control character, which no header can carry' });
      }
    }
  });

const options = {
  url: z
    .string()
    .regex(URL_PATTERN, { message: 'must be an http:// or https:// URL' })
    .refine((url) => !URL_PATTERN.test(url) || isUrl(url), { message: 'is not a valid URL' })
    .describe('The URL to request.'),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).optional().describe('Default GET.'),
  headers: headers.optional().describe('Request headers, e.g. Authorization: Bearer ${TOKEN}.'),
  expect: z
    .strictObject({
      status: z.array(statusSpec).min(1).optional().describe('Accepted status codes and ranges. Default [200-399].'),
      bodyContains: z.string().min(1).optional().describe('Text the first 64 KiB of the body must contain.'),
    })
    .optional(),
  followRedirects: z.boolean().optional().describe('Follow up to 5 redirects. Default false: a 3xx is the answer.'),
  allowInsecureRedirects: z
    .boolean()
    .optional()
    .describe('With followRedirects: follow a redirect from https:// to http://. Default false: such a redirect fails with tls.'),
  tls: tlsBlock.optional().describe('TLS settings of https:// requests: CA, client certificate, server name, insecureSkipVerify.'),
  ...expiryOptions,
};

/** Rules between options: requests that could never pass. */
function refineOptions(opts: HttpOptions, ctx: z.RefinementCtx): void {
  if (opts.method === 'HEAD' && opts.expect?.bodyContains !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['expect', 'bodyContains'], input: opts.expect.bodyContains, message: 'can never match: a HEAD response has no body' });
  }
  if (opts.allowInsecureRedirects && !opts.followRedirects) {
    ctx.addIssue({ code: 'custom', path: ['allowInsecureRedirects'], input: opts.allowInsecureRedirects, message: 'has no effect without followRedirects: true' });
  }
  refineExpiry(opts, ctx);
}

type HttpOptions = z.output<z.ZodObject<typeof options>>;

export const http = defineCheck({
  type: 'http',
  componentType: 'component',
  options,
  refine: refineOptions,
  schemes: ['http', 'https'],
  observations: { statusCode: 'code', ...EXPIRY_OBSERVATIONS },
  async run(opts, { signal }) {
    const accepted = (opts.expect?.status ?? DEFAULT_STATUS).map(toRange);
    const method = opts.method ?? 'GET';
    const first = new URL(opts.url);
    let url = first;
    for (let hop = 0; ; hop++) {
      const isFirstOrigin = url.origin === first.origin;
      // Read per hop and attempt: a rotated CA or client certificate applies at the next attempt.
      const tls = url.protocol === 'https:' ? await tlsConnectionOptions(isFirstOrigin ? opts.tls : { ...opts.tls, serverName: undefined }, url.hostname, show(url)) : {};
      const { response, body, certificate } = await exchange(url, requestHeaders(opts.headers, isFirstOrigin), tls, opts, signal);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (opts.followRedirects && status >= 300 && status < 400 && location) {
        if (hop === MAX_REDIRECTS) throw new CheckError('status_code', `${show(first)}: more than ${MAX_REDIRECTS} redirects`);
        url = nextHop(url, location, first, opts, `${method} ${show(url)} answered ${status}`);
        continue;
      }
      if (!accepted.some(([lo, hi]) => status >= lo && status <= hi)) {
        throw new CheckError('status_code', `${method} ${show(url)} answered ${status}, expected ${describe(accepted)}`);
      }
      const wanted = opts.expect?.bodyContains;
      if (wanted !== undefined && !body.includes(wanted)) {
        throw new CheckError('body', `${method} ${show(url)} answered ${status} but its body (first ${body.length} bytes) does not contain ${JSON.stringify(wanted)}`);
      }
      // Over https, the certificate of the server that answered: its days left, judged by warnBefore/failBefore.
      const expiry = certificate ? judgeExpiry(chainOf(certificate, show(url)), opts, show(url)) : {};
      return { statusCode: status, ...expiry };
    }
  },
});

/**
 * Where a redirect leads, by curl's rules: credentials (URL userinfo and CREDENTIAL_HEADERS) go
 * only to the configured URL's origin (scheme, host and port), and https never downgrades to http
 * unless allowed.
 */
function nextHop(from: URL, location: string, first: URL, opts: HttpOptions, answered: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch (error) {
    throw new CheckError('protocol', `${answered} with a Location that is not a URL: ${JSON.stringify(peerText(location))}`, { cause: error });
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new CheckError('status_code', `${answered}, a redirect to ${next.protocol} that an http check does not follow`);
  }
  if (from.protocol === 'https:' && next.protocol === 'http:' && !opts.allowInsecureRedirects) {
    throw new CheckError('tls', `${answered}, a redirect from https to plain http (${show(next)}); set allowInsecureRedirects: true to follow it`);
  }
  const isFirstOrigin = next.origin === first.origin;
  next.username = isFirstOrigin ? first.username : '';
  next.password = isFirstOrigin ? first.password : '';
  return next;
}

function requestHeaders(configured: Readonly<Record<string, string>> | undefined, withCredentials: boolean): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'user-agent': 'vigil' };
  for (const [name, value] of Object.entries(configured ?? {})) {
    if (withCredentials || !CREDENTIAL_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  return headers;
}

interface Exchanged {
  readonly response: IncomingMessage;
  readonly body: string;
  /** Over https, the chain the server showed (read before the socket closes: Node forgets it then). */
  readonly certificate?: DetailedPeerCertificate;
}

function exchange(url: URL, headers: OutgoingHttpHeaders, tls: ConnectionOptions, opts: HttpOptions, signal: AbortSignal): Promise<Exchanged> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: opts.method ?? 'GET',
      headers,
      agent: false,
      ...tls,
    });
    // Our own listener rather than request({ signal }): Node removes that one only after 'close',
    // after the attempt has settled.
    const settle = (error: unknown, value?: Exchanged) => {
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (value) resolve(value);
      else reject(error);
    };
    const onAbort = () => settle(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    // on, not once: a second 'error' with no listener left would be thrown into the process.
    req.on('error', (error) => settle(translate(error, url)));
    req.once('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const peer = url.protocol === 'https:' ? (response.socket as TLSSocket).getPeerCertificate(true) : undefined;
      const certificate = peer?.raw ? { certificate: peer } : {};
      const done = () => settle(undefined, { response, body: Buffer.concat(chunks).toString('utf8'), ...certificate });
      response.on('data', (chunk: Buffer) => {
        const room = MAX_BODY_BYTES - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= MAX_BODY_BYTES) done();
      });
      response.once('end', done);
      response.on('error', (error) => settle(translate(error, url, 'body')));
    });
    req.end();
  });
}

/** Node's HTTP parser errors (HPE_*) mean the peer does not speak HTTP: an SSH banner, random bytes. */
function translate(error: unknown, url: URL, fallback: 'unknown' | 'body' = 'unknown'): CheckError {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('HPE_')) {
    return new CheckError('protocol', `${show(url)} did not answer in HTTP: ${peerText((error as Error).message)}`, { cause: error });
  }
  return toCheckError(error, show(url), fallback);
}

function isUrl(text: string): boolean {
  try {
    return new URL(text).hostname !== '';
  } catch {
    return false;
  }
}

function toRange(spec: number | string): [number, number] {
  if (typeof spec === 'number') return [spec, spec];
  const [lo, hi = lo] = spec.split('-').map(Number) as [number, number?];
  return [lo, hi];
}

function isAscending([lo, hi]: [number, number]): boolean {
  return lo <= hi;
}

function describe(ranges: readonly [number, number][]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(', ');
}

/** The URL as shown in messages: credentials and query values masked, cut short when a peer chose it. */
const show = showUrl;
