// What every network kind does with a socket-level error: map Node's error code to a failure
// reason from the core's fixed set, and say it in words that name the target (never its credentials).
import { CheckError, type FailureReason } from '../../src/errors.js';

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

/**
 * Maps a socket-level error (Node's `code`) to a failure reason, or undefined when the error is not
 * a network one. Shared by every check that opens a socket.
 */
export function reasonFromSocketError(error: unknown): FailureReason | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'ECONNREFUSED') return 'connect_refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NODATA') return 'dns';
  if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'connect_timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'protocol';
  // Verification refused a certificate for its dates: the same reason the date checks give.
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'cert_expiry';
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls';
  return undefined;
}

/** Words for a socket error that name the target, e.g. "connection refused by 127.0.0.1:5432". */
export function describeSocketError(error: unknown, target: string): string {
  const reason = reasonFromSocketError(error);
  const detail = error instanceof Error ? error.message : String(error);
  switch (reason) {
    case 'connect_refused':
      return `connection to ${target} refused (nothing listening?)`;
    case 'dns':
      return `cannot resolve the host of ${target}: ${detail}`;
    case 'connect_timeout':
      return `cannot reach ${target}: ${detail}`;
    case 'protocol':
      return `${target} closed the connection: ${detail}`;
    case 'tls':
    case 'cert_expiry':
      return `TLS handshake with ${target} failed: ${detail}`;
    default:
      return `${target}: ${detail}`;
  }
}

/** Turns any socket-level error into a CheckError naming the target; other errors get `fallback`. */
export function toCheckError(error: unknown, target: string, fallback: FailureReason = 'unknown'): CheckError {
  if (error instanceof CheckError) return error;
  const reason = reasonFromSocketError(error) ?? fallback;
  return new CheckError(reason, describeSocketError(error, target), { cause: error });
}
