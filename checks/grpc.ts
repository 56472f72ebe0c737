// grpc: ask `grpc.health.v1.Health/Check` about `service` ("" is the server as a whole) over a fresh
// channel (@grpc/grpc-js, messages encoded here: no protobuf library), and close the channel and
// every socket it opened when the attempt ends. SERVING passes; NOT_SERVING fails with
// `not_serving`, an unknown service with `not_found`. Over TLS the certificate's expiry is judged
// too. Metadata values are secrets: never shown. With `connection: persistent` the core keeps the
// channel: each attempt makes the same call over its one HTTP/2 connection, which is never
// replaced behind the core's back (a lost connection ends the channel; the core opens the next).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ChannelCredentials, ChannelOptions, Client, ServiceError } from '@grpc/grpc-js';
import { z } from 'zod';
import { defineCheck, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { ConnectableStream } from './support/connectable-stream.js';
import { guardSocket, type SocketGuard } from './support/guarded-socket.js';
import { peerText } from './support/peer-text.js';
import { readSmallFile } from './support/read-file.js';
import { describeSocketError, reasonFromSocketError, toCheckError } from './support/socket-errors.js';
import { tlsBlock, tlsConnectionOptions, type TlsBlock } from './support/tls.js';

const METHOD = '/grpc.health.v1.Health/Check';
/** HealthCheckResponse.ServingStatus, as grpc/health/v1/health.proto numbers it. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
/** gRPC status codes by number, for messages. */
const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;
const STATUS = { deadlineExceeded: 4, notFound: 5, permissionDenied: 7, resourceExhausted: 8, unimplemented: 12, internal: 13, unavailable: 14, unauthenticated: 16 } as const;
/** Most bytes of a health response the channel accepts: the real one is 2 bytes. */
const MAX_RESPONSE_BYTES = 1024;
/** Most memory one HTTP/2 session may hold, in MiB (Node's unit for it): headers, frames, buffers. */
const MAX_SESSION_MIB = 1;
/** grpc-js's pause between connections of a subchannel, in ms (default 1 s, then growing). */
const RECONNECT_BACKOFF_MS = 10;
/**
 * A kept channel's idle timeout, ms: the longest a timer may wait (2^31 - 1 ms, about 24.8 days).
 * grpc-js drops an idle channel's connection after 30 minutes by default, and has no way to turn
 * that off; an interval that long would cost a new connection at every attempt.
 */
const KEPT_IDLE_TIMEOUT_MS = 2 ** 31 - 1;
/** Most bytes of a metadata file: a token, not a document. */
const MAX_METADATA_FILE_BYTES = 16 * 1024;
/** Most characters of a service name (the health service's names are fully qualified service names). */
const MAX_SERVICE_CHARS = 1024;
/** A metadata key gRPC accepts: lower-case letters, digits, - _ and . */
const METADATA_KEY = /^[0-9a-z_.-]+$/;
/** An ASCII metadata value: visible characters and spaces (gRPC's rule). */
const METADATA_VALUE = /^[\x20-\x7e]*$/;
/** Keys gRPC or HTTP/2 own: a user's value would be dropped or break the call. */
const RESERVED_KEYS = new Set(['content-type', 'te', 'user-agent', 'host', 'connection', 'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding']);
const TARGET_URL = /^grpcs?:\/\//i;

const metadataKey = z.string().meta({ pattern: METADATA_KEY.source });

/** Issues name the key, never the value: every metadata value is a secret. */
function keyProblem(key: string): string | undefined {
  if (!METADATA_KEY.test(key)) return 'is not a metadata key (lower-case letters, digits, -, _ and . only)';
  if (key.startsWith('grpc-') || key.startsWith(':') || RESERVED_KEYS.has(key)) return 'is a key gRPC itself sets';
  if (key.endsWith('-bin')) return 'is a binary metadata key (-bin): only text values are supported';
  return undefined;
}

const metadata = z.record(metadataKey, z.string()).superRefine((given, ctx) => {
  for (const [key, value] of Object.entries(given)) {
    const problem = keyProblem(key) ?? (METADATA_VALUE.test(value) ? undefined : 'has a value with a character other than printable ASCII, which metadata cannot carry');
    if (problem) ctx.addIssue({ code: 'custom', path: [key], input: key, message: problem });
  }
});

const metadataFiles = z.record(metadataKey, z.string().min(1)).superRefine((given, ctx) => {
  for (const key of Object.keys(given)) {
    const problem = keyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], input: key, message: problem });
  }
});

export const grpc = defineCheck({
  type: 'grpc',
  componentType: 'component',
  options: {
    target: z
      .string()
      .min(1)
      .superRefine((target, ctx) => {
        const problem = readTarget(target).problem;
        if (problem) ctx.addIssue({ code: 'custom', input: target, message: problem });
      })
      .describe('The server: host:port (plaintext unless a tls block is given), or a URL grpc://host:port or grpcs://host:port (TLS).'),
    service: z
      .string()
      .max(MAX_SERVICE_CHARS)
      .optional()
      .describe('The service whose health is asked, e.g. orders.v1.Orders. Default "": the server as a whole.'),
    metadata: metadata
      .optional()
      .describe('Metadata sent with the call, e.g. authorization: "Bearer ${secret:GRPC_TOKEN}". Every value is treated as a secret.'),
    metadataFiles: metadataFiles
      .optional()
      .describe('Metadata whose values are files (a token a secret mount rotates), read at every attempt, one trailing newline removed.'),
    tls: tlsBlock
      .optional()
      .describe('TLS settings: CA, client certificate, serverName (also sent as the :authority). With it the connection is encrypted whatever the target says.'),
    ...expiryOptions,
  },
  refine(options, ctx) {
    refineExpiry(options, ctx);
    for (const key of Object.keys(options.metadataFiles ?? {})) {
      if (options.metadata?.[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['metadataFiles', key], input: key, message: 'is also in metadata: give each key once' });
    }
    if (options.tls && /^grpc:\/\//i.test(options.target)) {
      ctx.addIssue({ code: 'custom', path: ['target'], input: options.target, message: 'is a plaintext grpc:// URL, and a tls block asks for TLS: write grpcs:// or host:port' });
    }
  },
  schemes: ['grpc', 'grpcs'],
  observations: EXPIRY_OBSERVATIONS,
  fromUrl: (url) => ({ target: url }),
  async prepare() {
    await loadDriver();
  },
  async run({ target, service = '', metadata: values = {}, metadataFiles: files = {}, tls, warnBefore, failBefore }, { signal, timeoutMs }) {
    // Loaded on first use: an agent without grpc checks never pays for the driver.
    const driver = await loadDriver();
    // Validation guarantees the target reads.
    const endpoint = readTarget(target) as Endpoint;
    const name = `grpc ${endpoint.hostPort}`;
    const isSecure = endpoint.isSecure || tls !== undefined;
    const [connection, fromFiles] = await Promise.all([isSecure ? tlsConnectionOptions(tls, endpoint.host, name) : undefined, readMetadataFiles(files, name)]);
    // The attempt may have ended while the files were read: open nothing after it.
    if (signal.aborted) throw signal.reason;
    const sent = { ...values, ...fromFiles };
    const secrets = secretsOf(sent);
    const channel = openChannel(driver, endpoint, connection, tls, name, false);
    try {
      return await untilAborted(signal, () => channel.check(service, sent, timeoutMs, { warnBefore, failBefore }), () => channel.close());
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw scrub(channel.explain(error, service, name), secrets);
    } finally {
      channel.close();
    }
  },
  session: {
    async open(options, { signal }) {
      const driver = await loadDriver();
      const endpoint = readTarget(options.target) as Endpoint;
      const name = `grpc ${endpoint.hostPort}`;
      // The tls block's files are read once, for the connection's life (as other kinds do).
      const connection = endpoint.isSecure || options.tls !== undefined ? await tlsConnectionOptions(options.tls, endpoint.host, name) : undefined;
      if (signal.aborted) throw signal.reason;
      return keptChannel(openChannel(driver, endpoint, connection, options.tls, name, true), options, name);
    },
  },
});

/** A check's options, as its schema accepted them. */
interface GrpcOptions extends ExpiryOptions {
  readonly target: string;
  readonly service?: string | undefined;
  readonly metadata?: Readonly<Record<string, string>> | undefined;
  readonly metadataFiles?: Readonly<Record<string, string>> | undefined;
  readonly tls?: TlsBlock | undefined;
}

/**
 * A channel the core keeps between attempts. The channel connects at the first probe (the call
 * fails at the first failed connection, as a fresh attempt's does, with the same reasons); every
 * probe is the call `run` makes, metadata files read again, with the attempt's deadline and its own
 * byte budget. The channel holds one HTTP/2 connection for its life: once that connection is lost
 * the channel is closed and reports itself no longer open, and the core opens the next.
 */
function keptChannel(channel: Channel, { service = '', metadata: values = {}, metadataFiles: files = {}, warnBefore, failBefore }: GrpcOptions, name: string): KeptConnection {
  return {
    isOpen: channel.isOpen,
    async probe({ signal, timeoutMs }) {
      let secrets = secretsOf(values);
      const call = async () => {
        const sent = { ...values, ...(await readMetadataFiles(files, name)) };
        secrets = secretsOf(sent);
        channel.startAttempt();
        return channel.check(service, sent, timeoutMs, { warnBefore, failBefore });
      };
      try {
        // On abort the core closes the channel (close below), which ends the call.
        return await untilAborted(signal, call, () => undefined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw scrub(channel.explain(error, service, name), secrets);
      }
    },
    close: channel.close,
  };
}

type Driver = typeof import('@grpc/grpc-js');

let driverLoaded: Promise<Driver> | undefined;
function loadDriver(): Promise<Driver> {
  driverLoaded ??= import('@grpc/grpc-js').then((module) => (module as { default?: Driver }).default ?? module);
  // A failed import is tried again at the next attempt.
  driverLoaded.catch(() => (driverLoaded = undefined));
  return driverLoaded;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** host:port as gRPC names it, IPv6 in brackets. */
  readonly hostPort: string;
  readonly isSecure: boolean;
}

/** Where a target points, or what is wrong with it. */
function readTarget(text: string): Endpoint & { problem?: undefined } | { problem: string } {
  const url = TARGET_URL.test(text);
  let rest = text;
  if (url) {
    rest = text.slice(text.indexOf('://') + 3);
    if (/[/?#@]/.test(rest.replace(/\/$/, ''))) return { problem: 'names more than a server: a gRPC URL is grpc://host:port or grpcs://host:port, with no user, path or query' };
    rest = rest.replace(/\/$/, '');
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { problem: 'must be host:port, or a grpc:// or grpcs:// URL' };
  }
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+):(\d+)$/.exec(rest);
  if (!match) return { problem: `must be host:port${url ? '' : ' (or a grpc:// or grpcs:// URL)'}, with the port: gRPC has no default one` };
  const port = Number(match[2]);
  if (!(port >= 1 && port <= 65535)) return { problem: `has port ${match[2]}: a port is a number from 1 to 65535` };
  const host = match[1]!.replace(/^\[|\]$/g, '');
  return { host, port, hostPort: `${match[1]}:${port}`, isSecure: /^grpcs:/i.test(text) };
}

/** The values of metadataFiles, read now so a rotated token applies at the next attempt. A file that cannot be read is `auth`. */
async function readMetadataFiles(files: Readonly<Record<string, string>>, target: string): Promise<Record<string, string>> {
  const entries = await Promise.all(
    Object.entries(files).map(async ([key, path]): Promise<[string, string]> => {
      let value: string;
      try {
        value = (await readSmallFile(path, MAX_METADATA_FILE_BYTES)).toString('utf8').replace(/\r?\n$/, '');
      } catch (error) {
        throw new CheckError('auth', `${target}: cannot read metadata file ${path} for ${key}: ${(error as Error).message}`, { cause: error });
      }
      // Never the value itself in the message: it is a secret.
      if (!METADATA_VALUE.test(value)) throw new CheckError('auth', `${target}: metadata file ${path} for ${key} holds a character other than printable ASCII, which metadata cannot carry`);
      return [key, value];
    }),
  );
  return Object.fromEntries(entries);
}

/** What a message must never show: each value, and the credential of `Bearer <token>`. */
function secretsOf(values: Readonly<Record<string, string>>): string[] {
  const found = new Set<string>();
  for (const value of Object.values(values)) {
    if (value.trim() !== '') found.add(value.trim());
    const credential = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value.trim())?.[1];
    if (credential) found.add(credential);
  }
  // The longest first: a value containing another is masked whole.
  return [...found].sort((a, b) => b.length - a.length);
}

/** The error with every secret masked in its message (a server may echo what it was sent). */
function scrub(error: CheckError, secrets: readonly string[]): CheckError {
  const message = secrets.reduce((text, secret) => text.split(secret).join('***'), error.message);
  return message === error.message ? error : new CheckError(error.reason, message);
}

/** HealthCheckRequest: field 1 (service), a length-delimited string; nothing at all for "". */
export function encodeRequest(service: string): Buffer {
  if (service === '') return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  const length: number[] = [];
  for (let n = bytes.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...length]), bytes]);
}

/** What a HealthCheckResponse says: its status (0, UNKNOWN, when absent), or why it cannot be read. */
export type HealthResponse = { readonly status: number; readonly problem?: undefined } | { readonly status?: undefined; readonly problem: string };

/**
 * Reads a HealthCheckResponse: field 1 (status) a varint enum; other fields skipped as protobuf
 * allows. Never throws: a message that is no protobuf says so.
 */
export function decodeResponse(bytes: Buffer): HealthResponse {
  let status = 0;
  let at = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.length) return undefined;
      const byte = bytes[at++]!;
      // Past 2^53 only the low bits matter for an enum: keep them.
      value += (byte & 0x7f) * 2 ** Math.min(shift, 49);
      if ((byte & 0x80) === 0) return value;
    }
    return undefined;
  };
  while (at < bytes.length) {
    const key = varint();
    if (key === undefined) return { problem: 'a field key is cut short' };
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 0) return { problem: 'a field is numbered 0' };
    if (wireType === 0) {
      const value = varint();
      if (value === undefined) return { problem: `field ${field} is cut short` };
      if (field === 1) status = value;
    } else if (wireType === 1 || wireType === 5) {
      at += wireType === 1 ? 8 : 4;
      if (at > bytes.length) return { problem: `field ${field} is cut short` };
    } else if (wireType === 2) {
      const length = varint();
      if (length === undefined || at + length > bytes.length) return { problem: `field ${field} is cut short` };
      if (field === 1) return { problem: 'field 1 (status) is not a number' };
      at += length;
    } else {
      return { problem: `field ${field} has wire type ${wireType}, which no HealthCheckResponse holds` };
    }
  }
  return { status };
}

/**
 * The channel options of a health attempt: a subchannel of its own (never shared with another
 * attempt), no retries, no proxy from the environment, no service config from DNS TXT records, no
 * channelz registry, and small bounds on what the server may send.
 */
export function channelOptions(authority: string | undefined, isKept = false): ChannelOptions {
  return {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
    'grpc.enable_http_proxy': 0,
    'grpc.service_config_disable_resolution': 1,
    'grpc.enable_channelz': 0,
    'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
    'grpc-node.max_session_memory': MAX_SESSION_MIB,
    'grpc.primary_user_agent': 'vigil',
    // A call fails at the first failed connection (no wait for ready), so the backoff between
    // connections never delays an attempt; it only keeps a closed channel's subchannel alive.
    'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS,
    'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS,
    // A kept channel's connection stays up between attempts however long the interval.
    ...(isKept ? { 'grpc.client_idle_timeout_ms': KEPT_IDLE_TIMEOUT_MS } : {}),
    ...(authority === undefined ? {} : { 'grpc.default_authority': authority }),
  };
}

type Channel = ReturnType<typeof openChannel>;

/**
 * One attempt's channel, or (`isKept`) a check's kept one. Its credentials hand vigil every socket
 * the channel opens (the TLS handshake is vigil's, with the check's tls block), and HTTP/2 gets a
 * stream in front of it, never the socket itself: a socket Node's HTTP/2 has taken over is not
 * closed by destroying it, and a session destroyed before the server's SETTINGS only half-closes it
 * (a hung server keeps it open forever). So close() destroys every socket whatever state grpc-js
 * left its connection in, and the guard bounds what the server may send (bytes, and what the
 * HTTP/2 parser throws). A kept channel has one connection for its life: grpc-js would replace a
 * lost one on its own (after a GOAWAY, a restart, its idle timeout), and the core would not know
 * the check's connection changed; the connector refuses that, and the loss closes the channel.
 */
function openChannel(driver: Driver, endpoint: Endpoint, connection: ConnectionOptions | undefined, block: TlsBlock | undefined, target: string, isKept: boolean) {
  const sockets = new Set<Duplex>();
  let isClosed = false;
  /** The first failure of a socket, a handshake or a guard: grpc-js keeps only its text. */
  let failure: unknown;
  const noteFailure = (error: unknown) => (failure ??= error);
  /** The stream HTTP/2 runs over, once a connection was made; its guard, and its TLS socket over TLS. */
  let established: { readonly stream: Duplex; readonly guard: SocketGuard; readonly secure: TLSSocket | undefined } | undefined;
  /**
   * No connection may be made or completed: the channel is closed, or it is kept and already had its
   * one (a second attempt at the name's other address, say, completing after the first).
   */
  const isOver = () => isClosed || (isKept && established !== undefined);
  /** What HTTP/2 reads and writes through: the attempt's socket behind a stream of vigil's. */
  const wrap = (socket: Duplex, secure: TLSSocket | undefined): Socket => {
    const guard = guardSocket(socket, { target });
    guard.failed.catch(noteFailure);
    const stream = new ConnectableStream().attach(socket);
    sockets.add(stream);
    // What failed before this connection (another address of the name refusing) no longer explains anything.
    failure = undefined;
    established = { stream, guard, secure };
    // A kept channel ends with its connection (the server closed it, grpc-js let it go).
    if (isKept) stream.once('close', lose);
    // grpc-js types the socket as net.Socket; it uses only what every Duplex has (HTTP/2 wraps any other stream itself).
    return stream as unknown as Socket;
  };
  const connector = {
    connect(socket: Socket): Promise<{ socket: Socket; secure: boolean }> {
      sockets.add(socket);
      socket.on('error', noteFailure);
      if (isOver()) {
        socket.destroy();
        return Promise.reject(new Error('the attempt is over'));
      }
      if (!connection) return Promise.resolve({ socket: wrap(socket, undefined), secure: false });
      const secure = tlsConnect({ ...connection, socket, ALPNProtocols: ['h2'] });
      sockets.add(secure);
      secure.on('error', noteFailure);
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => {
          secure.off('secureConnect', onSecure);
          reject(error);
        };
        const onSecure = () => {
          secure.off('error', onError);
          if (isOver()) {
            secure.destroy();
            reject(new Error('the attempt is over'));
            return;
          }
          resolve({ socket: wrap(secure, secure), secure: true });
        };
        secure.once('secureConnect', onSecure);
        secure.once('error', onError);
      });
    },
    // Asked before every TCP connect: grpc-js reconnects a subchannel once more after its channel
    // closed (its backoff timer outlives the close), and the dependency must see no such connection.
    // A kept channel that had its connection gets no second one: it is over, and closes.
    waitForReady(): Promise<void> {
      if (isKept && established && !isClosed) setImmediate(lose);
      return isOver() ? Promise.reject(new Error('the attempt is over')) : Promise.resolve();
    },
    getCallCredentials: () => driver.credentials.createEmpty(),
    destroy() {
      // Sockets are the attempt's to destroy, in close().
    },
  };
  class AttemptCredentials extends (driver.ChannelCredentials as unknown as new () => ChannelCredentials) {
    _isSecure(): boolean {
      return connection !== undefined;
    }
    _equals(other: ChannelCredentials): boolean {
      return other === this;
    }
    _createSecureConnector() {
      return connector;
    }
  }
  const authority = block?.serverName === undefined ? undefined : `${block.serverName}:${endpoint.port}`;
  const client: Client = new driver.Client(endpoint.hostPort, new AttemptCredentials(), channelOptions(authority, isKept));
  let cancel: (() => void) | undefined;
  const READY = driver.connectivityState.READY;

  /** Ends the channel and destroys every socket; `cancelCall`: the call in progress too (else it fails as the lost connection makes it). */
  function shut(cancelCall: boolean) {
    if (isClosed) return;
    isClosed = true;
    if (cancelCall) cancel?.();
    client.close();
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  }
  const close = () => shut(true);
  /** Set once a kept channel's connection is gone: the channel ends as soon as no call is in progress. */
  let isLost = false;
  let isCalling = false;
  /**
   * The kept connection is gone. A call in progress (one still waiting for the connection, too)
   * first ends as grpc-js makes it end, as a fresh attempt's would: closing the channel under it
   * would turn any failure into "channel closed".
   */
  const lose = () => {
    isLost = true;
    if (!isCalling) shut(false);
  };

  return {
    /**
     * Asks the health service about `service`; resolves when SERVING (with the certificate's expiry
     * over TLS), throws what the server said otherwise.
     */
    check(service: string, values: Readonly<Record<string, string>>, timeoutMs: number, expiry: ExpiryOptions): Promise<Observation> {
      const sent = new driver.Metadata();
      for (const [key, value] of Object.entries(values)) sent.set(key, value);
      return new Promise<Observation>((resolve, reject) => {
        isCalling = true;
        const call = client.makeUnaryRequest<string, HealthResponse>(METHOD, encodeRequest, decodeResponse, service, sent, { deadline: Date.now() + timeoutMs }, (error, response) => {
          cancel = undefined;
          isCalling = false;
          let outcome: { observation: Observation } | { failure: unknown };
          if (error) outcome = { failure: error };
          else {
            try {
              const serving = judge(response!, service, target);
              // Read while the socket is open: Node forgets the peer's certificate once it closes.
              const secure = established?.secure;
              outcome = { observation: secure && !secure.destroyed ? { ...serving, ...socketExpiry(secure, expiry, target) } : serving };
            } catch (failed) {
              outcome = { failure: failed };
            }
          }
          if (isLost) shut(false);
          if ('failure' in outcome) reject(outcome.failure);
          else resolve(outcome.observation);
        });
        cancel = () => call.cancel();
      });
    },
    /** A new attempt over a kept connection: its byte budget starts again. */
    startAttempt() {
      established?.guard.startAttempt();
    },
    /**
     * False once the channel is closed or its connection was lost: the server closed it, or grpc-js
     * left READY (a GOAWAY), as seen between attempts. True before the first call connects.
     */
    isOpen(): boolean {
      return !isClosed && !isLost && (established === undefined || (!established.stream.destroyed && client.getChannel().getConnectivityState(false) === READY));
    },
    /** The failure as an operator reads it, from the call's status and what the sockets met. */
    explain(error: unknown, service: string, target: string): CheckError {
      if (error instanceof CheckError) return error;
      const status = error as Partial<ServiceError>;
      // The guard's own failure (too many bytes, a parser that threw) says more than the status grpc-js made of it.
      if (failure instanceof CheckError) return failure;
      if (typeof status.code !== 'number') return toCheckError(failure ?? error, target);
      return fromStatus(status.code, status.details ?? '', failure, service, target);
    },
    close,
  };
}

const about = (service: string) => (service === '' ? 'the server' : `service ${JSON.stringify(peerText(service))}`);

/** SERVING passes; any other answer fails. */
function judge(response: HealthResponse, service: string, target: string): Observation {
  if (response.problem !== undefined) throw new CheckError('protocol', `${target} answered ${METHOD} with a message that is no HealthCheckResponse: ${response.problem}`);
  const status = SERVING_STATUS[response.status] ?? `status ${response.status}`;
  if (status === 'SERVING') return { servingStatus: status };
  if (status === 'SERVICE_UNKNOWN') throw new CheckError('not_found', `${target} does not know ${about(service)} (SERVICE_UNKNOWN)`);
  if (status === 'NOT_SERVING' || status === 'UNKNOWN') throw new CheckError('not_serving', `${target} says ${about(service)} is ${status}`);
  throw new CheckError('protocol', `${target} answered ${METHOD} with serving ${status}, which health.proto does not define`);
}

/** Node's error codes as grpc-js writes them into a status's details ("… connect ECONNREFUSED 127.0.0.1:50051"). */
const SOCKET_CODE = /\b(E[A-Z]{3,}|ERR_[A-Z_]+|[A-Z_]*CERT[A-Z_]*)\b/;

/** A call's non-OK status, with what the sockets met where the channel never reached the server. */
function fromStatus(code: number, details: string, failure: unknown, service: string, target: string): CheckError {
  const name = STATUS_NAMES[code] ?? `status ${code}`;
  const said = details === '' ? '' : `: ${peerText(details)}`;
  switch (code) {
    case STATUS.notFound:
      return new CheckError('not_found', `${target} does not know ${about(service)} (NOT_FOUND${said})`);
    case STATUS.unimplemented:
      return new CheckError('protocol', `${target} has no gRPC health service: ${METHOD} is UNIMPLEMENTED there${said}`);
    case STATUS.unauthenticated:
    case STATUS.permissionDenied:
      return new CheckError('auth', `${target} refused the call with ${name}${said}`);
    case STATUS.deadlineExceeded:
      return new CheckError('timeout', `${target} did not answer ${METHOD} within the timeout${said}`);
    case STATUS.unavailable: {
      if (reasonFromSocketError(failure)) return new CheckError(reasonFromSocketError(failure)!, describeSocketError(failure, target), { cause: failure });
      const socketCode = SOCKET_CODE.exec(details)?.[1];
      const reason = socketCode === undefined ? undefined : reasonFromSocketError({ code: socketCode });
      if (reason) return new CheckError(reason, describeSocketError(Object.assign(new Error(peerText(details.replace(/ \(\d{4}-\d\d-\d\dT[^)]*\)$/, ''))), { code: socketCode }), target));
      if (/name resolution failed/i.test(details)) return new CheckError('dns', `cannot resolve the host of ${target}${said}`);
      if (/no connection established|connection dropped|connection closed|protocol error|failed to connect/i.test(details)) {
        return new CheckError('protocol', `${target} did not speak gRPC over HTTP/2${said}`);
      }
      return new CheckError('status_code', `${target} answered ${METHOD} with UNAVAILABLE${said}`);
    }
    case STATUS.internal:
      return new CheckError('protocol', `${target} broke the gRPC protocol (INTERNAL${said})`);
    case STATUS.resourceExhausted:
      if (/larger than max/i.test(details)) return new CheckError('protocol', `${target} answered with more than ${MAX_RESPONSE_BYTES} bytes, the most a health response may have`);
      return new CheckError('status_code', `${target} answered ${METHOD} with RESOURCE_EXHAUSTED${said}`);
    default:
      return new CheckError('status_code', `${target} answered ${METHOD} with ${name}${said}`);
  }
}
