// Certificate expiry, for every kind that speaks TLS: the chain a TLS socket was shown, read from
// the leaf up, judged by its dates. Expired, not yet valid, or within failBefore fails with
// cert_expiry; within warnBefore the attempt passes with a warning. The leaf's days left and the
// earliest of the chain's are reported apart (tlsLeafDaysLeft, tlsChainDaysLeft): an intermediate
// that expires first is a different fix from a leaf to renew.
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { z } from 'zod';
import type { Observation, ObservationUnits } from '../../src/check.js';
import { CheckError } from '../../src/errors.js';
import { peerText } from './peer-text.js';
import { days, formatSpan, span, spanMs } from './span.js';

export const DEFAULT_WARN_BEFORE = '14d';
export const DEFAULT_FAIL_BEFORE = '3d';
/**
 * Most certificates of a chain judged. A server cannot send more than OpenSSL's limit on the
 * certificate list (100 KiB); the bound only keeps a chain that names itself from looping.
 */
const MAX_CHAIN = 16;

/** The numeric observations of certificate expiry, the same in every kind that reports them. */
export const EXPIRY_OBSERVATIONS = { tlsLeafDaysLeft: 'days', tlsChainDaysLeft: 'days' } as const satisfies ObservationUnits;

/** warnBefore and failBefore, for a kind's options shape. */
export const expiryOptions = {
  warnBefore: span()
    .optional()
    .describe(
      'Where TLS is on: a certificate of the chain expiring within this span makes the check warn (it still passes). Days allowed: 14d, 36h. Default 14d, or failBefore if that is longer.',
    ),
  failBefore: span()
    .optional()
    .describe('Where TLS is on: a certificate of the chain expiring within this span fails the check with cert_expiry. 0s: only once expired. Default 3d, or warnBefore if that is shorter.'),
};

export interface ExpiryOptions {
  readonly warnBefore?: string | undefined;
  readonly failBefore?: string | undefined;
}

/** The rule between the two: a check must not fail before it warned. For a kind's refine. */
export function refineExpiry(opts: ExpiryOptions, ctx: z.RefinementCtx): void {
  if (opts.warnBefore !== undefined && opts.failBefore !== undefined && spanMs(opts.warnBefore) < spanMs(opts.failBefore)) {
    ctx.addIssue({ code: 'custom', path: ['warnBefore'], input: opts.warnBefore, message: `must not be shorter than failBefore (${opts.failBefore}): the check would fail before it warned` });
  }
}

/**
 * The thresholds in ms. A default never contradicts what is set: a warnBefore shorter than the
 * default failBefore lowers it, a failBefore longer than the default warnBefore raises it.
 */
export function windows({ warnBefore, failBefore }: ExpiryOptions): { warnMs: number; failMs: number } {
  const failMs = failBefore !== undefined ? spanMs(failBefore) : Math.min(spanMs(DEFAULT_FAIL_BEFORE), warnBefore !== undefined ? spanMs(warnBefore) : Infinity);
  const warnMs = warnBefore !== undefined ? spanMs(warnBefore) : Math.max(spanMs(DEFAULT_WARN_BEFORE), failMs);
  return { warnMs, failMs };
}

export interface Certificate {
  /** "the leaf certificate "CN=api.example.com"", for messages. */
  readonly name: string;
  readonly subject: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** The chain from the leaf up, as Node built it: the certificates sent, then the trusted root it found. */
export function chainOf(leaf: DetailedPeerCertificate, target: string): Certificate[] {
  const chain: Certificate[] = [];
  const seen = new Set<string>();
  for (let certificate: DetailedPeerCertificate | undefined = leaf; certificate?.raw && !seen.has(certificate.fingerprint256) && chain.length < MAX_CHAIN; certificate = certificate.issuerCertificate) {
    seen.add(certificate.fingerprint256);
    const subject = describeSubject(certificate.subject);
    const isSelfIssued = certificate.issuerCertificate?.fingerprint256 === certificate.fingerprint256;
    const role = chain.length === 0 ? 'the leaf certificate' : isSelfIssued ? 'the root CA' : 'the intermediate CA';
    const name = `${role} "${subject}"`;
    const notBefore = Date.parse(certificate.valid_from);
    const notAfter = Date.parse(certificate.valid_to);
    if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) throw new CheckError('tls', `${target}: ${name} has validity dates that cannot be read`);
    chain.push({ name, subject, notBefore, notAfter });
  }
  return chain;
}

/**
 * Judges the chain's dates at `now`: throws cert_expiry for a certificate out of date (or when
 * verification said one is: `outOfDate`, OpenSSL's code) or within failBefore, with the days left as
 * its observation; resolves with the days left, and a warning within warnBefore.
 */
export function judgeExpiry(chain: readonly Certificate[], opts: ExpiryOptions, target: string, outOfDate?: string, now = Date.now()): Observation {
  const { warnMs, failMs } = windows(opts);
  const leaf = chain[0]!;
  const first = chain.reduce((earliest, certificate) => (certificate.notAfter < earliest.notAfter ? certificate : earliest));
  const observation = { tlsLeafDaysLeft: days(leaf.notAfter - now), tlsChainDaysLeft: days(first.notAfter - now), tlsFirstToExpire: first.subject };
  for (const certificate of chain) {
    if (now < certificate.notBefore) {
      throw new CheckError('cert_expiry', `${target}: ${certificate.name} is not valid until ${iso(certificate.notBefore)} (in ${days(certificate.notBefore - now)} days)`, { observation });
    }
    if (now >= certificate.notAfter) {
      throw new CheckError('cert_expiry', `${target}: ${certificate.name} expired ${days(now - certificate.notAfter)} days ago, at ${iso(certificate.notAfter)}`, { observation });
    }
  }
  // A certificate out of date that the chain above does not show (verification judged the chain
  // with the trusted root Node found for it): OpenSSL's code says which rule failed.
  if (outOfDate !== undefined) throw new CheckError('cert_expiry', `${target}: a certificate of the chain is out of date (${outOfDate})`, { observation });
  const chainLeftMs = first.notAfter - now;
  const expiring = `${first.name} expires in ${days(chainLeftMs)} days, at ${iso(first.notAfter)}`;
  if (chainLeftMs < failMs) throw new CheckError('cert_expiry', `${target}: ${expiring}, within failBefore (${formatSpan(failMs)})`, { observation });
  // A string `warning` makes the passing attempt warn (the core's contract).
  return chainLeftMs < warnMs ? { ...observation, warning: `${target}: ${expiring}, within warnBefore (${formatSpan(warnMs)})` } : observation;
}

/**
 * The expiry of the chain an open TLS socket was shown, judged as judgeExpiry does; undefined when
 * the peer showed none (a TLS-PSK session). Read while the socket is open: once destroyed, Node
 * forgets the peer's certificate.
 */
export function socketExpiry(socket: TLSSocket, opts: ExpiryOptions, target: string): Observation | undefined {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) return undefined;
  return judgeExpiry(chainOf(peer, target), opts, target);
}

/** "CN=api.example.com", or the subject's other fields when it has no common name. */
export function describeSubject(subject: DetailedPeerCertificate['subject'] | undefined): string {
  const fields = Object.entries(subject ?? {});
  const cn = fields.find(([key]) => key === 'CN');
  const shown = (cn ? [cn] : fields).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`).join(', ');
  return peerText(shown === '' ? '(no subject)' : shown, 120);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
