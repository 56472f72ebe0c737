// redis: connect with `url` (redis:// or rediss://), select its database, PING, expect PONG, and
// read one INFO (role, memory, clients) in the same round trip, disconnect. The client is built for a health check (no offline queue, no retries, no reconnect, a
// timeout on every command) and reads through a guarded socket: a broken peer fails the attempt.
// With `connection: persistent` the core keeps the connected client (session) and each attempt
// sends the same PING and INFO.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { RedisOptions as RedisClientOptions } from 'ioredis';
import { z } from 'zod';
import { defineCheck, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { guardSocket, MAX_ATTEMPT_BYTES, type SocketGuard } from './support/guarded-socket.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { peerText } from './support/peer-text.js';
import { createRespScanner } from './support/resp.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { describeUrlTarget, urlProblem } from './support/target.js';
import { tlsBlock, tlsConnectionOptions, watchCertificateRefusal, type CertificateRefusal } from './support/tls.js';

/**
 * The share of the timeout a rediss:// connection may spend in its TLS handshake. A plain Redis
 * reads a TLS hello as the start of an inline command and stays silent: failing a little before
 * the deadline lets that show as `tls` rather than as a bare timeout.
 */
const TLS_HANDSHAKE_SHARE = 0.9;

export const redis = defineCheck({
  type: 'redis',
  componentType: 'datastore',
  options: {
    url: z
      .string()
      .regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
      .superRefine((url, ctx) => {
        // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
        if (!/^rediss?:\/\//.test(url)) return;
        const problem = urlProblem(url, ['redis', 'rediss']) ?? databaseProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', input: url, message: problem });
      })
      .describe('Connection URL, e.g. redis://:${REDIS_PASSWORD}@cache:6379/0; rediss:// for TLS. The path is the database number (default 0).'),
    tls: tlsBlock.optional().describe('TLS settings of a rediss:// URL: CA, client certificate, server name.'),
    ...expiryOptions,
  },
  refine(options, ctx) {
    refineExpiry(options, ctx);
    if (options.tls && !options.url.startsWith('rediss:')) {
      ctx.addIssue({ code: 'custom', path: ['url'], input: options.url, message: 'is plain redis://, and the tls block applies to rediss:// URLs only' });
    }
  },
  schemes: ['redis', 'rediss'],
  observations: { memoryUsedRatio: 'ratio', connectedClients: 'count', ...EXPIRY_OBSERVATIONS },
  async prepare() {
    await import('ioredis');
  },
  async run({ url, tls: block, warnBefore, failBefore }, { signal, timeoutMs }) {
    const { client, wire, target, errors } = await createClient(url, block, timeoutMs);
    const handshakeMs = Math.floor(timeoutMs * TLS_HANDSHAKE_SHARE);
    const handshakeTimer = url.startsWith('rediss:') ? setTimeout(() => wire.failStalledHandshake(handshakeMs), handshakeMs) : undefined;
    try {
      // On abort the attempt ends at once: ioredis's own promise settles ~2 s after disconnect()
      // against a hung server, and would hold the next attempt back.
      const [reply, info] = await untilAborted(
        signal,
        async () => {
          await client.connect();
          if (errors.select) throw errors.select;
          return pingWithInfo(client);
        },
        () => client.disconnect(),
      );
      expectPong(reply, target);
      return observe(info, wire, target, { warnBefore, failBefore });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw translate(wire.failure() ?? wire.explain(errors.last ?? errors.select ?? error), target);
    } finally {
      clearTimeout(handshakeTimer);
      client.disconnect();
    }
  },
  session: {
    async open({ url, tls: block, warnBefore, failBefore }, { signal, timeoutMs }, abandoned) {
      const { client, wire, target, errors } = await createClient(url, block, timeoutMs);
      const handshakeMs = Math.floor(timeoutMs * TLS_HANDSHAKE_SHARE);
      const handshakeTimer = url.startsWith('rediss:') ? setTimeout(() => wire.failStalledHandshake(handshakeMs), handshakeMs) : undefined;
      try {
        await untilAborted(
          signal,
          async () => {
            await client.connect();
            if (errors.select) throw errors.select;
          },
          // The server may be busy (a long command, a pause): it frees the connection once it reads the end.
          () => abandoned(endClient(client, wire)),
        );
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        client.disconnect();
        throw translate(wire.failure() ?? wire.explain(errors.last ?? errors.select ?? error), target);
      } finally {
        clearTimeout(handshakeTimer);
      }
      return keptClient(client, wire, target, errors, { warnBefore, failBefore });
    },
  },
});

type Client = InstanceType<typeof import('ioredis').Redis>;
interface ClientErrors {
  /** The first error the client emitted (ioredis's promises say only "Connection is closed."). */
  last: unknown;
  /** A refused SELECT, which ioredis reports only as an error event. */
  select: unknown;
}

/** A client for `url` reading through a guarded wire, its error events captured, not yet connected. */
async function createClient(url: string, block: Parameters<typeof tlsConnectionOptions>[0], timeoutMs: number) {
  // Loaded on first use: an agent without redis checks never pays for the driver.
  const { Redis } = await import('ioredis');
  const target = describeUrlTarget('redis', url, 6379);
  const tls = url.startsWith('rediss:') ? await tlsConnectionOptions(block, new URL(url).hostname, target) : undefined;
  const wire = createWire(target);
  // ioredis hands its options to the connector: the wire rides along with them.
  const client: Client = new Redis(url, { ...clientOptions(timeoutMs), ...(tls ? { tls } : {}), Connector: AttemptConnector as unknown as RedisClientOptions['Connector'], wire } as RedisClientOptions);
  // ioredis rejects connect() with only "Connection is closed."; the reason arrives here. A
  // failed SELECT arrives here too, and connect() resolves regardless.
  const errors: ClientErrors = { last: undefined, select: undefined };
  client.on('error', (error) => {
    if (isSelectError(error)) errors.select ??= error;
    else errors.last ??= error;
  });
  return { client, wire, target, errors };
}

/**
 * PING and INFO written at once: one round trip. INFO may be refused (an ACL allowing PING only):
 * the check is PING's, so a refusal only leaves the observations out.
 */
function pingWithInfo(client: Client): Promise<[unknown, InfoReply]> {
  const info = client.info().then(
    (text): InfoReply => ({ text }),
    (error: unknown): InfoReply => ({ error }),
  );
  return Promise.all([client.ping(), info]);
}

type InfoReply = { readonly text: string } | { readonly error: unknown };

/** What an attempt observed once PING answered: INFO's fields and, over TLS, the certificate's days left. */
function observe(info: InfoReply, wire: Wire, target: string, expiry: ExpiryOptions): Observation {
  const failure = wire.failure();
  if (failure) throw failure;
  // Read while the socket is open: Node forgets the peer's certificate once it closes.
  const secure = wire.secureSocket();
  const days = secure ? socketExpiry(secure, expiry, target) : undefined;
  const observed = 'text' in info ? readInfo(info.text) : { infoRefused: peerText((info.error as Error)?.message ?? String(info.error)) };
  return { ...observed, ...days };
}

function expectPong(reply: unknown, target: string): void {
  if (reply !== 'PONG') throw new CheckError('body', `${target} answered PING with ${peerText(JSON.stringify(reply))}, expected "PONG"`);
}

/** A connected client the core keeps between attempts: each probe is one PING, with the attempt's own byte budget. */
function keptClient(client: Client, wire: Wire, target: string, errors: ClientErrors, expiry: ExpiryOptions): KeptConnection {
  let isClosed = false;
  let closing: Promise<void> | undefined;
  // With no reconnect, a connection the server closed ends the client ('end').
  client.once('end', () => void (isClosed = true));
  return {
    isOpen: () => !isClosed && client.status === 'ready' && wire.failure() === undefined,
    async probe({ signal }) {
      wire.startAttempt();
      errors.last = undefined;
      try {
        // On abort the core closes the connection (close below).
        const [reply, info] = await untilAborted(signal, () => pingWithInfo(client), () => undefined);
        expectPong(reply, target);
        return observe(info, wire, target, expiry);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        client.disconnect();
        throw translate(wire.failure() ?? wire.explain(errors.last ?? error), target);
      }
    },
    close() {
      isClosed = true;
      closing ??= endClient(client, wire);
      return closing;
    },
  };
}

/** How long a server may take to free a connection once it was ended, before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Ends the client's connection and resolves once the server has closed its side (it frees the
 * client when it reads the end: at once, or after a command that blocks it), or after
 * CLOSE_GRACE_MS, destroying the socket then. Until then the connection still counts against the
 * server's clients, and the check opens no replacement.
 */
function endClient(client: Client, wire: Wire): Promise<void> {
  const socket = wire.socket();
  if (!socket || socket.destroyed) {
    client.disconnect();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      client.disconnect();
      resolve();
    });
    socket.end();
  });
}

/** Most INFO fields read: the sections INFO answers by default hold about a hundred. */
const MAX_INFO_FIELDS = 1000;

/**
 * role (primary or replica, as Redis's master/slave), connected clients and used_memory/maxmemory
 * from INFO's `field:value` lines; the ratio only where maxmemory is set (0 means no limit).
 */
export function readInfo(text: string): Record<string, string | number> {
  const limit = endOfLines(text, MAX_INFO_FIELDS);
  const field = (key: string) => infoField(text, key, limit);
  const observed: Record<string, string | number> = {};
  const role = field('role');
  if (role !== undefined) observed.role = role === 'master' ? 'primary' : role === 'slave' ? 'replica' : peerText(role, 32);
  const clientsText = field('connected_clients');
  const clients = Number(clientsText);
  if (clientsText !== undefined && Number.isFinite(clients)) observed.connectedClients = clients;
  const used = Number(field('used_memory'));
  const max = Number(field('maxmemory'));
  if (Number.isFinite(used) && Number.isFinite(max) && max > 0) observed.memoryUsedRatio = Math.round((used / max) * 10_000) / 10_000;
  return observed;
}

/** Where the first `count` lines of text end. */
function endOfLines(text: string, count: number): number {
  let at = -1;
  for (let line = 0; line < count; line++) {
    at = text.indexOf('\n', at + 1);
    if (at === -1) return text.length;
  }
  return at;
}

/**
 * The value of one `key:value` line of INFO before `limit`, found where it is: INFO runs at every
 * attempt, and splitting its hundred-odd lines into strings was most of an attempt's garbage.
 */
function infoField(text: string, key: string, limit: number): string | undefined {
  const at = text.startsWith(`${key}:`) ? 0 : text.indexOf(`\n${key}:`) + 1;
  if (at === 0 && !text.startsWith(`${key}:`)) return undefined;
  if (at >= limit) return undefined;
  const start = at + key.length + 1;
  const end = text.indexOf('\n', start);
  return text.slice(start, end === -1 ? undefined : end).trim();
}

/** The path of a Redis URL is its database: /0, /15, or nothing (0). */
function databaseProblem(url: string): string | undefined {
  const path = new URL(url).pathname;
  return path === '' || path === '/' || /^\/\d+$/.test(path) ? undefined : `names database ${JSON.stringify(path.slice(1))}: the path of a redis URL is a database number, such as /0`;
}

/** A client for one health attempt: no offline queue, no retries, no reconnect, bounded waits. */
export function clientOptions(timeoutMs: number): RedisClientOptions {
  return {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // The ready check sends an INFO on every connect: a third more CPU per attempt, for nothing here.
    enableReadyCheck: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResendUnfulfilledCommands: false,
    connectionName: 'vigil',
    // CLIENT SETINFO twice per attempt names the library in CLIENT LIST; Redis before 7.2 refuses it.
    disableClientInfo: true,
  };
}

/** What ioredis hands its connector: the target parsed from the URL, and the attempt's wire. */
interface ConnectorOptions {
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly family?: number;
  readonly tls?: boolean | ConnectionOptions;
  readonly wire: Wire;
}

/**
 * ioredis's connector for one attempt (ioredis builds it from the client's options): the socket
 * comes from the attempt's wire, and closing it is immediate (no graceful end: nothing is pending).
 */
class AttemptConnector {
  firstError?: Error;
  #stream?: Socket;
  readonly #options: ConnectorOptions;
  constructor(options: ConnectorOptions) {
    this.#options = options;
  }
  connect(): Promise<Socket> {
    const stream = this.#options.wire.open(this.#options);
    stream.once('error', (error) => (this.firstError = error));
    this.#stream = stream;
    return Promise.resolve(stream);
  }
  disconnect(): void {
    this.#stream?.destroy();
  }
  check(): boolean {
    return true;
  }
}

type Wire = ReturnType<typeof createWire>;

/**
 * One attempt's connection. ioredis reads through a guarded socket: at most MAX_ATTEMPT_BYTES,
 * every reply's framing checked before its parser sees it, and never more replies than commands
 * sent (ioredis 6 throws outside any caller's reach on a reply to no command, or on a push message
 * it cannot read). Such a peer ends the attempt with `protocol`.
 */
function createWire(target: string) {
  let guard: SocketGuard | undefined;
  let socket: Socket | undefined;
  let isTlsPending = false;
  let isTls = false;
  let certificateRefusal: CertificateRefusal | undefined;
  let sent = 0;
  let answered = 0;
  const commands = createRespScanner({ onMessage: () => void sent++, maxStringBytes: Infinity, maxElements: Infinity, maxDepth: 1 });
  const replies = createRespScanner({
    onMessage: () => {
      if (++answered > sent) throw new Error(`a reply arrived for no command (${answered} replies to ${sent} commands)`);
    },
    maxStringBytes: MAX_ATTEMPT_BYTES,
    // A health check's replies are small: HELLO's map is the largest.
    maxElements: 1024,
    maxDepth: 8,
  });

  const connect = (options: ConnectorOptions): Socket => {
    if (options.tls) {
      const tlsOptions = typeof options.tls === 'object' ? options.tls : {};
      const secure = tlsConnect({ host: options.host, port: options.port, path: options.path, ...tlsOptions });
      isTlsPending = true;
      isTls = true;
      secure.once('secureConnect', () => (isTlsPending = false));
      certificateRefusal = watchCertificateRefusal(secure, target);
      return secure;
    }
    return options.path ? netConnect({ path: options.path }) : netConnect({ host: options.host ?? 'localhost', port: options.port ?? 6379, family: options.family });
  };

  return {
    /** The TLS socket of a rediss:// attempt, for its certificate. */
    secureSocket: () => (isTls ? (socket as import('node:tls').TLSSocket) : undefined),
    /** Opens the attempt's socket, guarded, its commands counted as they are written. */
    open(options: ConnectorOptions): Socket {
      const opened = connect(options);
      socket = opened;
      guard = guardSocket(opened, {
        target,
        inspect: (chunk) => {
          certificateRefusal?.received();
          replies.write(chunk);
        },
      });
      const write = opened.write;
      opened.write = function countedWrite(this: Socket, chunk: unknown, ...rest: unknown[]) {
        commands.write(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as Socket['write'];
      return opened;
    },
    failure: () => guard?.failure(),
    /**
     * What to report for the client's `error`: the server's TLS alert if the socket read one, or a
     * `tls` failure where the connection was lost right after a TLS 1.3 handshake in which the
     * server asked for a client certificate and none was sent (support/tls.ts); `error` otherwise.
     */
    explain: (error: unknown): unknown => certificateRefusal?.refusal(error) ?? error,
    /** The connection's socket, once opened. */
    socket: () => socket,
    /** A new attempt over a kept connection: its byte budget starts again. */
    startAttempt: () => guard?.startAttempt(),
    /** Ends a TLS handshake still waiting after `waitedMs`: a plain server never answers one. */
    failStalledHandshake(waitedMs: number) {
      if (!guard || !socket || !isTlsPending || socket.connecting) return;
      guard.fail(
        new CheckError('tls', `TLS handshake with ${target} did not complete within ${waitedMs} ms: does the server speak TLS on that port? (a plain redis:// server never answers)`),
      );
    },
  };
}


/** ioredis sends SELECT during its handshake and reports a refusal as an error event, not to connect(). */
function isSelectError(error: unknown): boolean {
  return (error as { command?: { name?: unknown } } | null)?.command?.name === 'select';
}

function translate(error: unknown, target: string): CheckError {
  if (error instanceof CheckError) return error;
  const socketReason = reasonFromSocketError(error);
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = peerText((error as Error)?.message ?? String(error));
  if (/NOAUTH|WRONGPASS|invalid password|invalid username|AUTH.*failed|NOPERM/i.test(message)) {
    return new CheckError('auth', `${target} refused the login: ${message}`, { cause: error });
  }
  if (isSelectError(error)) {
    const db = String((error as { command: { args?: unknown[] } }).command.args?.[0] ?? '');
    return new CheckError('body', `${target} refused to select database ${db}: ${message} (does the URL name a database the server has?)`, { cause: error });
  }
  if (/Protocol error|Unknown RESP type|unexpected|parse/i.test(message)) {
    return new CheckError('protocol', `${target} does not speak the Redis protocol: ${message.replace(/ Please report this\.$/, '')}`, { cause: error });
  }
  if (/Command timed out|connect ETIMEDOUT/i.test(message)) return new CheckError('timeout', `${target}: ${message}`, { cause: error });
  if (/Connection is closed/i.test(message)) return new CheckError('protocol', `${target} closed the connection`, { cause: error });
  if ((error as { name?: string }).name === 'ReplyError') return new CheckError('body', `${target} answered with an error: ${message}`, { cause: error });
  return new CheckError('unknown', `${target}: ${message}`, { cause: error });
}
