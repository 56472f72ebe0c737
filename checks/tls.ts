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
import { chainOf, describeSubject, EXPIRY_OBSERVATIONS, expiryOptions, judgeExpiry, refineExpiry, type Certificate } from './support/cert-expiry.js';
import { tlsBlock, tlsConnectionOptions, type TlsBlock } from './support/tls.js';

const DEFAULT_PORT = 443;
/** Verification errors that are about dates: judged from the certificates' own dates instead. */
const DATE_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);

const options = {
  host: z
    .string()
    .min(1)
    .regex(/^[^\s/@]+$/, { message: 'must be a host name or address, not a URL (the port goes in port)' })
    .describe('Host name or address to connect to; also the name the certificate is checked against unless tls.serverName.'),
  port: z.number().int().min(1).max(65535).optional().describe('TCP port. Default 443.'),
  ...expiryOptions,
  tls: tlsBlock
    .optional()
    .describe('Verification: caFile (default the system CAs), serverName (the name sent as SNI and checked; default host), a client certificate, insecureSkipVerify (judge the dates only).'),
};

type TlsOptions = z.output<z.ZodObject<typeof options>>;

export const tls = defineCheck({
  type: 'tls',
  componentType: 'system',
  options,
  refine: refineExpiry,
  observations: EXPIRY_OBSERVATIONS,
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

  return judgeExpiry(chain, opts, target, verify && failure ? failure : undefined);
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

