// http: one request over a fresh connection (node:http, cheaper than fetch), the status judged
// against expect.status, at most 64 KiB of body read and searched for expect.bodyContains.
// Redirects are answers unless followRedirects; TLS is verified unless tls.insecureSkipVerify.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import type { CheckKind } from '../src/check.js';
import { CheckError, toCheckError } from '../src/errors.js';

/** Most bytes of a body read; the rest is never downloaded. */
export const MAX_BODY_BYTES = 64 * 1024;
const MAX_REDIRECTS = 5;
const DEFAULT_STATUS = ['200-399'];
const DEFAULT_HEADERS = Object.freeze({ 'user-agent': 'vigil' });

const statusSpec = z.union([
  z.number().int().min(100).max(599),
  z.string().regex(/^[1-5]\d\d(-[1-5]\d\d)?$/, { message: 'must be a status code or a range such as 200-299' }),
]);

const options = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^/]/, { message: 'must be an http:// or https:// URL' }).describe('The URL to request.'),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).optional().describe('Default GET.'),
  headers: z.record(z.string(), z.string()).optional().describe('Request headers, e.g. Authorization: Bearer ${TOKEN}.'),
  expect: z
    .strictObject({
      status: z.array(statusSpec).min(1).optional().describe('Accepted status codes and ranges. Default [200-399].'),
      bodyContains: z.string().min(1).optional().describe('Text the first 64 KiB of the body must contain.'),
    })
    .optional(),
  followRedirects: z.boolean().optional().describe('Follow up to 5 redirects. Default false: a 3xx is the answer.'),
  tls: z
    .strictObject({
      insecureSkipVerify: z.boolean().optional().describe('Accept any certificate. Default false.'),
    })
    .optional(),
});
export type HttpOptions = z.output<typeof options>;

export const http: CheckKind<HttpOptions> = {
  type: 'http',
  componentType: 'component',
  options,
  schemes: ['http', 'https'],
  async run(opts, { signal }) {
    const accepted = (opts.expect?.status ?? DEFAULT_STATUS).map(toRange);
    let url: string | URL = opts.url;
    for (let hop = 0; ; hop++) {
      const { response, body } = await exchange(url, opts, signal);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (opts.followRedirects && status >= 300 && status < 400 && location) {
        if (hop === MAX_REDIRECTS) throw new CheckError('status_code', `${show(opts.url)}: more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        continue;
      }
      if (!accepted.some(([lo, hi]) => status >= lo && status <= hi)) {
        throw new CheckError('status_code', `${opts.method ?? 'GET'} ${show(url)} answered ${status}, expected ${describe(accepted)}`);
      }
      const wanted = opts.expect?.bodyContains;
      if (wanted !== undefined && !body.includes(wanted)) {
        throw new CheckError('body', `${opts.method ?? 'GET'} ${show(url)} answered ${status} but its body (first ${body.length} bytes) does not contain ${JSON.stringify(wanted)}`);
      }
      return { statusCode: status };
    }
  },
};

function exchange(url: string | URL, opts: HttpOptions, signal: AbortSignal): Promise<{ response: IncomingMessage; body: string }> {
  const href = typeof url === 'string' ? url : url.href;
  const request = href.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers ? { 'user-agent': 'vigil', ...opts.headers } : DEFAULT_HEADERS,
      agent: false,
      rejectUnauthorized: !opts.tls?.insecureSkipVerify,
    });
    // Our own listener rather than request({ signal }): Node removes that one only after 'close',
    // after the attempt has settled.
    const settle = (error: unknown, value?: { response: IncomingMessage; body: string }) => {
      signal.removeEventListener('abort', onAbort);
      req.destroy();
      if (value) resolve(value);
      else reject(error);
    };
    const onAbort = () => settle(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('error', (error) => settle(toCheckError(error, show(href))));
    req.once('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => settle(undefined, { response, body: Buffer.concat(chunks).toString('utf8') });
      response.on('data', (chunk: Buffer) => {
        const room = MAX_BODY_BYTES - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(chunk.length, room);
        if (size >= MAX_BODY_BYTES) done();
      });
      response.once('end', done);
      response.once('error', (error) => settle(toCheckError(error, show(href), 'body')));
    });
    req.end();
  });
}

function toRange(spec: number | string): [number, number] {
  if (typeof spec === 'number') return [spec, spec];
  const [lo, hi = lo] = spec.split('-').map(Number) as [number, number?];
  return [lo, hi];
}

function describe(ranges: readonly [number, number][]): string {
  return ranges.map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(', ');
}

/** The URL as shown in messages: any password masked. */
function show(href: string | URL): string {
  const url = new URL(href);
  if (url.password) url.password = '***';
  return url.href;
}
