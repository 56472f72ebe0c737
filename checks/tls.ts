// tls: a TLS handshake with host:port, and the certificate chain it presents judged. Verified against
// the system CAs (or tls.caFile) and the host name (or tls.serverName) unless tls.insecureSkipVerify;
// then judged by its dates: expired, not yet valid or within failBefore fails with cert_expiry.
import { checkServerIdentity, connect, type ConnectionOptions, type DetailedPeerCertificate, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { defineCheck, type Observation } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { peerText } from './support/peer-text.js';
import { toCheckError } from './support/socket-errors.js';
import { days, formatSpan, span, spanMs } from './support/span.js';
import { tlsBlock, tlsConnectionOptions, type TlsBlock } from './support/tls.js';

const DEFAULT_PORT = 443;
export const DEFAULT_WARN_BEFORE = '14d';
export const DEFAULT_FAIL_BEFORE = '3d';
/**
 * Most certificates of a chain judged. A server cannot send more than OpenSSL's limit on the
 * certificate list (100 KiB); the bound only keeps a chain that names itself from looping.
 */
const MAX_CHAIN = 16;
/** Verification errors that are about dates: judged from the certificates' own dates instead. */
const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);

const options = {
  host: z
    .string()
    .min(1)
    .regex(/^[^\s/@]+$/, { message: 'must be a host name or address, not a URL (the port goes in port)' })
    .describe('Host name or address to connect to; also the name the certificate is checked against unless tls.serverName.'),
  port: z.number().int().min(1).max(65535).optional().describe('TCP port. Default 443.'),
  warnBefore: span()
    .optional()
    .describe(
      'A certificate of the chain expiring within this span makes the observation say warn: true (the check still passes). Days allowed: 14d, 36h. Default 14d, or failBefore if that is longer.',
    ),
  failBefore: span()
    .optional()
    .describe('A certificate of the chain expiring within this span fails the check with cert_expiry. 0s: only once expired. Default 3d, or warnBefore if that is shorter.'),
  tls: tlsBlock
    .optional()
    .describe('Verification: caFile (default the system CAs), serverName (the name sent as SNI and checked; default host), a client certificate, insecureSkipVerify (judge the dates only).'),
};

type TlsOptions = z.output<z.ZodObject<typeof options>>;

export const tls = defineCheck({
  type: 'tls',
  componentType: 'system',
  options,
  refine(opts, ctx) {
    if (opts.warnBefore !== undefined && opts.failBefore !== undefined && spanMs(opts.warnBefore) < spanMs(opts.failBefore)) {
      ctx.addIssue({ code: 'custom', path: ['warnBefore'], input: opts.warnBefore, message: `must not be shorter than failBefore (${opts.failBefore}): the check would fail before it warned` });
    }
  },
  schemes: ['tls'],
  fromUrl(url) {
    const parsed = new URL(url);
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? undefined : Number(parsed.port) };
  },
  async run(opts, { signal }) {
    const port = opts.port ?? DEFAULT_PORT;
    const target = `tls ${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
    const connection = await tlsConnectionOptions(opts.tls, opts.host, target);
    const socket = await openConnection(opts.host, port, connection, target, signal);
    try {
      return judge(socket, opts, connection, target);
    } finally {
      closeConnection(socket);
    }
  },
});

/**
 * Opens a TLS connection and completes its handshake without judging the certificate: verification
 * errors are read afterwards (`authorizationError`), so that dates can be told from trust.
 */
function openConnection(host: string, port: number, connection: ConnectionOptions, target: string, signal: AbortSignal): Promise<TLSSocket> {
  let socket: TLSSocket | undefined;
  return untilAborted(
    signal,
    () =>
      new Promise<TLSSocket>((resolve, reject) => {
        // The name is checked in judge() whatever the chain's verdict: Node skips it once the chain failed.
        socket = connect({ ...connection, host, port, rejectUnauthorized: false, checkServerIdentity: () => undefined });
        const opened = socket;
        opened.once('secureConnect', () => resolve(opened));
        // Not once: an error after the handshake (a reset) must not escape either.
        opened.on('error', (error) => {
          opened.destroy();
          reject(toCheckError(error, target));
        });
      }),
    () => socket?.destroy(),
  );
}

function closeConnection(socket: TLSSocket): void {
  // end() first: it flushes what the handshake still has to send (a TLS 1.3 client's Finished goes
  // out after secureConnect) and a close_notify. Destroyed alone, the socket would leave the server
  // a handshake reset by its peer at every attempt, an error in its log. Nothing is waited for.
  socket.end();
  socket.destroy();
}

interface Certificate {
  /** "the leaf certificate "CN=api.example.com"", for messages. */
  readonly name: string;
  readonly subject: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Trust, then the name, then the dates; resolves with the days left when nothing fails. */
function judge(socket: TLSSocket, opts: TlsOptions, connection: ConnectionOptions, target: string): Observation {
  const peer = socket.getPeerCertificate(true);
  if (!peer || !peer.raw) throw new CheckError('tls', `${target} presented no certificate`);
  const chain = chainOf(peer, target);
  const verify = !opts.tls?.insecureSkipVerify;
  const failure = socket.authorizationError as unknown as string | null | undefined;
  if (verify && failure && !DATE_ERRORS.has(failure)) throw new CheckError('tls', `${target}: ${untrusted(failure, chain, opts.tls)}`);
  if (verify) {
    const name = opts.tls?.serverName ?? opts.host;
    const wrongName = (connection.checkServerIdentity ?? checkServerIdentity)(name, peer);
    if (wrongName) throw new CheckError('tls', `${target}: the certificate is not for ${name}: it names ${namesOf(peer)}`, { cause: wrongName });
  }

  const now = Date.now();
  const { warnMs, failMs } = windows(opts);
  for (const certificate of chain) {
    if (now < certificate.notBefore) throw new CheckError('cert_expiry', `${target}: ${certificate.name} is not valid until ${iso(certificate.notBefore)} (in ${days(certificate.notBefore - now)} days)`);
    if (now >= certificate.notAfter) throw new CheckError('cert_expiry', `${target}: ${certificate.name} expired ${days(now - certificate.notAfter)} days ago, at ${iso(certificate.notAfter)}`);
  }
  // A certificate out of date that the chain above does not show (the server's chain is judged as
  // sent, with the trusted root Node found for it).
  if (verify && failure) throw new CheckError('cert_expiry', `${target}: a certificate of the chain is out of date (${failure})`);

  const leaf = chain[0]!;
  const first = chain.reduce((earliest, certificate) => (certificate.notAfter < earliest.notAfter ? certificate : earliest));
  const leafLeftMs = leaf.notAfter - now;
  const chainLeftMs = first.notAfter - now;
  const expiring = `${first.name} expires in ${days(chainLeftMs)} days, at ${iso(first.notAfter)}`;
  if (chainLeftMs < failMs) throw new CheckError('cert_expiry', `${target}: ${expiring}, within failBefore (${formatSpan(failMs)})`);
  const isWarning = chainLeftMs < warnMs;
  // `warn` marks a passing attempt that needs attention and `warning` says why: what a status per
  // check, or a threshold on observations, can take up without this check changing.
  return {
    leafDaysLeft: days(leafLeftMs),
    chainDaysLeft: days(chainLeftMs),
    firstToExpire: first.subject,
    warn: isWarning,
    ...(isWarning ? { warning: `${expiring}, within warnBefore (${formatSpan(warnMs)})` } : {}),
  };
}

/**
 * The thresholds in ms. A default never contradicts what is set: a warnBefore shorter than the
 * default failBefore lowers it, a failBefore longer than the default warnBefore raises it.
 */
export function windows({ warnBefore, failBefore }: Pick<TlsOptions, 'warnBefore' | 'failBefore'>): { warnMs: number; failMs: number } {
  const failMs = failBefore !== undefined ? spanMs(failBefore) : Math.min(spanMs(DEFAULT_FAIL_BEFORE), warnBefore !== undefined ? spanMs(warnBefore) : Infinity);
  const warnMs = warnBefore !== undefined ? spanMs(warnBefore) : Math.max(spanMs(DEFAULT_WARN_BEFORE), failMs);
  return { warnMs, failMs };
}

/** The chain from the leaf up, as Node built it: the certificates sent, then the trusted root it found. */
function chainOf(leaf: DetailedPeerCertificate, target: string): Certificate[] {
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

/** Why verification failed, in words: self-signed, an unknown CA, or OpenSSL's code. */
function untrusted(code: string, chain: readonly Certificate[], block: TlsBlock | undefined): string {
  const trusted = block?.caFile ? `the CAs of caFile ${block.caFile}` : 'the system CAs (set tls.caFile for a private CA)';
  const last = chain[chain.length - 1]!;
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `${chain[0]!.name} is self-signed and not among ${trusted}`;
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `the chain ends in a self-signed CA that is not trusted, ${last.name}: not among ${trusted}`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `unknown CA: the issuer of ${last.name} is not among ${trusted}, and the server did not send it`;
    default:
      return `the certificate chain failed verification (${peerText(code)})`;
  }
}

/** The names a certificate is for: its subjectAltName, else its subject's common name. */
function namesOf(certificate: DetailedPeerCertificate): string {
  return certificate.subjectaltname ? peerText(certificate.subjectaltname) : `no subjectAltName, only ${describeSubject(certificate.subject)}`;
}

/** "CN=api.example.com", or the subject's other fields when it has no common name. */
function describeSubject(subject: DetailedPeerCertificate['subject'] | undefined): string {
  const fields = Object.entries(subject ?? {});
  const cn = fields.find(([key]) => key === 'CN');
  const shown = (cn ? [cn] : fields).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`).join(', ');
  return peerText(shown === '' ? '(no subject)' : shown, 120);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
