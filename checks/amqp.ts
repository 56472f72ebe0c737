// amqp: open a connection to an AMQP 0-9-1 broker (RabbitMQ) with `url`, open a channel, check that
// `queue` exists if one is named, close. The socket is vigil's own, guarded from its first byte:
// no heartbeat, frames of at most 4 KiB, one channel, and a broken peer fails the attempt.
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { defineCheck, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError, type FailureReason } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { formatBytes, guardSocket, type SocketGuard } from './support/guarded-socket.js';
import { peerText } from './support/peer-text.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { urlProblem } from './support/target.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { tlsBlock, tlsConnectionOptions, type TlsBlock } from './support/tls.js';

/**
 * The largest frame the check agrees to (AMQP's frame-min-size, which every broker accepts): a
 * health check's frames are a few hundred bytes, and a frame declared larger fails at its header.
 */
const FRAME_MAX = 4096;
/** A frame's header (type, channel, payload size) and its end octet. */
const FRAME_HEADER_BYTES = 7;
const FRAME_END = 0xce;
/** Most bytes a broker may send over one attempt: the whole exchange is a few KiB. */
const MAX_ATTEMPT_BYTES = 64 * 1024;
/** How long a kept connection's broker may take to answer its close, before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** The longest AMQP short string: queue and vhost names. */
const MAX_SHORTSTR_BYTES = 255;
const DEFAULT_PORTS = { amqp: 5672, amqps: 5671 } as const;
/** Query parameters of AMQP URIs that tune a long-lived connection: a check sets them itself. */
const TUNING_PARAMS = ['heartbeat', 'frameMax', 'channelMax', 'maxFrameSize', 'locale', 'frame_max', 'channel_max', 'connection_timeout'];

/** AMQP reply codes the check tells apart. */
const REPLY = {
  connectionForced: 320,
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  notAllowed: 530,
} as const;

const options = {
  url: z
    .string()
    .regex(/^amqps?:\/\//, { message: 'must be an amqp:// or amqps:// URL' })
    .superRefine((url, ctx) => {
      // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
      if (!/^amqps?:\/\//.test(url)) return;
      const problem = urlProblem(url, ['amqp', 'amqps']);
      if (problem) return void ctx.addIssue({ code: 'custom', input: url, message: problem });
      const parsed = parseUrl(url);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', input: url, message: parsed.problem });
    })
    .describe(
      'Connection URL, e.g. amqp://app:${AMQP_PASSWORD}@rabbit:5672/orders; amqps:// for TLS. The path is the vhost, percent-encoded ' +
        '(%2F for /; no path: the default vhost /). Without a user, guest:guest.',
    ),
  queue: z
    .string()
    .min(1)
    .refine((name) => Buffer.byteLength(name) <= MAX_SHORTSTR_BYTES, { message: `is longer than the ${MAX_SHORTSTR_BYTES} bytes AMQP allows a queue name` })
    .optional()
    .describe('A queue that must exist (checked passively: never created). Its message and consumer counts are reported.'),
  tls: tlsBlock.optional().describe('TLS settings of an amqps:// URL: CA, client certificate, server name.'),
  ...expiryOptions,
};

export const amqp = defineCheck({
  type: 'amqp',
  componentType: 'component',
  options,
  refine(values, ctx) {
    refineExpiry(values, ctx);
    if (values.tls && !values.url.startsWith('amqps:')) {
      ctx.addIssue({ code: 'custom', path: ['url'], input: values.url, message: 'is plain amqp://, and the tls block applies to amqps:// URLs only' });
    }
  },
  schemes: ['amqp', 'amqps'],
  observations: { messages: 'count', consumers: 'count', ...EXPIRY_OBSERVATIONS },
  async prepare() {
    loadDriver();
  },
  async run({ url, queue, tls: block, warnBefore, failBefore }, { signal }) {
    const client = await connectClient(url, block, signal);
    const { target } = client;
    try {
      return await untilAborted(
        signal,
        async () => {
          await client.opened;
          // Read while the socket is open: Node forgets the peer's certificate once it closes.
          const expiry = client.secure ? socketExpiry(client.secure, { warnBefore, failBefore }, target) : undefined;
          const channel = await client.step(openChannel(client));
          const observation = { ...(await client.step(checkOn(channel, queue, 'fresh'))), ...expiry };
          // The broker logs a connection dropped without its closing handshake as a warning: at every
          // attempt, that would be noise in its log.
          await client.close();
          return observation;
        },
        () => client.destroy(),
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw client.explain(error, queue);
    } finally {
      client.destroy();
    }
  },
  session: {
    async open({ url, queue, tls: block, warnBefore, failBefore }, { signal }) {
      const client = await connectClient(url, block, signal);
      let channel: AmqpChannel;
      try {
        // A handshake given up half-way: the broker drops a connection whose socket closed at once.
        channel = await untilAborted(
          signal,
          async () => {
            await client.opened;
            return client.step(openChannel(client));
          },
          () => client.destroy(),
        );
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        client.destroy();
        throw client.explain(error, queue);
      }
      return keptConnection(client, channel, queue, { warnBefore, failBefore });
    },
  },
});

/** The driver loaded and a connection to `url` opening, as every attempt and every kept connection opens one. */
async function connectClient(url: string, block: TlsBlock | undefined, signal: AbortSignal): Promise<Client> {
  // Loaded on first use: an agent without amqp checks never pays for the driver.
  const driver = loadDriver();
  // Validation guarantees the URL parses.
  const endpoint = parseUrl(url) as Endpoint;
  const target = `${endpoint.scheme} ${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  const tls = endpoint.scheme === 'amqps' ? await tlsConnectionOptions(block, endpoint.host, target) : undefined;
  // The attempt may have ended while the files were read: open nothing after it.
  if (signal.aborted) throw signal.reason;
  return openClient(driver, endpoint, tls, target);
}

/**
 * An open connection and channel the core keeps between attempts: each probe is what a fresh
 * attempt asks once its channel is open, one round trip on the kept channel, with the attempt's
 * own byte budget. A channel the broker closes (no such queue) fails the probe as a fresh attempt
 * fails, and the core then closes the connection; a connection the broker closes while it idles
 * (an operator, a restart) shows as closed, and amqplib's events about it never reach the process.
 */
function keptConnection(client: Client, channel: AmqpChannel, queue: string | undefined, expiry: ExpiryOptions): KeptConnection {
  let isClosed = false;
  let isProbing = false;
  let closing: Promise<void> | undefined;
  // A channel the broker closes between attempts leaves nothing to probe on. One it closes as its
  // answer to a probe (no such queue) is that probe's failure, the connection still open: the core
  // closes it, with the closing handshake.
  channel.on('close', () => void (isClosed ||= !isProbing));
  return {
    isOpen: () => !isClosed && client.isOpen(),
    async probe({ signal }) {
      client.startAttempt();
      isProbing = true;
      try {
        // No race against the socket's end or the guard here: one per attempt would stay on them for
        // the connection's whole life. amqplib fails the call once the socket ends or fails.
        // On abort the core closes the connection (close below).
        return await untilAborted(
          signal,
          async () => {
            const days = client.secure ? socketExpiry(client.secure, expiry, client.target) : undefined;
            return { ...(await checkOn(channel, queue, 'kept')), ...days };
          },
          () => undefined,
        );
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const failure = client.explain(error, queue);
        if (!client.isOpen()) client.destroy();
        throw failure;
      } finally {
        isProbing = false;
      }
    },
    close() {
      isClosed = true;
      closing ??= client.end();
      return closing;
    },
  };
}

/** Where and as whom an AMQP URL connects. */
interface Endpoint {
  readonly scheme: 'amqp' | 'amqps';
  readonly host: string;
  readonly port: number;
  readonly vhost: string;
  readonly username: string;
  readonly password: string;
}

/**
 * Reads an AMQP URI as RabbitMQ defines it: the path is one percent-encoded vhost name (%2F for
 * "/"), user and password are percent-decoded, and both missing mean guest:guest. An empty path is
 * the default vhost "/", as client libraries take it.
 */
function parseUrl(url: string): Endpoint | { problem: string } {
  const parsed = new URL(url);
  const scheme = parsed.protocol === 'amqps:' ? 'amqps' : 'amqp';
  const path = parsed.pathname.slice(1);
  if (path.includes('/')) {
    return { problem: `names vhost path "${peerText(path)}": the path of an AMQP URL is one vhost name, with "/" written %2F (amqp://host/%2F is the vhost "/")` };
  }
  let vhost: string;
  let username: string;
  let password: string;
  try {
    vhost = path === '' ? '/' : decodeURIComponent(path);
    username = decodeURIComponent(parsed.username);
    password = decodeURIComponent(parsed.password);
  } catch {
    return { problem: 'has a malformed percent-encoding (% must be followed by two hex digits)' };
  }
  if (Buffer.byteLength(vhost) > MAX_SHORTSTR_BYTES) return { problem: `names a vhost longer than the ${MAX_SHORTSTR_BYTES} bytes AMQP allows` };
  const unknown = [...new Set(parsed.searchParams.keys())].filter((key) => !TUNING_PARAMS.includes(key));
  if (unknown.length > 0) {
    return { problem: `has query parameter${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(peerText(k))).join(', ')} that vigil does not support (it ignores only ${TUNING_PARAMS.join(', ')}: each attempt sets its own)` };
  }
  if (username === '' && password === '') {
    username = 'guest';
    password = 'guest';
  }
  return { scheme, host: parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost', port: parsed.port === '' ? DEFAULT_PORTS[scheme] : Number(parsed.port), vhost, username, password };
}

/** What the check uses of amqplib: its connection (framing, codec, handshake) and channel model. */
interface Driver {
  readonly Connection: new (stream: Duplex) => AmqpConnection;
  readonly ChannelModel: new (connection: AmqpConnection) => AmqpChannelModel;
  readonly credentials: typeof import('amqplib').credentials;
}

interface AmqpConnection {
  open(fields: Record<string, unknown>, callback: (error: Error | null) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

interface AmqpChannelModel {
  createChannel(): Promise<AmqpChannel>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): void;
}

interface AmqpChannel {
  checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
  prefetch(count: number): Promise<unknown>;
  on(event: 'error' | 'close', listener: (error?: Error) => void): void;
}

const requireHere = createRequire(import.meta.url);

/**
 * amqplib's connection and channel model, given the check's own socket. amqplib opens its sockets
 * itself (no hook between the connect and the first byte read, none at all for TLS), so the check
 * builds its connection the way amqplib's connect does, from the modules under its package main.
 */
function loadDriver(): Driver {
  const main = requireHere.resolve('amqplib');
  const driver = requireHere(main) as typeof import('amqplib');
  const within = createRequire(main);
  return {
    Connection: (within('./lib/connection.js') as Pick<Driver, 'Connection'>).Connection,
    ChannelModel: (within('./lib/channel_model.js') as Pick<Driver, 'ChannelModel'>).ChannelModel,
    credentials: driver.credentials,
  };
}

/** A reply-carrying close from the broker: connection.close or channel.close. */
interface BrokerClose {
  readonly scope: 'connection' | 'channel';
  readonly code: number;
  readonly text: string;
}

type Client = ReturnType<typeof openClient>;

/**
 * One attempt's connection, opening as soon as it is made: the handshake (no heartbeat, 4 KiB
 * frames, one channel) over a guarded socket whose frames are followed before amqplib parses them.
 * Kept apart from the probe and the close, so a connection can later outlive one attempt.
 */
function openClient(driver: Driver, endpoint: Endpoint, tls: import('node:tls').ConnectionOptions | undefined, target: string) {
  let close: BrokerClose | undefined;
  let isOpen = false;
  const socket = tls ? tlsConnect({ host: endpoint.host, port: endpoint.port, ...tls }) : netConnect({ host: endpoint.host, port: endpoint.port });
  const guard: SocketGuard = guardSocket(socket, {
    target,
    maxBytes: MAX_ATTEMPT_BYTES,
    inspect: createFrameInspector(target, (seen) => (close ??= seen)),
  });
  const connection = new driver.Connection(socket);
  // amqplib emits its errors as events as well as to callers; an 'error' without a listener throws.
  connection.on('error', ignore);
  const model = new driver.ChannelModel(connection);
  model.on('error', ignore);
  // amqplib leaves a close it initiated waiting forever when the socket ends instead of close-ok.
  const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const step = <T>(work: Promise<T>): Promise<T> => {
    // The socket's failure may win the race: the driver's own rejection is then nobody's concern.
    work.catch(ignore);
    const ended = socketClosed.then(() => Promise.reject(new CheckError('protocol', `${target} closed the connection`)));
    ended.catch(ignore);
    return Promise.race([work, guard.failed, ended]);
  };
  const opened = step(
    new Promise<void>((resolve, reject) => {
      connection.open(handshakeFields(driver, endpoint), (error) => {
        if (error) return reject(error);
        isOpen = true;
        resolve();
      });
    }),
  );
  opened.catch(ignore);

  let isEnded = false;
  socket.once('end', () => void (isEnded = true)).once('close', () => void (isEnded = true));

  return {
    target,
    opened,
    step,
    model,
    /** False once the broker closed the connection, the socket ended, or the guard failed it (a channel's close is the caller's to follow). */
    isOpen: () => isOpen && close?.scope !== 'connection' && !isEnded && !socket.destroyed && guard.failure() === undefined,
    /** A new attempt over a kept connection: its byte budget starts again. */
    startAttempt: () => guard.startAttempt(),
    /**
     * Closes as close() does, never rejecting: resolves once the broker answered or the socket
     * closed, or after CLOSE_GRACE_MS, destroying the socket then (a broker that does not answer).
     */
    end(): Promise<void> {
      if (socket.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
        const done = () => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        let closing: Promise<unknown>;
        try {
          closing = isOpen && close?.scope !== 'connection' && !isEnded ? Promise.race([model.close(), socketClosed]) : socketClosed;
        } catch {
          closing = socketClosed;
        }
        closing.then(done, done);
        if (!isOpen || close?.scope === 'connection' || isEnded) socket.destroy();
      });
    },
    /** The TLS socket of an amqps:// connection, for its certificate. */
    secure: tls ? (socket as TLSSocket) : undefined,
    /** Closes the connection with the broker's consent (connection.close, close-ok); a socket closed instead will do. */
    close: () => Promise.race([model.close(), socketClosed]),
    /** Ends the socket at once, whatever state the connection is in. */
    destroy: () => socket.destroy(),
    /** The attempt's failure in the operator's words: the broker's own close says most. */
    explain(error: unknown, queue: string | undefined): CheckError {
      const failure = guard.failure();
      if (failure) return failure;
      if (close) return fromBrokerClose(close, { target, vhost: endpoint.vhost, queue, isOpen });
      if (error instanceof CheckError) return error;
      const reason = reasonFromSocketError(error);
      if (reason) return new CheckError(reason, describeSocketError(error, target), { cause: error });
      const message = peerText((error as Error)?.message ?? String(error));
      if (!isOpen) return new CheckError('protocol', `${target} broke off the AMQP handshake: ${message}`, { cause: error });
      return new CheckError('unknown', `${target}: ${message}`, { cause: error });
    },
  };
}

/** What amqplib's Connection.open sends: the fields of start-ok, tune-ok and open. */
function handshakeFields(driver: Driver, endpoint: Endpoint): Record<string, unknown> {
  const credentials = driver.credentials.plain(endpoint.username, endpoint.password);
  return {
    clientProperties: {
      product: 'vigil',
      connection_name: 'vigil',
      // Without it a broker refusing the login only drops the connection, and the reason is lost.
      capabilities: { authentication_failure_close: true },
    },
    mechanism: credentials.mechanism,
    response: credentials.response(),
    locale: 'en_US',
    channelMax: 1,
    frameMax: FRAME_MAX,
    // 0 refuses the broker's heartbeat: no timer outlives the attempt.
    heartbeat: 0,
    maxFrameSize: FRAME_MAX,
    virtualHost: endpoint.vhost,
    capabilities: '',
    insist: 0,
  };
}

/** Opens the connection's one channel. */
async function openChannel(client: Client): Promise<AmqpChannel> {
  const channel = await client.model.createChannel();
  // A channel the broker closes (no such queue) reports it as an event as well as to the caller.
  channel.on('error', ignore);
  return channel;
}

/**
 * What an attempt asks once its channel is open: the queue, if any, checked passively (queue.declare
 * with passive set), with its counts. Without a queue a fresh attempt asks nothing more (its channel
 * opening was the broker's answer); on a kept channel, opened long ago, one basic.qos that changes
 * nothing (a prefetch of 0, the default: no limit) has the broker answer on it.
 */
async function checkOn(channel: AmqpChannel, queue: string | undefined, connection: 'fresh' | 'kept'): Promise<Observation | void> {
  if (queue === undefined) {
    if (connection === 'kept') await channel.prefetch(0);
    return;
  }
  const { messageCount, consumerCount } = await channel.checkQueue(queue);
  return { messages: messageCount, consumers: consumerCount };
}

/** A close from the broker, as a failure: the reply code says which. */
function fromBrokerClose(close: BrokerClose, at: { target: string; vhost: string; queue?: string; isOpen: boolean }): CheckError {
  const said = peerText(close.text);
  const { target, vhost, queue } = at;
  const where = `vhost ${JSON.stringify(vhost)}`;
  if (close.scope === 'channel' && queue !== undefined) {
    if (close.code === REPLY.notFound) return new CheckError('not_found', `${target} has no queue ${JSON.stringify(queue)} in ${where} (${said})`);
    if (close.code === REPLY.accessRefused) return new CheckError('auth', `${target} refused access to queue ${JSON.stringify(queue)} in ${where}: ${said}`);
  }
  switch (close.code) {
    case REPLY.accessRefused:
      return new CheckError('auth', `${target} refused the login: ${said}`);
    case REPLY.notAllowed:
      // RabbitMQ answers connection.open with NOT_ALLOWED both for a vhost it does not have and for
      // one the user may not use: only its text tells them apart.
      if (!at.isOpen && /not found/i.test(close.text)) return new CheckError('not_found', `${target} has no ${where} (${said})`);
      return new CheckError('auth', `${target} refused access to ${where}: ${said}`);
    case REPLY.connectionForced:
      return new CheckError('not_serving', `${target} closed the connection itself (shutting down, or closed by an operator): ${said}`);
    default: {
      const reason: FailureReason = close.code >= 500 && close.code < 541 ? 'protocol' : 'unknown';
      return new CheckError(reason, `${target} closed the ${close.scope} with ${close.code}: ${said}`);
    }
  }
}

/**
 * Follows the framing of what the broker sends (type, channel, size, payload, frame-end) before
 * amqplib reads it, and refuses a stream that is not AMQP 0-9-1 frames of at most FRAME_MAX bytes.
 * The broker's connection.close and channel.close are read on the way: amqplib keeps their reply
 * code from its caller when they answer the handshake.
 */
function createFrameInspector(target: string, onClose: (close: BrokerClose) => void): (chunk: Buffer) => void {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  let have = 0;
  let isFirst = true;
  /** The payload of the method frame being read (kept only for a method frame), and its end. */
  let payload: Buffer | undefined;
  let payloadHave = 0;
  let skip = 0;
  let expectEnd = false;
  let type = 0;
  return (chunk) => {
    let offset = 0;
    if (isFirst && chunk.length > 0) {
      isFirst = false;
      judgeOpening(chunk, target);
    }
    while (offset < chunk.length) {
      if (expectEnd) {
        if (chunk[offset] !== FRAME_END) throw new CheckError('protocol', `${target} sent a frame that does not end where its header says`);
        offset++;
        expectEnd = false;
        if (payload && type === 1) readClose(payload, onClose);
        payload = undefined;
        continue;
      }
      if (skip > 0 || payload) {
        const wanted = payload ? payload.length - payloadHave : skip;
        const taken = Math.min(wanted, chunk.length - offset);
        if (payload) chunk.copy(payload, payloadHave, offset, offset + taken);
        payloadHave += taken;
        if (!payload) skip -= taken;
        offset += taken;
        if ((payload && payloadHave === payload.length) || (!payload && skip === 0)) {
          expectEnd = true;
          if (!payload) payloadHave = 0;
        }
        continue;
      }
      const taken = Math.min(FRAME_HEADER_BYTES - have, chunk.length - offset);
      chunk.copy(header, have, offset, offset + taken);
      have += taken;
      offset += taken;
      if (have < FRAME_HEADER_BYTES) continue;
      have = 0;
      type = header[0]!;
      const size = header.readUInt32BE(3);
      if (type !== 1 && type !== 2 && type !== 3 && type !== 8) throw new CheckError('protocol', `${target} sent something that is not an AMQP 0-9-1 frame (type byte 0x${type.toString(16).padStart(2, '0')})`);
      if (size > FRAME_MAX - FRAME_HEADER_BYTES - 1) {
        throw new CheckError('protocol', `${target} declared a ${size}-byte frame, more than the ${formatBytes(FRAME_MAX)} frames the check agreed to`);
      }
      payloadHave = 0;
      if (size === 0) expectEnd = true;
      else if (type === 1) payload = Buffer.alloc(size);
      else skip = size;
    }
  };
}

/**
 * A broker that does not speak AMQP 0-9-1 answers the protocol header with its own and closes;
 * a TLS port answers with a TLS record.
 */
function judgeOpening(chunk: Buffer, target: string): void {
  if (chunk.subarray(0, 4).toString('latin1') === 'AMQP') {
    const version = chunk.length >= 8 ? ` (it offers ${chunk[4]}-${chunk[5]}-${chunk[6]}-${chunk[7]})` : '';
    throw new CheckError('protocol', `${target} does not speak AMQP 0-9-1${version}`);
  }
  if ((chunk[0] === 0x15 || chunk[0] === 0x16) && chunk[1] === 0x03) {
    throw new CheckError('tls', `${target} answered with TLS: is it an amqps:// port?`);
  }
}

/** Reports connection.close (class 10, method 50) and channel.close (20, 40) from a method frame. */
function readClose(payload: Buffer, onClose: (close: BrokerClose) => void): void {
  if (payload.length < 7) return;
  const classId = payload.readUInt16BE(0);
  const methodId = payload.readUInt16BE(2);
  const scope = classId === 10 && methodId === 50 ? 'connection' : classId === 20 && methodId === 40 ? 'channel' : undefined;
  if (!scope) return;
  const code = payload.readUInt16BE(4);
  const length = payload[6]!;
  onClose({ scope, code, text: payload.subarray(7, 7 + length).toString('utf8') });
}

function ignore(): void {
  // Each failure reaches the attempt through the promise it rejects; the event copy is not needed.
}
