// nats: connect to the server of `url` (a fresh connection, no reconnect; TLS where the server
// requires it or the check's tls block asks for it), flush (a PING answered by a PONG), optionally
// ask JetStream for the account's information, close. The client reads through a guarded socket
// whose every byte follows the NATS framing: a broken or hostile peer fails the attempt with
// `protocol` and never reaches the process. With `connection: persistent` the core keeps the
// connected client (session) and each attempt sends the same flush (and JetStream request).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ConnectionOptions, Msg, NatsConnection } from 'nats';
import { z } from 'zod';
import { defineCheck, type CheckContext, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { guardSocket, MAX_ATTEMPT_BYTES, type SocketGuard } from './support/guarded-socket.js';
import { createNatsScanner } from './support/nats-protocol.js';
import { peerText } from './support/peer-text.js';
import { readSmallFile } from './support/read-file.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { describeUrlTarget, urlProblem } from './support/target.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { createFailureLatch } from './support/failure-latch.js';
import { tlsBlock, tlsConnectionOptions, watchCertificateRefusal, type CertificateRefusal, type TlsBlock } from './support/tls.js';

const DEFAULT_PORT = 4222;
/** The name the connection gives itself: what an operator sees in the server's connz. */
const CONNECTION_NAME = 'vigil';
/**
 * Longest control line the server may send: INFO is the long one, and lists the cluster's URLs
 * (a few KiB in a large cluster).
 */
const MAX_CONTROL_LINE = 64 * 1024;
/** Most bytes of a credentials or nkey seed file. */
const MAX_CREDENTIALS_BYTES = 64 * 1024;
/** The subject of JetStream's account information, answered by any server running JetStream. */
const JETSTREAM_INFO_SUBJECT = '$JS.API.INFO';
/** The client's connection option carrying the attempt's wire to its transport. */
const WIRE = 'vigilWire';

export const nats = defineCheck({
  type: 'nats',
  componentType: 'component',
  options: {
    url: z
      .string()
      .regex(/^nats:\/\//, { message: 'must be a nats:// URL' })
      .superRefine((url, ctx) => {
        // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
        if (!/^nats:\/\//.test(url)) return;
        const problem = urlProblem(url, ['nats']) ?? serverOnlyProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', input: url, message: problem });
      })
      .describe('Server URL, e.g. nats://nats:4222; nats://${NATS_USER}:${NATS_PASSWORD}@nats:4222 or nats://${NATS_TOKEN}@nats:4222 to log in. Default port 4222.'),
    jetstream: z.boolean().optional().describe('Also require JetStream: the account\'s JetStream information must answer. Default false.'),
    credsFile: z
      .string()
      .min(1)
      .optional()
      .describe('A .creds file (the user\'s JWT and nkey seed, as nsc writes it) to log in with, read at every attempt.'),
    nkeyFile: z.string().min(1).optional().describe('A file holding an nkey seed (SU…) to log in with, read at every attempt.'),
    tls: tlsBlock
      .optional()
      .describe('TLS settings: CA, client certificate, server name. With it the connection must be encrypted; without it, TLS only where the server requires it, verified against the system CAs.'),
    ...expiryOptions,
  },
  refine(options, ctx) {
    refineExpiry(options, ctx);
    if (options.credsFile !== undefined && options.nkeyFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['nkeyFile'], input: options.nkeyFile, message: 'and credsFile are two ways to log in: give one' });
    }
    const file = options.credsFile !== undefined ? 'credsFile' : options.nkeyFile !== undefined ? 'nkeyFile' : undefined;
    if (file && /^nats:\/\/[^/?#]*@/.test(options.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], input: options.url, message: `carries credentials, and so does ${file}: give one` });
    }
  },
  schemes: ['nats'],
  observations: EXPIRY_OBSERVATIONS,
  async prepare() {
    await loadDriver();
  },
  async run(options, { signal, timeoutMs }) {
    const opened = await openConnection(options, { signal, timeoutMs });
    try {
      return await untilAborted(signal, () => probe(opened, options), () => opened.wire.destroy());
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw translate(opened.wire.failure() ?? error, opened.target);
    } finally {
      await closeConnection(opened);
    }
  },
  session: {
    async open(options, { signal, timeoutMs }) {
      return keptConnection(await openConnection(options, { signal, timeoutMs }), options);
    },
  },
});

/** A check's options, as its schema accepted them. */
interface NatsOptions extends ExpiryOptions {
  readonly url: string;
  readonly jetstream?: boolean | undefined;
  readonly credsFile?: string | undefined;
  readonly nkeyFile?: string | undefined;
  readonly tls?: TlsBlock | undefined;
}

/** A connection logged in and ready for probes, with the wire it reads through. */
interface Opened {
  readonly connection: NatsConnection;
  readonly wire: Wire;
  readonly driver: Driver;
  readonly target: string;
  /** Set once vigil itself closes the connection: its close is then no failure. */
  isClosing: boolean;
}

/**
 * Connects and logs in (a fresh connection, no reconnect), bounded by `signal`: on abort everything
 * is released and the promise rejects at once; a connection that opens after that is closed as it
 * opens. Rejects with a CheckError otherwise.
 */
async function openConnection(
  { url, credsFile, nkeyFile, tls }: NatsOptions,
  { signal, timeoutMs }: Pick<CheckContext, 'signal' | 'timeoutMs'>,
): Promise<Opened> {
  // Loaded on first use: an agent without nats checks never pays for the driver.
  const driver = await loadDriver();
  const target = describeUrlTarget('nats', url, DEFAULT_PORT);
  const wire = createWire(target, new URL(url).hostname.replace(/^\[|\]$/g, ''), tls);
  let isOver = false;
  const connect = async () => {
    const login = await loginOptions(url, { credsFile, nkeyFile }, driver, target);
    const connecting = driver.connect({ ...clientOptions(url, timeoutMs, tls !== undefined), ...login, [WIRE]: wire } as ConnectionOptions);
    // A connection that opens after the attempt ended is closed as it opens.
    connecting.then((late) => void (isOver && late.close().catch(ignore)), ignore);
    return wire.race(connecting);
  };
  try {
    const connection = await untilAborted(signal, connect, () => {
      isOver = true;
      wire.destroy();
    });
    const opened: Opened = { connection, wire, driver, target, isClosing: false };
    // One reaction for the connection's life: the server closing it fails whatever waits on the wire.
    connection.closed().then((error) => {
      // vigil's own close is no failure (and costs no error's stack).
      if (opened.isClosing) return;
      wire.fail(wire.refusal(error) ?? new CheckError('protocol', `${target} closed the connection${error ? `: ${peerText(error.message)}` : ''}`, error ? { cause: error } : undefined));
    }, ignore);
    return opened;
  } catch (error) {
    isOver = true;
    if (signal.aborted) throw signal.reason;
    const failure = translate(wire.failure() ?? wire.refusal(error) ?? error, target);
    wire.destroy();
    throw failure;
  }
}

/** Closes the client, then its socket: nats.js's close destroys the socket without waiting for the server. */
async function closeConnection(opened: Opened): Promise<void> {
  opened.isClosing = true;
  // The client's own close first: a socket destroyed under it would take its disconnect path.
  await opened.connection.close().catch(ignore);
  opened.wire.destroy();
}

/**
 * A connection the core keeps between attempts: each probe is what a fresh attempt does once
 * connected (the certificate's expiry over TLS, a flush, JetStream's answer if required), with the
 * attempt's own byte budget. The client never reconnects: a connection the server closed is
 * replaced by the core at the next attempt.
 */
function keptConnection(opened: Opened, options: NatsOptions): KeptConnection {
  const { connection, wire, target } = opened;
  let closing: Promise<void> | undefined;
  return {
    isOpen: () => !opened.isClosing && !connection.isClosed() && wire.failure() === undefined,
    async probe({ signal }) {
      wire.startAttempt();
      try {
        // On abort the core closes the connection (close below), which ends whatever still waits.
        return await untilAborted(signal, () => probe(opened, options), () => undefined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw translate(wire.failure() ?? error, target);
      }
    },
    close() {
      closing ??= closeConnection(opened);
      return closing;
    },
  };
}

type Driver = Awaited<ReturnType<typeof importDriver>>;

/**
 * The driver, imported once: one transport class for every attempt (a class made per attempt
 * would give nats.js's code a new shape to meet each time, and slow it down).
 */
let driverLoaded: Promise<Driver> | undefined;
function loadDriver(): Promise<Driver> {
  driverLoaded ??= importDriver();
  // A failed import is tried again at the next attempt.
  driverLoaded.catch(() => (driverLoaded = undefined));
  return driverLoaded;
}

/**
 * The client, with a transport of vigil's making: nats.js dials its own socket, and the attempt's
 * wire has to own it to guard it. The transport factory is the client's one global setting; this
 * check is the only user of nats.js in the process.
 */
async function importDriver() {
  const [client, base, { NodeTransport }] = await Promise.all([
    import('nats'),
    import('nats/lib/src/nats-base-client.js'),
    import('nats/lib/src/node_transport.js'),
  ]);
  class AttemptTransport extends NodeTransport {
    override dial(hp: { hostname: string; port: number }): Promise<Socket> {
      return (this.options as unknown as Record<typeof WIRE, Wire>)[WIRE].dial(hp);
    }
    override startTLS(): Promise<TLSSocket> {
      return (this.options as unknown as Record<typeof WIRE, Wire>)[WIRE].startTls();
    }
  }
  const factory = { factory: () => new AttemptTransport() };
  return {
    createInbox: client.createInbox,
    credsAuthenticator: client.credsAuthenticator,
    nkeyAuthenticator: client.nkeyAuthenticator,
    connect(options: ConnectionOptions): Promise<NatsConnection> {
      // Set for every connection: another user of nats.js's connect() would have put its own back.
      base.setTransportFactory(factory);
      return base.NatsConnectionImpl.connect(options);
    },
  };
}

/**
 * A client for one health attempt: one server, no reconnect, no gossiped servers. With `isTls`, the
 * connection upgrades to TLS when the server offers it; without, only when the server requires it.
 */
export function clientOptions(url: string, timeoutMs: number, isTls = false): ConnectionOptions {
  const parsed = new URL(url);
  return {
    servers: `${parsed.hostname}:${parsed.port || DEFAULT_PORT}`,
    name: CONNECTION_NAME,
    reconnect: false,
    maxReconnectAttempts: 0,
    waitOnFirstConnect: false,
    // Node resolves the host (as for every other check, /etc/hosts included), not nats.js's own DNS queries.
    resolve: false,
    ignoreClusterUpdates: true,
    noRandomize: true,
    // nats.js upgrades whenever a server offers TLS unless told null; the upgrade itself is the wire's.
    tls: isTls ? {} : null,
    timeout: timeoutMs,
    verbose: false,
    pedantic: false,
    // No stack captured per request and flush: nobody reads them.
    noAsyncTraces: true,
  };
}

/** The URL of one server: a path, query or fragment would be ignored, and is refused instead. */
function serverOnlyProblem(url: string): string | undefined {
  const parsed = new URL(url);
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') {
    return 'names more than a server: a nats:// URL is a host and an optional port (nats://host:4222), with credentials before the host if any (user:password@ or token@), and no path or query';
  }
  return undefined;
}

/**
 * How the attempt logs in: a user and password or a token from the URL (a lone user name is a
 * token, as for every NATS client), or the seed of a credentials file, read now so a rotated file
 * applies at the next attempt. A file that cannot be read or holds no seed fails with `auth`.
 */
async function loginOptions(url: string, files: { credsFile?: string; nkeyFile?: string }, driver: Driver, target: string): Promise<Partial<ConnectionOptions>> {
  const parsed = new URL(url);
  const user = decodeUserInfo(parsed.username);
  const password = decodeUserInfo(parsed.password);
  if (parsed.password !== '') return { user, pass: password };
  if (parsed.username !== '') return { token: user };
  const [role, path] = files.credsFile !== undefined ? (['credsFile', files.credsFile] as const) : files.nkeyFile !== undefined ? (['nkeyFile', files.nkeyFile] as const) : [];
  if (role === undefined) return {};
  let content: Buffer;
  try {
    content = await readSmallFile(path, MAX_CREDENTIALS_BYTES);
  } catch (error) {
    throw new CheckError('auth', `${target}: cannot read ${role} ${path}: ${(error as Error).message}`, { cause: error });
  }
  const sign = role === 'credsFile' ? driver.credsAuthenticator(content) : driver.nkeyAuthenticator(new TextEncoder().encode(content.toString('utf8').trim()));
  return {
    // The client signs the server's nonce while it sends CONNECT: a file without a usable seed fails there.
    authenticator: (nonce?: string) => {
      try {
        return sign(nonce);
      } catch (error) {
        throw new CheckError('auth', `${target}: ${role} ${path} holds no usable ${role === 'credsFile' ? 'credentials' : 'nkey seed'}: ${peerText((error as Error).message)}`, { cause: error });
      }
    },
  };
}

/** A URL's user or password as the server expects it: percent-decoded, or as written where that is not an escape. */
function decodeUserInfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * One attempt's work on an open connection: the certificate's expiry over TLS, a flush (a PING
 * answered by a PONG), then JetStream's answer if required. Every wait races the wire's failure:
 * the server closing the connection leaves a flush unanswered, and its close ends the probe instead.
 */
async function probe({ connection, wire, driver, target }: Opened, { jetstream = false, warnBefore, failBefore }: NatsOptions): Promise<Observation | undefined> {
  // Read while the socket is open: Node forgets the peer's certificate once it closes.
  const secure = wire.secureSocket();
  const expiry = secure ? socketExpiry(secure, { warnBefore, failBefore }, target) : undefined;
  await wire.race(connection.flush());
  if (jetstream) await wire.race(requireJetStream(connection, driver, target));
  return expiry;
}

/**
 * Asks for the account's JetStream information. A server without JetStream has no responder for
 * the subject (a 503 status); one with JetStream answers with an error where the account has none
 * or JetStream is unavailable (a cluster without a meta leader): both are `not_serving`.
 */
async function requireJetStream(connection: NatsConnection, driver: Driver, target: string): Promise<void> {
  const inbox = driver.createInbox();
  const reply = new Promise<Msg>((resolve, reject) => {
    connection.subscribe(inbox, { max: 1, callback: (error, msg) => (error ? reject(error) : resolve(msg)) });
  });
  connection.publish(JETSTREAM_INFO_SUBJECT, undefined, { reply: inbox });
  const msg = await reply;
  let status: number | undefined;
  try {
    status = msg.headers?.code;
  } catch (error) {
    // nats.js decodes headers when they are read, and throws on a malformed one.
    throw new CheckError('protocol', `${target} answered ${JETSTREAM_INFO_SUBJECT} with unreadable headers: ${peerText((error as Error).message)}`, { cause: error });
  }
  if (status === 503) {
    throw new CheckError('not_serving', `${target} does not serve JetStream: nothing answers ${JETSTREAM_INFO_SUBJECT} (is the server started with JetStream enabled?)`);
  }
  const text = Buffer.from(msg.data).toString('utf8');
  let answer: { type?: unknown; error?: { code?: unknown; err_code?: unknown; description?: unknown } };
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    throw new CheckError('protocol', `${target} answered ${JETSTREAM_INFO_SUBJECT} with ${peerText(JSON.stringify(text))}, which is not JSON`);
  }
  if (answer?.error) {
    const { code, err_code: errCode, description } = answer.error;
    throw new CheckError('not_serving', `${target} does not serve JetStream to this account: ${peerText(String(description))} (code ${peerText(String(code))}, error ${peerText(String(errCode))})`);
  }
  if (answer?.type !== 'io.nats.jetstream.api.v1.account_info_response') {
    throw new CheckError('protocol', `${target} answered ${JETSTREAM_INFO_SUBJECT} with ${peerText(text)}, expected JetStream account information`);
  }
}

type Wire = ReturnType<typeof createWire>;

/**
 * One attempt's connection as the transport dials it: guarded (at most MAX_ATTEMPT_BYTES, every
 * byte through the NATS framing before the client's parser sees it), and failing the attempt at
 * once when the guard ends the socket or the server sends -ERR.
 */
function createWire(target: string, host: string, tls: TlsBlock | undefined) {
  let socket: Socket | undefined;
  let guard: SocketGuard | undefined;
  let secure: TLSSocket | undefined;
  let secureGuard: SocketGuard | undefined;
  let certificateRefusal: CertificateRefusal | undefined;
  let isDestroyed = false;
  // Races through the latch leave nothing on a kept connection once an attempt is over.
  const latch = createFailureLatch<CheckError>();
  const fail = latch.fail;
  const scanner = createNatsScanner({
    maxControlLine: MAX_CONTROL_LINE,
    maxPayloadBytes: MAX_ATTEMPT_BYTES,
    onError: (text) => fail(serverError(text, target)),
    onInfo(info) {
      if (tls && info.tls_required !== true && info.tls_available !== true) {
        throw new CheckError('tls', `${target} does not offer TLS, and the check's tls block requires it`);
      }
    },
  });

  return {
    /** Opens the socket to `hp` for the client's transport; resolves once connected. */
    dial(hp: { hostname: string; port: number }): Promise<Socket> {
      if (isDestroyed) return Promise.reject(new CheckError('unknown', `${target}: the attempt ended before the connection opened`));
      const opened = netConnect({ host: hp.hostname, port: hp.port });
      opened.setNoDelay(true);
      socket = opened;
      // Once TLS wraps the socket, what arrives here is ciphertext: the TLS socket's guard reads the framing.
      guard = guardSocket(opened, { target, inspect: (chunk) => void (secure === undefined && scanner.write(chunk)) });
      guard.failed.catch(fail);
      return new Promise<Socket>((resolve, rejectDial) => {
        const onError = (error: Error) => {
          opened.off('connect', onConnect);
          rejectDial(error);
        };
        const onConnect = () => {
          opened.off('error', onError);
          resolve(opened);
        };
        opened.once('connect', onConnect);
        opened.once('error', onError);
      });
    },
    /**
     * Upgrades the dialled socket to TLS (the client asks once the server's INFO says so), with the
     * tls block's files read now. Resolves once the handshake completed and the certificate was
     * accepted.
     */
    async startTls(): Promise<TLSSocket> {
      const options = await tlsConnectionOptions(tls, host, target);
      if (isDestroyed || socket === undefined) throw new CheckError('unknown', `${target}: the attempt ended before TLS started`);
      const upgraded = tlsConnect({ ...options, socket });
      secure = upgraded;
      const refusal = watchCertificateRefusal(upgraded, target);
      certificateRefusal = refusal;
      secureGuard = guardSocket(upgraded, {
        target,
        inspect: (chunk) => {
          refusal.received();
          scanner.write(chunk);
        },
      });
      secureGuard.failed.catch(fail);
      return new Promise<TLSSocket>((resolve, rejectTls) => {
        const onError = (error: Error) => {
          upgraded.off('secureConnect', onSecure);
          rejectTls(error);
        };
        const onSecure = () => {
          upgraded.off('error', onError);
          resolve(upgraded);
        };
        upgraded.once('secureConnect', onSecure);
        upgraded.once('error', onError);
      });
    },
    /** Settles as `work` does, or rejects first with the wire's failure. */
    race: latch.race,
    /** Fails whatever races the wire now (the server closed the connection); the first failure wins. */
    fail,
    failure: () => guard?.failure() ?? secureGuard?.failure() ?? latch.failure(),
    /**
     * For the connection lost with `error` (nats.js's): the server's TLS alert if the socket read
     * one (nats.js may report only the reset that followed it), or a `tls` failure where the server
     * reset or closed the connection right after a TLS 1.3 handshake in which it asked for a client
     * certificate and none was sent (support/tls.ts); undefined otherwise.
     */
    refusal: (error: unknown) => certificateRefusal?.refusal(error),
    /** A new attempt over a kept connection: its byte budget starts again. */
    startAttempt() {
      guard?.startAttempt();
      secureGuard?.startAttempt();
    },
    /** The TLS socket once the connection upgraded (the server required TLS, or the tls block asked). */
    secureSocket: () => secure,
    /** Ends the socket, and with it whatever still races the wire. */
    destroy() {
      isDestroyed = true;
      secure?.destroy();
      socket?.destroy();
      latch.fail(new CheckError('unknown', `${target}: the connection was closed by vigil`));
    },
  };
}

/** A -ERR from the server, as a failure of the attempt. */
function serverError(text: string, target: string): CheckError {
  const quoted = peerText(text);
  if (/authorization violation|authentication (timeout|expired|revoked)|account authentication expired|user authentication/i.test(text)) {
    return new CheckError('auth', `${target} refused the login: ${quoted}`);
  }
  if (/permissions violation/i.test(text)) return new CheckError('auth', `${target} does not permit what the check asks: ${quoted}`);
  return new CheckError('body', `${target} answered -ERR ${JSON.stringify(quoted)}`);
}

/** nats.js's error codes whose meaning is a failure reason. */
const REASON_OF_CODE: Readonly<Record<string, 'auth' | 'timeout' | 'protocol'>> = {
  AUTHORIZATION_VIOLATION: 'auth',
  AUTHENTICATION_EXPIRED: 'auth',
  AUTHENTICATION_TIMEOUT: 'auth',
  ACCOUNT_EXPIRED: 'auth',
  BAD_AUTHENTICATION: 'auth',
  BAD_CREDS: 'auth',
  TIMEOUT: 'timeout',
  CONNECTION_TIMEOUT: 'timeout',
  CONNECTION_CLOSED: 'protocol',
  DISCONNECT: 'protocol',
  NATS_PROTOCOL_ERR: 'protocol',
};

function translate(error: unknown, target: string): CheckError {
  if (error instanceof CheckError) return error;
  const natsError = error as { code?: unknown; message?: unknown; chainedError?: unknown } | null;
  // nats.js wraps a refused connection in its own error, the socket's kept as chainedError.
  for (const candidate of [error, natsError?.chainedError]) {
    if (reasonFromSocketError(candidate)) return new CheckError(reasonFromSocketError(candidate)!, describeSocketError(candidate, target), { cause: error });
  }
  const message = peerText(typeof natsError?.message === 'string' ? natsError.message : String(error));
  const code = typeof natsError?.code === 'string' ? natsError.code : '';
  if (code === 'CONNECTION_REFUSED') return new CheckError('protocol', `${target} closed the connection before it was established`, { cause: error });
  const reason = REASON_OF_CODE[code];
  if (reason === 'auth') return new CheckError('auth', `${target} refused the login: ${message}`, { cause: error });
  if (reason) return new CheckError(reason, `${target}: ${message}`, { cause: error });
  if (/unexpected response from server/i.test(message)) return new CheckError('protocol', `${target} does not speak NATS: ${message}`, { cause: error });
  return new CheckError('unknown', `${target}: ${message}`, { cause: error });
}

function ignore(): void {
  // A late outcome of an attempt already settled: nobody is waiting for it.
}
