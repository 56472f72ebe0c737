// dns: ask a resolver for a name's A, AAAA, CNAME, SRV, TXT or MX records — a given server, or the
// system's (the nameservers of /etc/resolv.conf) — and judge the answer against `expect`. Node's own
// resolver (c-ares, node:dns) does the asking: one channel per attempt, one try, cancelled on abort.
import type { Resolver } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { defineCheck } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { peerText } from './support/peer-text.js';

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'SRV', 'TXT', 'MX'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** Labels of letters, digits, - and _ (service labels such as _http._tcp), 1-63 each, 253 in all. */
const NAME_PATTERN = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const NAME_MESSAGE = 'must be a DNS name: labels of letters, digits, - and _, separated by dots';
const SERVER_MESSAGE = 'must be an IP address with an optional port, e.g. 10.0.0.2, 10.0.0.2:5353 or [fd00::2]:53 (a resolver is named by its address)';

const options = {
  name: z.string().regex(NAME_PATTERN, { message: NAME_MESSAGE }).describe('The name to resolve, e.g. api.internal or _http._tcp.api.internal (asked as written: no search list).'),
  recordType: z.enum(RECORD_TYPES).optional().describe('The record type to ask for. Default A.'),
  server: z
    .string()
    .refine((text) => parseServer(text) !== undefined, { message: SERVER_MESSAGE })
    .optional()
    .describe('The resolver to ask, address[:port] (port default 53). Default the system resolver: the nameservers of /etc/resolv.conf.'),
  expect: z
    .strictObject({
      contains: z.array(z.string().min(1)).min(1).optional().describe('Records the answer must include; others may be there too.'),
      equals: z.array(z.string().min(1)).min(1).optional().describe('The records the answer must hold, no more and no fewer, in any order.'),
      minRecords: z.number().int().min(1).optional().describe('The fewest records the answer may hold.'),
    })
    .optional()
    .describe('What the answer must be, beyond at least one record. Records are written as addresses (A, AAAA), names (CNAME, MX exchange), target:port (SRV) or text (TXT).'),
};

type DnsOptions = z.output<z.ZodObject<typeof options>>;
type Expect = NonNullable<DnsOptions['expect']>;

/** Rules between options: expectations that contradict each other, or records the type cannot hold. */
function refineOptions(opts: DnsOptions, ctx: z.RefinementCtx): void {
  const expect = opts.expect;
  if (!expect) return;
  if (expect.contains === undefined && expect.equals === undefined && expect.minRecords === undefined) {
    ctx.addIssue({ code: 'custom', path: ['expect'], input: expect, message: 'names no expectation: give contains, equals or minRecords' });
  }
  if (expect.equals !== undefined) {
    for (const key of ['contains', 'minRecords'] as const) {
      if (expect[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['expect', key], input: expect[key], message: 'adds nothing to equals, which names every record: use equals alone' });
    }
  }
  const type = opts.recordType ?? 'A';
  for (const key of ['contains', 'equals'] as const) {
    expect[key]?.forEach((value, index) => {
      const problem = recordProblem(type, value);
      if (problem) ctx.addIssue({ code: 'custom', path: ['expect', key, index], input: value, message: problem });
    });
  }
}

export const dns = defineCheck({
  type: 'dns',
  componentType: 'system',
  options,
  refine: refineOptions,
  schemes: ['dns'],
  observations: { records: 'count' },
  fromUrl: optionsFromUrl,
  // Part of Node, yet loaded only where a dns check is configured (about 0.6 MiB of memory).
  prepare: () => import('node:dns/promises'),
  async run({ name, recordType = 'A', server, expect }, { signal, timeoutMs }) {
    const resolver = await openResolver(server, timeoutMs);
    const target = `dns ${recordType} ${name} via ${server ?? `the system resolver (${resolver.getServers().join(', ') || 'no nameserver'})`}`;
    let records: string[];
    try {
      records = await untilAborted(signal, () => probe(resolver, name, recordType), () => closeResolver(resolver));
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw translate(error, target, recordType);
    } finally {
      closeResolver(resolver);
    }
    // Resolvers rotate the order of records (round-robin): sorted, the same answer reads the same.
    records.sort();
    judge(records, recordType, expect, target);
    return { records: records.length, answer: peerText(records.join(', ')) };
  },
});

/**
 * A resolver for one attempt: its own c-ares channel (so no answer cached by an earlier attempt is
 * reused), asking each server once and waiting at most the attempt's timeout.
 */
export async function openResolver(server: string | undefined, timeoutMs: number): Promise<Resolver> {
  const { Resolver } = await import('node:dns/promises');
  const resolver = new Resolver({ timeout: Math.max(1, Math.ceil(timeoutMs)), tries: 1 });
  if (server !== undefined) resolver.setServers([server]);
  return resolver;
}

/** Ends what is in flight on the channel (its queries reject with ECANCELLED); c-ares closes its sockets once none is pending. */
export function closeResolver(resolver: Resolver): void {
  resolver.cancel();
}

/** The records of `type` at `name`, each as one string (see recordText). */
export async function probe(resolver: Resolver, name: string, type: RecordType): Promise<string[]> {
  switch (type) {
    case 'A':
      return resolver.resolve4(name);
    case 'AAAA':
      return resolver.resolve6(name);
    case 'CNAME':
      return resolver.resolveCname(name);
    case 'MX':
      return (await resolver.resolveMx(name)).map((mx) => mx.exchange);
    case 'SRV':
      return (await resolver.resolveSrv(name)).map((srv) => `${srv.name}:${srv.port}`);
    case 'TXT':
      // One record may be cut into strings of 255 bytes at most: it means them joined.
      return (await resolver.resolveTxt(name)).map((parts) => parts.join(''));
  }
}

/** Checks the answer against the expectations; a mismatch fails with `body`, quoting the answer. */
function judge(records: readonly string[], type: RecordType, expect: Expect | undefined, target: string): void {
  if (!expect) return;
  const answer = new Set(records.map((record) => canonical(type, record)));
  const shown = () => `${records.length} record${records.length === 1 ? '' : 's'} (${peerText(records.join(', '))})`;
  if (expect.equals) {
    const wanted = new Set(expect.equals.map((value) => canonical(type, value)));
    const missing = expect.equals.filter((value) => !answer.has(canonical(type, value)));
    const extra = records.filter((record) => !wanted.has(canonical(type, record)));
    if (missing.length > 0 || extra.length > 0) {
      const differences = [missing.length > 0 ? `missing ${missing.join(', ')}` : '', extra.length > 0 ? `not expected ${peerText(extra.join(', '))}` : ''].filter(Boolean);
      throw new CheckError('body', `${target} answered ${shown()}, expected exactly ${expect.equals.join(', ')}: ${differences.join('; ')}`);
    }
  }
  if (expect.contains) {
    const missing = expect.contains.filter((value) => !answer.has(canonical(type, value)));
    if (missing.length > 0) throw new CheckError('body', `${target} answered ${shown()}, missing ${missing.join(', ')}`);
  }
  if (expect.minRecords !== undefined && records.length < expect.minRecords) {
    throw new CheckError('body', `${target} answered ${shown()}, expected at least ${expect.minRecords}`);
  }
}

/** A record in the form two spellings of it share: an IPv6 address compressed, a name in lower case without its final dot. */
function canonical(type: RecordType, value: string): string {
  switch (type) {
    case 'AAAA':
      return isIPv6(value) ? new URL(`http://[${value}]/`).hostname : value;
    case 'CNAME':
    case 'MX':
      return canonicalName(value);
    case 'SRV': {
      const colon = value.lastIndexOf(':');
      return `${canonicalName(value.slice(0, colon))}:${Number(value.slice(colon + 1))}`;
    }
    default:
      return value;
  }
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** What is wrong with an expected record of `type`, or undefined. */
function recordProblem(type: RecordType, value: string): string | undefined {
  switch (type) {
    case 'A':
      return isIPv4(value) ? undefined : 'is not an IPv4 address, which is what an A record holds';
    case 'AAAA':
      return isIPv6(value) ? undefined : 'is not an IPv6 address, which is what an AAAA record holds';
    case 'CNAME':
    case 'MX':
      return NAME_PATTERN.test(value) ? undefined : `${NAME_MESSAGE}, which is what a ${type} record ${type === 'MX' ? 'names as its exchange' : 'points to'}`;
    case 'SRV': {
      const match = /^(.+):(\d{1,5})$/.exec(value);
      return match && NAME_PATTERN.test(match[1]!) && Number(match[2]) <= 65535 ? undefined : 'must be target:port, e.g. api.internal:8080, which is what an SRV record is compared as';
    }
    case 'TXT':
      return undefined;
  }
}

/** host and port of `address[:port]` (an IPv6 address with a port in brackets), or undefined. */
export function parseServer(text: string): { host: string; port?: number } | undefined {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    [, host, port] = bracketed as unknown as [string, string, string | undefined];
    if (!isIPv6(host)) return undefined;
  } else if (isIPv6(text)) {
    host = text;
  } else {
    const plain = /^([^:]+)(?::(\d+))?$/.exec(text);
    if (!plain || !isIPv4(plain[1]!)) return undefined;
    [, host, port] = plain as unknown as [string, string, string | undefined];
  }
  if (port === undefined) return { host };
  const number = Number(port);
  return number >= 1 && number <= 65535 ? { host, port: number } : undefined;
}

const RCODES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'NXDOMAIN: the name does not exist',
  ESERVFAIL: 'SERVFAIL: the server could not answer',
  EREFUSED: 'REFUSED: the server refused the query',
  ENOTIMP: 'NOTIMP: the server does not do this kind of query',
  EFORMERR: 'FORMERR: the server could not read the query',
};

/** A resolver's error (node:dns codes, from c-ares) as a failure of the attempt. */
function translate(error: unknown, target: string, type: RecordType): CheckError {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const rcode = RCODES[code];
    if (rcode) return new CheckError('dns', `${target}: ${rcode}`, { cause: error });
    switch (code) {
      case 'ENODATA':
        return new CheckError('dns', `${target}: no ${type} record (the name exists, with no record of that type)`, { cause: error });
      case 'ECONNREFUSED':
        // UDP has no handshake: this is the ICMP port unreachable the answer met.
        return new CheckError('connect_refused', `${target}: connection refused (nothing listening?)`, { cause: error });
      case 'ETIMEOUT':
        return new CheckError('timeout', `${target}: no answer in time`, { cause: error });
      case 'EBADRESP':
      case 'EOF':
      case 'ECONNRESET':
        return new CheckError('protocol', `${target}: the answer is not a DNS reply to the query (${code})`, { cause: error });
    }
  }
  return new CheckError('unknown', `${target}: ${peerText(error instanceof Error ? error.message : String(error))}`, { cause: error });
}

/**
 * The options of a `dns:` URL (RFC 4501): dns://SERVER[:PORT]/NAME?type=TYPE asks SERVER,
 * dns:///NAME?type=TYPE the system resolver. `class=IN` may be given; no other class or key.
 */
export function optionsFromUrl(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const host = parsed.hostname;
  const result: Record<string, unknown> = { name };
  if (host !== '') result.server = parsed.port === '' ? host : `${host}:${parsed.port}`;
  for (const pair of parsed.search.replace(/^\?/, '').split(/[;&]/).filter(Boolean)) {
    const [key = '', value = ''] = pair.split('=').map((part) => decodeURIComponent(part));
    if (key.toLowerCase() === 'type') result.recordType = value.toUpperCase();
    else if (key.toLowerCase() !== 'class' || value.toUpperCase() !== 'IN') throw new Error(`a dns URL takes type= and class=IN, not ${key}`);
  }
  return result;
}
