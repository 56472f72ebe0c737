// http: one request over a fresh connection (node:http, cheaper than fetch), the status judged
// against expect.status, at most 64 KiB of body read and judged by expect's conditions (bodyContains,
// bodyMatches, json, headers).
// Redirects are answers unless followRedirects; credentials never follow a redirect to another
// origin, and https never downgrades to http unless allowInsecureRedirects. TLS is verified unless
// tls.insecureSkipVerify.
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions, DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { z } from 'zod';
import { defineCheck } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { judgeJsonBounded, matchBounded, MATCH_TIME_LIMIT_MS, prepareWorker, type MatchJob } from './support/bounded-match.js';
import { describeFinding, jsonConditionProblem, jsonDepthExceeds, MAX_JSON_DEPTH, parseJsonCondition, showJsonCondition } from './support/json-conditions.js';
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

const headerName = z.string().meta({ pattern: HEADER_NAME.source });

const headers = z
  .record(headerName, z.string().meta({ pattern: HEADER_VALUE.source }))
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

/** A regular expression of the config: JavaScript syntax, checked when the config is read. */
const pattern = z
  .string()
  .min(1)
  .superRefine((text, ctx) => {
    const problem = regexProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', input: text, message: problem });
  });

const headerExpectation = z
  .strictObject({
    present: z.boolean().optional().describe('true: the header must be there; false: it must not.'),
    equals: z.string().optional().describe('The exact value the header must have.'),
    matches: pattern.optional().describe('A regular expression (JavaScript syntax) the value must match.'),
  })
  .superRefine((given, ctx) => {
    const said = (['present', 'equals', 'matches'] as const).filter((key) => given[key] !== undefined);
    if (said.length !== 1) ctx.addIssue({ code: 'custom', input: given, message: `must give exactly one of present, equals, matches${said.length ? ` (it gives ${said.join(' and ')})` : ''}` });
  });

const expectedHeaders = z.record(headerName, headerExpectation).superRefine((given, ctx) => {
  const seen = new Set<string>();
  for (const name of Object.keys(given)) {
    if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], input: name, message: "is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)" });
    else if (seen.has(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], input: name, message: 'is given twice: header names are case-insensitive' });
    seen.add(name.toLowerCase());
  }
});

const jsonConditions = z.array(
  z
    .string()
    .min(1)
    .superRefine((text, ctx) => {
      const problem = jsonConditionProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', input: text, message: problem });
    }),
);

const options = {
  url: z
    .string()
    .regex(URL_PATTERN, { message: 'must be an http:// or https:// URL' })
    .refine((url) => !URL_PATTERN.test(url) || isUrl(url), { message: 'is not a valid URL' })
    .describe('The URL to request.'),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).optional().describe('Default GET.'),
  headers: headers.optional().describe('Request headers, e.g. Authorization: Bearer ${TOKEN}.'),
  body: z.string().optional().describe('Request body, sent with method POST or PUT; set its Content-Type in headers.'),
  expect: z
    .strictObject({
      status: z.array(statusSpec).min(1).optional().describe('Accepted status codes and ranges. Default [200-399].'),
      bodyContains: z.string().min(1).optional().describe('Text the first 64 KiB of the body must contain (else reason body).'),
      bodyMatches: pattern
        .optional()
        .describe('A regular expression (JavaScript syntax) the first 64 KiB of the body must match; run in a worker thread, at most 1s.'),
      json: jsonConditions
        .min(1)
        .optional()
        .describe('Conditions on the JSON body, PATH OP VALUE: $.status == "UP", $.checks[*].status == "pass", $.queue.depth < 100. Every value the path finds must satisfy it; a path that finds nothing fails.'),
      headers: expectedHeaders.optional().describe('Response headers (names case-insensitive), each { present: true|false }, { equals: TEXT } or { matches: REGEX }.'),
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
  if (opts.method === 'HEAD') {
    for (const key of ['bodyContains', 'bodyMatches', 'json'] as const) {
      const value = opts.expect?.[key];
      if (value !== undefined) ctx.addIssue({ code: 'custom', path: ['expect', key], input: value, message: 'can never match: a HEAD response has no body' });
    }
  }
  const method = opts.method ?? 'GET';
  if (opts.body !== undefined && method !== 'POST' && method !== 'PUT') {
    // The issue shows the method, never the body: it may hold a secret.
    ctx.addIssue({ code: 'custom', path: ['body'], input: method, message: `(the method${opts.method === undefined ? ', by default' : ''}) sends no body: give method POST or PUT` });
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
  // The worker that judges bodies is started with the config that needs it, not at a first attempt.
  async prepare(checks) {
    if (checks.some(({ expect }) => expect?.json !== undefined || expect?.bodyMatches !== undefined || Object.values(expect?.headers ?? {}).some((header) => header.matches !== undefined))) {
      prepareWorker();
    }
  },
  async run(opts, { signal, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    const accepted = (opts.expect?.status ?? DEFAULT_STATUS).map(toRange);
    const first = new URL(opts.url);
    let url = first;
    let request: Outgoing = { method: opts.method ?? 'GET', body: opts.body };
    for (let hop = 0; ; hop++) {
      const isFirstOrigin = url.origin === first.origin;
      // Read per hop and attempt: a rotated CA or client certificate applies at the next attempt.
      const tls = url.protocol === 'https:' ? await tlsConnectionOptions(isFirstOrigin ? opts.tls : { ...opts.tls, serverName: undefined }, url.hostname, show(url)) : {};
      const answer = await exchange(url, requestHeaders(opts.headers, isFirstOrigin, request.body), tls, request, signal);
      const { response, certificate } = answer;
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      const answered = `${request.method} ${show(url)} answered ${status}`;
      if (opts.followRedirects && status >= 300 && status < 400 && location) {
        if (hop === MAX_REDIRECTS) throw new CheckError('status_code', `${show(first)}: more than ${MAX_REDIRECTS} redirects`);
        url = nextHop(url, location, first, opts, answered);
        request = redirected(request, status, url.origin === first.origin, answered);
        continue;
      }
      if (!accepted.some(([lo, hi]) => status >= lo && status <= hi)) {
        throw new CheckError('status_code', `${answered}, expected ${describe(accepted)}`);
      }
      if (opts.expect) await judgeAnswer(opts.expect, answer, answered, deadline, signal);
      // Over https, the certificate of the server that answered: its days left, judged by warnBefore/failBefore.
      const expiry = certificate ? judgeExpiry(chainOf(certificate, show(url)), opts, show(url)) : {};
      return { statusCode: status, ...expiry };
    }
  },
});

/** What one hop sends: a redirect may change the method and drop the body. */
interface Outgoing {
  readonly method: string;
  readonly body?: string;
}

/**
 * The request a redirect makes, as browsers and curl do: 303 (and 301/302 after a POST) become a
 * GET without a body; 307 and 308 repeat the request, which sends the body only to the configured
 * origin (it may hold a credential).
 */
function redirected(request: Outgoing, status: number, isFirstOrigin: boolean, answered: string): Outgoing {
  if (status === 303 || ((status === 301 || status === 302) && request.method === 'POST')) {
    return { method: request.method === 'HEAD' ? 'HEAD' : 'GET' };
  }
  if (request.body !== undefined && !isFirstOrigin) {
    throw new CheckError('status_code', `${answered}, a redirect to another origin that would send the request body there; vigil sends it to the configured origin only`);
  }
  return request;
}

type Expectations = NonNullable<HttpOptions['expect']>;

/** Headers whose values may be credentials: a message names them, never shows their values. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'www-authenticate', 'proxy-authenticate']);

/**
 * The answer judged by expect's conditions beyond the status, in order: bodyContains (reason body,
 * as before), headers, json, then the regular expressions (header matches and bodyMatches) together
 * in one bounded worker run. The first failure is thrown.
 */
async function judgeAnswer(expect: Expectations, { response, body, isComplete }: Answer, answered: string, deadline: number, signal: AbortSignal): Promise<void> {
  const wanted = expect.bodyContains;
  if (wanted !== undefined && !body.includes(wanted)) {
    throw new CheckError('body', `${answered} but its body (first ${body.length} bytes) does not contain ${JSON.stringify(wanted)}`);
  }
  const fail = (text: string) => new CheckError('assertion', `${answered} but ${text}`);
  const jobs: (MatchJob & { readonly failure: string })[] = [];
  for (const [name, expected] of Object.entries(expect.headers ?? {})) {
    const lower = name.toLowerCase();
    const given = response.headers[lower];
    const value = Array.isArray(given) ? given.join(', ') : given;
    const shown = SECRET_HEADERS.has(lower) ? '(a value not shown: it may hold a credential)' : JSON.stringify(peerText(value ?? ''));
    if (expected.present !== undefined) {
      if (expected.present && value === undefined) throw fail(`header ${lower} is missing`);
      if (!expected.present && value !== undefined) throw fail(`header ${lower} is present (${shown}), expected absent`);
    } else if (value === undefined) {
      throw fail(`header ${lower} is missing, expected ${expected.equals !== undefined ? JSON.stringify(expected.equals) : `a match of /${expected.matches}/`}`);
    } else if (expected.equals !== undefined && value !== expected.equals) {
      throw fail(`header ${lower} is ${shown}, expected ${JSON.stringify(expected.equals)}`);
    } else if (expected.matches !== undefined) {
      jobs.push({ pattern: expected.matches, text: value, failure: `header ${lower} ${shown} does not match /${expected.matches}/` });
    }
  }
  if (expect.json) {
    const cut = isComplete ? '' : ` (a body of ${MAX_BODY_BYTES / 1024} KiB or more, of which expect.json reads the first ${MAX_BODY_BYTES / 1024} KiB)`;
    // Screened before parsing: judging a deeply nested body would stall the event loop.
    if (jsonDepthExceeds(body)) {
      throw fail(`its body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep${cut}, deeper than expect.json judges`);
    }
    // Validation guarantees each condition parses. Parsed and judged in the worker, bounded in time.
    const conditions = expect.json.map((text) => parseJsonCondition(text));
    const jsonLimitMs = boundedLimit(deadline);
    const judged = await judgeJsonBounded(body, conditions, jsonLimitMs, signal);
    if (judged === 'too-slow') throw fail(`judging its body (${body.length} bytes) by expect.json took longer than ${jsonLimitMs} ms`);
    if ('notJson' in judged) throw fail(`its body is not JSON${cut}: ${peerText(judged.notJson)}`);
    for (const [i, condition] of conditions.entries()) {
      const why = describeFinding(judged[i]!, condition);
      if (why !== undefined) throw fail(`${showJsonCondition(condition)} fails: ${why}`);
    }
  }
  if (expect.bodyMatches !== undefined) {
    jobs.push({ pattern: expect.bodyMatches, text: body, failure: `its body (first ${body.length} bytes) does not match /${expect.bodyMatches}/` });
  }
  if (jobs.length === 0) return;
  const limitMs = boundedLimit(deadline);
  const matched = await matchBounded(jobs, limitMs, signal);
  if (matched === 'too-slow') {
    const patterns = jobs.map((job) => `/${job.pattern}/`).join(', ');
    throw fail(`matching ${patterns} took longer than ${limitMs} ms (on ${body.length} bytes of body): a pattern that backtracks, such as nested quantifiers (a+)+, never finishes on some inputs; simplify it`);
  }
  const failed = jobs.find((_, i) => !matched[i]);
  if (failed) throw fail(failed.failure);
}

/**
 * The time limit of a job in the worker: MATCH_TIME_LIMIT_MS, or the attempt's own deadline when
 * nearer (the attempt then ends as a timeout). A job that waits for the worker is bounded by the
 * attempt's timeout alone: its limit runs from when the worker starts it.
 */
function boundedLimit(deadline: number): number {
  return Math.min(MATCH_TIME_LIMIT_MS, Math.max(1, deadline - Date.now()));
}

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

function requestHeaders(configured: Readonly<Record<string, string>> | undefined, withCredentials: boolean, body: string | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'user-agent': 'vigil' };
  for (const [name, value] of Object.entries(configured ?? {})) {
    if (withCredentials || !CREDENTIAL_HEADERS.has(name.toLowerCase())) headers[name] = value;
  }
  // A length rather than chunks: some health endpoints read a body only when it declares its length.
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
  return headers;
}

interface Answer {
  readonly response: IncomingMessage;
  /** At most MAX_BODY_BYTES of it. */
  readonly body: string;
  /** Whether `body` is all of it: false when MAX_BODY_BYTES were read (more may have followed). */
  readonly isComplete: boolean;
  /** Over https, the chain the server showed (read before the socket closes: Node forgets it then). */
  readonly certificate?: DetailedPeerCertificate;
}

function exchange(url: URL, headers: OutgoingHttpHeaders, tls: ConnectionOptions, outgoing: Outgoing, signal: AbortSignal): Promise<Answer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: outgoing.method,
      headers,
      agent: false,
      ...tls,
    });
    // Our own listener rather than request({ signal }): Node removes that one only after 'close',
    // after the attempt has settled.
    const settle = (error: unknown, value?: Answer) => {
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
      let isComplete = true;
      const peer = url.protocol === 'https:' ? (response.socket as TLSSocket).getPeerCertificate(true) : undefined;
      const certificate = peer?.raw ? { certificate: peer } : {};
      const done = () => settle(undefined, { response, body: Buffer.concat(chunks).toString('utf8'), isComplete, ...certificate });
      response.on('data', (chunk: Buffer) => {
        const room = MAX_BODY_BYTES - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= MAX_BODY_BYTES) {
          // What follows is never read: the body may go on.
          isComplete = false;
          done();
        }
      });
      response.once('end', done);
      response.on('error', (error) => settle(translate(error, url, 'body')));
    });
    req.end(outgoing.body);
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

/** Why a pattern is no regular expression (JavaScript syntax), or undefined. Compiling runs nothing. */
function regexProblem(text: string): string | undefined {
  try {
    new RegExp(text);
    return undefined;
  } catch (error) {
    return `is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

/** The URL as shown in messages: credentials and query values masked, cut short when a peer chose it. */
const show = showUrl;
