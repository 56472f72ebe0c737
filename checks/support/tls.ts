// The TLS options block every TLS-speaking kind offers (`tls:` of http, redis and the types to
// come), and reading the PEM files a kind names: at every attempt, so a rotated certificate applies
// at the next one, bounded and regular files only. A problem with a file is a `tls` failure.
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { CheckError } from '../../src/errors.js';
import { readSmallFile } from './read-file.js';
import { describeSocketError } from './socket-errors.js';

/** Most bytes of a certificate or key file. */
const MAX_PEM_BYTES = 1024 * 1024;

/** The `tls:` block's keys, for a kind's options shape. */
export const tlsBlock = z
  .strictObject({
    caFile: z.string().min(1).optional().describe('PEM file of the certificate authorities to trust, instead of the system ones.'),
    certFile: z.string().min(1).optional().describe('PEM file of the client certificate (mutual TLS); with keyFile.'),
    keyFile: z.string().min(1).optional().describe('PEM file of the client certificate\'s private key; with certFile.'),
    serverName: z.string().min(1).optional().describe('The name sent as SNI and checked against the certificate. Default the host of the URL.'),
    insecureSkipVerify: z.boolean().optional().describe('Accept any certificate, of anyone. Default false.'),
  })
  .superRefine((block, ctx) => {
    if ((block.certFile === undefined) !== (block.keyFile === undefined)) {
      const [given, missing] = block.certFile === undefined ? ['keyFile', 'certFile'] : ['certFile', 'keyFile'];
      ctx.addIssue({ code: 'custom', path: [given], input: block[given as 'certFile' | 'keyFile'], message: `needs ${missing} as well` });
    }
  });
export type TlsBlock = z.output<typeof tlsBlock>;

/**
 * Reads PEM files named by a kind's settings; `files` maps each role as the user wrote it (caFile,
 * sslrootcert, …) to its path. A file that cannot be read fails the attempt with `tls`, naming it.
 */
export async function readPemFiles<Role extends string>(files: Readonly<Record<Role, string | undefined>>, target: string): Promise<Record<Role, Buffer | undefined>> {
  const entries = await Promise.all(
    (Object.entries(files) as [Role, string | undefined][]).map(async ([role, path]): Promise<[Role, Buffer | undefined]> => {
      if (path === undefined) return [role, undefined];
      try {
        return [role, await readSmallFile(path, MAX_PEM_BYTES)];
      } catch (error) {
        throw new CheckError('tls', `${target}: cannot read ${role} ${path}: ${(error as Error).message}`, { cause: error });
      }
    }),
  );
  return Object.fromEntries(entries) as Record<Role, Buffer | undefined>;
}

/** Node's TLS options for a connection to `host` with a kind's `tls:` block (its files read now). */
export async function tlsConnectionOptions(block: TlsBlock | undefined, host: string, target: string): Promise<ConnectionOptions> {
  const { caFile: ca, certFile: cert, keyFile: key } = await readPemFiles({ caFile: block?.caFile, certFile: block?.certFile, keyFile: block?.keyFile }, target);
  const name = block?.serverName ?? host;
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    // SNI carries names, never addresses (RFC 6066); the certificate is still checked against either.
    ...(isIP(name) ? {} : { servername: name }),
    ...(block?.serverName ? { checkServerIdentity: serverIdentityFor(block.serverName) } : {}),
    rejectUnauthorized: !block?.insecureSkipVerify,
  };
}

/** Checks the certificate against serverName rather than the host dialled. */
function serverIdentityFor(serverName: string): ConnectionOptions['checkServerIdentity'] {
  return (_host, certificate) => checkServerIdentity(serverName, certificate);
}

/**
 * What a client's TLS socket knows of a server refusing it for want of a client certificate. In TLS
 * 1.3 the client's handshake is over before the server has looked at the client's certificate: a
 * server that requires one the client did not send answers the client's first flight with an alert
 * and closes. The client may read that alert (a `tls` error), or only a reset or a close: its own
 * first write crossing the server's close makes the server's kernel reset the connection, and the
 * reset can arrive before the alert is read. The reset alone says nothing; with the handshake's
 * signal it does: the server asked for a certificate (a CertificateRequest, after which OpenSSL
 * holds the signature algorithms it shares with the server; without one it holds none), none was
 * sent, and the server reset or closed the connection before it sent a byte of application data.
 */
export interface CertificateRefusal {
  /** Application data arrived from the server: the handshake was accepted, a loss is no refusal. */
  received(): void;
  /**
   * For a failure of the attempt (`error`, the driver's): the server's alert if the socket read one
   * (a driver may report only the reset that followed it); else a `tls` failure when the signal
   * holds and the server reset the connection, broke it under a write, or closed it, as the socket
   * saw or as `error` says (a driver may hear of the socket's error before the socket's other
   * listeners do); undefined otherwise: the failure at hand says what it says.
   */
  refusal(error?: unknown): CheckError | undefined;
}

/** Codes of a connection lost under a client: the peer reset it, or closed it as the client wrote. */
const LOSS_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Watches `socket` (a client TLS socket, from before its handshake completes) for a refusal of its
 * missing certificate. Only the server's doing counts: a socket the client destroyed itself (an
 * attempt ended, a guard's refusal) is no refusal.
 */
export function watchCertificateRefusal(socket: TLSSocket, target: string): CertificateRefusal {
  let isAskedWithoutCertificate = false;
  let hasReceived = false;
  let lost: string | undefined;
  let lostWith: Error | undefined;
  /** The server's alert, when the socket read it after all: a driver may report only the reset that followed. */
  let alert: Error | undefined;
  /** An error of another kind: it says what happened. */
  let isOtherError = false;
  socket.once('secureConnect', () => {
    const ownCertificate = socket.getCertificate();
    isAskedWithoutCertificate =
      socket.getProtocol() === 'TLSv1.3' && socket.getSharedSigalgs().length > 0 && (ownCertificate === null || Object.keys(ownCertificate).length === 0);
  });
  socket.on('error', (error: Error & { code?: unknown; syscall?: unknown }) => {
    if (typeof error.code === 'string' && /^ERR_SSL_.*ALERT/.test(error.code)) alert ??= error;
    else if (typeof error.code !== 'string' || !LOSS_CODES.has(error.code)) isOtherError = true;
    else if (lostWith === undefined) {
      lost = `${typeof error.syscall === 'string' ? `${error.syscall} ` : ''}${error.code}`;
      lostWith = error;
    }
  });
  // The server's close without an alert reads as the end of the stream.
  socket.once('end', () => void (lost ??= 'without an alert'));
  return {
    received: () => void (hasReceived = true),
    refusal(error) {
      if (alert) return new CheckError('tls', describeSocketError(alert, target), { cause: alert });
      if (!isAskedWithoutCertificate || hasReceived || isOtherError) return undefined;
      const given = lossIn(error);
      const how = given?.words ?? lost;
      if (how === undefined) return undefined;
      const cause = given?.error ?? lostWith;
      return new CheckError(
        'tls',
        `TLS handshake with ${target} failed: ${target} closed the connection (${how}) right after the handshake, before it sent anything: it asked for a client certificate and none was sent, so it most likely requires one (certFile and keyFile of the tls block)`,
        cause ? { cause } : undefined,
      );
    },
  };
}

/** The connection loss `error` carries, here or in what it wraps (`cause`, nats.js's `chainedError`), in words. */
function lossIn(error: unknown): { readonly words: string; readonly error: unknown } | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const { code, syscall, cause, chainedError } = current as { code?: unknown; syscall?: unknown; cause?: unknown; chainedError?: unknown };
    if (typeof code === 'string' && LOSS_CODES.has(code)) return { words: `${typeof syscall === 'string' ? `${syscall} ` : ''}${code}`, error: current };
    current = chainedError ?? cause;
  }
  return undefined;
}
