// A socket a driver cannot turn against the process: what its listeners throw (a parser meeting a
// reply it cannot handle) and more bytes than one attempt may receive end the socket with a
// `protocol` failure of this attempt, never an uncaught exception or unbounded memory.
import type { Socket } from 'node:net';
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
   * Sees every chunk before the listeners do (to check framing, say); what it throws ends the
   * socket with a `protocol` failure carrying the thrown message, and the chunk is not delivered.
   */
  readonly inspect?: (chunk: Buffer) => void;
}

export interface SocketGuard {
  /** The failure the guard ended the socket with, if any: it says more than a driver's "connection closed". */
  failure(): CheckError | undefined;
  /** Ends the socket with `error` (the first failure wins), as the guard itself does. */
  fail(error: CheckError): void;
  bytesReceived(): number;
}

/**
 * Guards `socket` (a net.Socket or tls.TLSSocket) for its whole life. Bytes are counted on 'data'
 * events, which is how pg and ioredis read; a reader in paused mode ('readable' + read()) is not
 * counted. After a failure no further data reaches the listeners.
 */
export function guardSocket(socket: Socket, options: GuardOptions): SocketGuard {
  const maxBytes = options.maxBytes ?? MAX_ATTEMPT_BYTES;
  let received = 0;
  let failure: CheckError | undefined;
  const fail = (error: CheckError) => {
    failure ??= error;
    socket.destroy(failure);
  };
  // Destroying with an error emits 'error': without a listener of its own that would be thrown.
  socket.on('error', ignore);
  const emit = socket.emit;
  socket.emit = function guardedEmit(this: Socket, event: string | symbol, ...args: unknown[]): boolean {
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
          fail(new CheckError('protocol', `${options.target} violated its protocol: ${peerText(messageOf(error))}`, { cause: error }));
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
  } as Socket['emit'];
  return { failure: () => failure, fail, bytesReceived: () => received };
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
