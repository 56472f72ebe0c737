// A socket a driver cannot turn against the process: what its listeners throw (a parser meeting a
// reply it cannot handle) and more bytes than one attempt may receive end the socket with a failure
// of this attempt (`protocol` unless an inspector chose another reason), never an uncaught
// exception or unbounded memory. One guard for every kind: a net.Socket, a tls.TLSSocket, or a
// stream handed to a driver in place of its socket (connectable-stream.ts).
import type { Duplex } from 'node:stream';
import { CheckError } from '../../src/errors.js';
import { peerText } from './peer-text.js';

/** Most bytes a peer may send over one attempt's connection, unless a check says otherwise. */
export const MAX_ATTEMPT_BYTES = 1024 * 1024;

export interface GuardOptions {
  /** Names the peer in messages, e.g. `redis 10.0.0.5:6379`. */
  readonly target: string;
  /** Most bytes the peer may send over the socket's life. Default MAX_ATTEMPT_BYTES. */
  readonly maxBytes?: number;
  /**
   * Sees every chunk before the listeners do (to check framing, say): what it throws ends the socket
   * with that failure (a CheckError keeps its reason; anything else is `protocol`), and the chunk is
   * not delivered.
   */
  readonly inspect?: (chunk: Buffer) => void;
}

export interface SocketGuard {
  /** The failure the guard ended the socket with, if any: it says more than a driver's "connection closed". */
  failure(): CheckError | undefined;
  /** Rejects with the first failure; never resolves. Race a driver's promises against it. */
  readonly failed: Promise<never>;
  /** Ends the socket with `error` (the first failure wins), as the guard itself does. */
  fail(error: CheckError): void;
  bytesReceived(): number;
  /** A new attempt over a kept socket: its byte budget starts again. */
  startAttempt(): void;
}

/**
 * Guards `socket` for its whole life. Bytes are counted on 'data' events, which is how pg and ioredis
 * read; a reader in paused mode ('readable' + read()) is not counted. After a failure no further
 * data reaches the listeners.
 */
export function guardSocket(socket: Duplex, options: GuardOptions): SocketGuard {
  const maxBytes = options.maxBytes ?? MAX_ATTEMPT_BYTES;
  let received = 0;
  let failure: CheckError | undefined;
  let reject!: (error: CheckError) => void;
  const failed = new Promise<never>((_, rejecter) => (reject = rejecter));
  // Nobody need be waiting on it: a failure is also delivered to the driver as a socket error.
  failed.catch(() => undefined);
  const fail = (error: CheckError) => {
    if (failure) return;
    failure = error;
    reject(error);
    socket.destroy(error);
  };
  // Destroying with an error emits 'error': without a listener of its own that would be thrown.
  socket.on('error', ignore);
  const emit = socket.emit;
  socket.emit = function guardedEmit(this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') {
      if (failure) return false;
      const chunk = args[0] as Buffer | string;
      received += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (received > maxBytes) {
        fail(new CheckError('protocol', `${options.target} sent more than ${formatBytes(maxBytes)}, the most one attempt reads`));
        return false;
      }
      if (options.inspect) {
        try {
          options.inspect(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        } catch (error) {
          fail(error instanceof CheckError ? error : new CheckError('protocol', `${options.target} violated its protocol: ${peerText(messageOf(error))}`, { cause: error }));
          return false;
        }
      }
    }
    try {
      return (emit as (...all: unknown[]) => boolean).call(this, event, ...args);
    } catch (error) {
      fail(new CheckError('protocol', `${options.target} sent what the client could not handle: ${peerText(messageOf(error))}`, { cause: error }));
      return false;
    }
  } as Duplex['emit'];
  return { failure: () => failure, failed, fail, bytesReceived: () => received, startAttempt: () => void (received = 0) };
}

function ignore(): void {
  // The driver's own 'error' listener reports it; this one only keeps the process alive.
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** 1 MiB, 64 KiB, 512 bytes. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
