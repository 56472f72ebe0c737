// mqtt: connect with `url` (mqtt:// or mqtts://) and wait for the broker's CONNACK; with
// roundTripTopic, subscribe to it, publish a probe message, wait for it to come back, unsubscribe;
// disconnect. One clean session per attempt, under a client id of its own, through a guarded socket.
// With `connection: persistent` the core keeps the connected session: each attempt does the same
// round trip over it, or, without roundTripTopic, a PINGREQ answered by a PINGRESP.
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { IClientOptions, MqttClient } from 'mqtt';
import { z } from 'zod';
import { defineCheck, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError, type FailureReason } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { formatBytes, guardSocket, MAX_ATTEMPT_BYTES } from './support/guarded-socket.js';
import { peerText } from './support/peer-text.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { describeUrlTarget, urlProblem } from './support/target.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { createFailureLatch } from './support/failure-latch.js';
import { tlsBlock, tlsConnectionOptions, type TlsBlock } from './support/tls.js';

const DEFAULT_PORTS = { mqtt: 1883, mqtts: 8883 } as const;
/** Every attempt's client id starts so, and a broker's client list or log shows whose it is. */
export const CLIENT_ID_PREFIX = 'vigil-';
/**
 * The share of the timeout after which a probe message the broker has acknowledged but not
 * delivered back counts as lost (`body`): the broker answers, so the failure is not a hang, and
 * saying so before the deadline tells the two apart.
 */
const ROUND_TRIP_SHARE = 0.9;
/** Most bytes one packet may declare; a larger one fails at its header. */
const MAX_PACKET_BYTES = MAX_ATTEMPT_BYTES;
/**
 * MQTT.js's own CONNACK timer must never beat the attempt's deadline, which says more (so must its
 * keepalive timeout, one and a half keepalives: the keepalive is at least the timeout).
 */
const CONNACK_TIMER_MARGIN_MS = 1000;
/** An MQTT DISCONNECT packet. */
const DISCONNECT = Buffer.from([0xe0, 0x00]);
/**
 * The keepalive of a kept session, in seconds. MQTT.js sends a PINGREQ only after that long without
 * a packet from the broker, so with a shorter interval the probes alone keep the session alive; a
 * broker drops a session whose vigil vanished (a crash) after one and a half of it.
 */
const KEPT_KEEPALIVE_S = 60;
/** How long closing a kept session may wait for its DISCONNECT to be written, before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export const mqtt = defineCheck({
  type: 'mqtt',
  componentType: 'component',
  options: {
    url: z
      .string()
      .regex(/^mqtts?:\/\//, { message: 'must be an mqtt:// or mqtts:// URL' })
      .superRefine((url, ctx) => {
        // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
        if (!/^mqtts?:\/\//.test(url)) return;
        const problem = urlProblem(url, ['mqtt', 'mqtts']) ?? extrasProblem(url);
        if (problem) ctx.addIssue({ code: 'custom', input: url, message: problem });
      })
      .describe('Broker URL, e.g. mqtt://vigil:${MQTT_PASSWORD}@broker:1883; mqtts:// for TLS (default port 8883).'),
    roundTripTopic: z
      .string()
      .superRefine((topic, ctx) => {
        const problem = topicProblem(topic);
        if (problem) ctx.addIssue({ code: 'custom', input: topic, message: problem });
      })
      .optional()
      .describe('Topic to subscribe to and publish a probe message on, which must come back before the timeout. Default none: connect only.'),
    tls: tlsBlock.optional().describe('TLS settings of an mqtts:// URL: CA, client certificate, server name.'),
    ...expiryOptions,
  },
  refine(options, ctx) {
    refineExpiry(options, ctx);
    if (options.tls && !options.url.startsWith('mqtts:')) {
      ctx.addIssue({ code: 'custom', path: ['url'], input: options.url, message: 'is plain mqtt://, and the tls block applies to mqtts:// URLs only' });
    }
  },
  schemes: ['mqtt', 'mqtts'],
  observations: EXPIRY_OBSERVATIONS,
  async prepare() {
    await loadDriver();
  },
  async run({ url, roundTripTopic, tls: block, warnBefore, failBefore }, { signal, timeoutMs }) {
    const startedAt = performance.now();
    const session = await startSession(url, block, { signal, timeoutMs });
    const lostAtMs = timeoutMs * ROUND_TRIP_SHARE;
    const lostTimer = roundTripTopic === undefined ? undefined : setTimeout(() => session.failIfUndelivered(lostAtMs), Math.max(0, lostAtMs - (performance.now() - startedAt)));
    try {
      return await untilAborted(
        signal,
        async () => {
          await session.connected;
          const expiry = await probe(session, { roundTripTopic, warnBefore, failBefore }, false);
          await session.close();
          return expiry;
        },
        () => session.destroy(),
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw session.explain(error);
    } finally {
      clearTimeout(lostTimer);
      session.destroy();
    }
  },
  session: {
    async open({ url, roundTripTopic, tls: block, warnBefore, failBefore }, { signal, timeoutMs }) {
      const session = await startSession(url, block, { signal, timeoutMs }, KEPT_KEEPALIVE_S);
      try {
        await untilAborted(signal, () => session.connected, () => session.destroy());
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const failure = session.explain(error);
        session.destroy();
        throw failure;
      }
      session.markIdle();
      return keptSession(session, { roundTripTopic, warnBefore, failBefore });
    },
  },
});

/** What a probe does and judges, over a fresh session or a kept one. */
interface ProbeOptions extends ExpiryOptions {
  readonly roundTripTopic?: string | undefined;
}

type Session = ReturnType<typeof openSession>;

/** Opens a session to `url` (not yet connected: see `connected`); nothing once the attempt has ended. */
async function startSession(url: string, block: TlsBlock | undefined, { signal, timeoutMs }: { signal: AbortSignal; timeoutMs: number }, keepaliveS?: number): Promise<Session> {
  // Loaded on first use: an agent without mqtt checks never pays for the driver.
  const { MqttClient: Client } = await loadDriver();
  const endpoint = parseEndpoint(url);
  const target = describeUrlTarget('mqtt', url, endpoint.port);
  const tls = endpoint.isSecure ? await tlsConnectionOptions(block, endpoint.host, target) : undefined;
  // The attempt may have ended while the TLS files were read: open nothing after it.
  if (signal.aborted) throw signal.reason;
  return openSession(Client, { endpoint, tls, target, timeoutMs, ...(keepaliveS === undefined ? {} : { keepaliveS }) });
}

/**
 * One probe on a connected session: the certificate's expiry over TLS, then the round trip through
 * roundTripTopic. Without one, a fresh attempt is done (its CONNACK was the broker's answer) and a
 * kept session (`ping`) sends a PINGREQ and waits for its PINGRESP.
 */
async function probe(session: Session, { roundTripTopic, warnBefore, failBefore }: ProbeOptions, ping: boolean): Promise<Observation | undefined> {
  // Read while the socket is open: Node forgets the peer's certificate once it closes.
  const expiry = session.secure ? socketExpiry(session.secure, { warnBefore, failBefore }, session.target) : undefined;
  if (roundTripTopic !== undefined) await session.roundTrip(roundTripTopic);
  else if (ping) await session.ping();
  return expiry;
}

/**
 * A connected session the core keeps between attempts: each probe is what a fresh attempt does
 * after its CONNACK (a PINGREQ where that is nothing), with the attempt's own byte budget. MQTT.js
 * never reconnects (reconnectPeriod 0): a session the broker closed is replaced by the core.
 */
function keptSession(session: Session, options: ProbeOptions): KeptConnection {
  let closing: Promise<void> | undefined;
  return {
    isOpen: session.isOpen,
    async probe({ signal, timeoutMs }) {
      session.startAttempt();
      const lostAtMs = timeoutMs * ROUND_TRIP_SHARE;
      const lostTimer = options.roundTripTopic === undefined ? undefined : setTimeout(() => session.failIfUndelivered(lostAtMs), lostAtMs);
      try {
        // On abort the core closes the session (close below), which ends whatever still waits.
        return await untilAborted(signal, () => probe(session, options, true), () => undefined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw session.explain(error);
      } finally {
        clearTimeout(lostTimer);
      }
    },
    close() {
      closing ??= closeKept(session);
      return closing;
    },
  };
}

/** A DISCONNECT, so that the broker ends the session at once; the socket destroyed after CLOSE_GRACE_MS at most. */
async function closeKept(session: Session): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
  try {
    await Promise.race([session.close(), grace]);
  } finally {
    clearTimeout(timer);
    session.destroy();
  }
}

/** The `debug` namespaces of MQTT.js and its packet library. */
const DRIVER_DEBUG = ['mqttjs:client', 'mqtt-packet:parser', 'mqtt-packet:writeToStream'];

/**
 * Loads MQTT.js with its debug output off whatever DEBUG says: mqtt-packet prints every string it
 * writes, the password of CONNECT among them, to stderr. Other namespaces stay as DEBUG set them.
 */
async function loadDriver(): Promise<typeof import('mqtt')> {
  const [driver, { default: debug }] = await Promise.all([import('mqtt'), import('debug')]);
  if (DRIVER_DEBUG.some((namespace) => debug.enabled(namespace))) debug.enable(`${debug.disable()},-mqttjs*,-mqtt-packet:*`);
  return driver;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly isSecure: boolean;
  readonly username?: string;
  readonly password?: string;
}

/** Where and as whom to connect, from a URL validation accepted. */
function parseEndpoint(url: string): Endpoint {
  const parsed = new URL(url);
  const isSecure = parsed.protocol === 'mqtts:';
  const hasCredentials = parsed.username !== '' || parsed.password !== '';
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: parsed.port === '' ? DEFAULT_PORTS[isSecure ? 'mqtts' : 'mqtt'] : Number(parsed.port),
    isSecure,
    ...(hasCredentials ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
  };
}

/** An MQTT connection has no path or parameters: what a URL carries there would be ignored. */
function extrasProblem(url: string): string | undefined {
  const parsed = new URL(url);
  if (parsed.pathname !== '' && parsed.pathname !== '/') {
    return `has a path (${JSON.stringify(parsed.pathname)}), which means nothing to an MQTT connection: the probe's topic is roundTripTopic`;
  }
  if (parsed.search !== '' || parsed.hash !== '') return 'has a query or fragment, which means nothing to an MQTT connection';
  return undefined;
}

/** What is wrong with a topic name vigil publishes to and subscribes to, or undefined. */
export function topicProblem(topic: string): string | undefined {
  if (topic === '') return 'must not be empty';
  if (/[+#]/.test(topic)) return 'holds a wildcard (+ or #): the probe is published to it, so it must name one topic';
  if (topic.startsWith('$')) return 'starts with $, which marks topics of the broker itself ($SYS): clients cannot publish there';
  if (topic.includes('\u0000')) return 'holds a NUL character';
  if (Buffer.byteLength(topic) > 0xffff) return 'is longer than the 65535 bytes an MQTT topic may have';
  return undefined;
}

/** A client for one attempt: MQTT 3.1.1, a clean session, no reconnection, no queueing, no debug output. */
export function clientOptions(timeoutMs: number, identity: { clientId: string; username?: string; password?: string }, keepaliveS?: number): IClientOptions {
  return {
    ...identity,
    protocolVersion: 4,
    clean: true,
    // The broker drops the session after 1.5 keepalives of silence: were vigil frozen mid-attempt,
    // its connection would not outlive the attempt by much. A kept session gives its own.
    keepalive: keepaliveS ?? Math.max(1, Math.ceil(timeoutMs / 1000)),
    reconnectPeriod: 0,
    connectTimeout: timeoutMs + CONNACK_TIMER_MARGIN_MS,
    resubscribe: false,
    queueQoSZero: false,
    timerVariant: 'native',
    // MQTT.js logs its options (the user name among them) to the `debug` module when DEBUG says so.
    log: () => undefined,
  };
}

/** A client id of its own per attempt: `vigil-` and 16 hex digits, 22 characters (3.1.1 servers must accept 23). */
export function newClientId(): string {
  return `${CLIENT_ID_PREFIX}${randomBytes(8).toString('hex')}`;
}

/** What the attempt was doing, for messages; `idle`: a kept session between attempts. */
type Phase = 'connect' | 'subscribe' | 'deliver' | 'unsubscribe' | 'ping' | 'idle' | 'disconnect';

interface SessionSettings {
  readonly endpoint: Endpoint;
  readonly tls?: ConnectionOptions;
  readonly target: string;
  readonly timeoutMs: number;
  /** The session's keepalive in seconds; default the timeout's. */
  readonly keepaliveS?: number;
}

/**
 * One connection to the broker: open (connect, CONNACK), probe (the round trip, or a ping), close
 * (DISCONNECT), as separate steps; a kept session probes many times. Every step fails with the
 * session's first failure: a socket error, a refusal, a packet the guard refused, the broker
 * closing the connection. Steps race that failure through a latch, which keeps nothing of a step
 * once it settled: a kept session serves thousands of them.
 */
function openSession(Client: typeof MqttClient, settings: SessionSettings) {
  const { endpoint, target } = settings;
  const clientId = newClientId();
  let phase: Phase = 'connect';
  let isClosing = false;
  let hasConnected = false;
  let isSecured = false;
  const latch = createFailureLatch<CheckError>();

  const socket: Socket = settings.tls ? tlsConnect({ host: endpoint.host, port: endpoint.port, ...settings.tls }) : netConnect({ host: endpoint.host, port: endpoint.port });
  // Small packets leave at once: the DISCONNECT right behind the UNSUBSCRIBE need not wait for an ACK.
  socket.setNoDelay(true);
  const fail = (error: CheckError) => {
    if (latch.failure()) return;
    latch.fail(error);
    socket.destroy();
  };
  socket.once('connect', () => (hasConnected = true));
  socket.once('secureConnect', () => (isSecured = true));
  // MQTT.js reads and writes through the guarded socket: whatever its parser would choke on, and
  // more than one attempt may read, ends this attempt with `protocol`.
  const guard = guardSocket(socket, { target, inspect: createFrameInspector(target) });
  socket.on('error', (error) => fail(translate(error, target, phase, settings.tls !== undefined && hasConnected && !isSecured)));
  socket.on('close', () => {
    if (!isClosing) fail(closedEarly(target, phase, settings.tls !== undefined && !isSecured));
  });

  const client = new Client(() => socket as never, clientOptions(settings.timeoutMs, { clientId, username: endpoint.username, password: endpoint.password }, settings.keepaliveS));
  // A refused CONNACK, a parser error, MQTT.js's own timers: an `error` event, never thrown.
  client.on('error', (error) => fail(translate(error, target, phase, false)));
  const connected = new Promise<void>((resolve) => client.once('connect', () => resolve()));
  // The PINGRESP a ping step waits for (one listener for the session's life).
  let pinged: (() => void) | undefined;
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'pingresp') pinged?.();
  });

  /** Waits for `work` or the session's failure, whichever comes first. */
  const step = <T>(work: Promise<T>): Promise<T> => latch.race(work);
  let probeTopic = '';
  let isAcknowledged = false;
  /** Round trips so far: the probe message of each is its own. */
  let rounds = 0;

  return {
    connected: step(connected),
    target,
    /** The TLS socket of an mqtts:// session, for its certificate. */
    secure: settings.tls ? (socket as TLSSocket) : undefined,
    /** The session's first failure, or `error` (what a step rejected with) in the words of the step. */
    explain: (error: unknown): CheckError => latch.failure() ?? translate(error, target, phase, false),
    /** Connected, and neither failed nor closed since. */
    isOpen: () => !isClosing && latch.failure() === undefined && !socket.destroyed && client.connected,
    /** A new attempt over a kept session: its byte budget starts again. */
    startAttempt: () => guard.startAttempt(),
    /** A kept session, connected, waits for its first attempt: a close now is not one before CONNACK. */
    markIdle: () => void (phase = 'idle'),

    /**
     * Subscribes to `topic` and waits for the SUBACK, publishes a probe there at QoS 1 and waits for
     * it to come back, unsubscribes. The acknowledgements of the publish and the unsubscribe are not
     * awaited: Mosquitto (without set_tcp_nodelay) holds a second small packet until the first is
     * acknowledged, which costs a delayed ACK (40 ms) each, and the DISCONNECT that follows ends the
     * session in any case.
     */
    async roundTrip(topic: string): Promise<void> {
      probeTopic = topic;
      const round = ++rounds;
      isAcknowledged = false;
      const payload = Buffer.from(`vigil probe ${clientId} ${round}`);
      let delivered!: () => void;
      const isDelivered = new Promise<void>((resolve) => (delivered = resolve));
      // Other agents' probes on the same topic, an earlier round's, and a retained message, are not this one.
      const onMessage = (received: string, message: Buffer) => {
        if (received === topic && message.equals(payload)) delivered();
      };
      client.on('message', onMessage);
      try {
        phase = 'subscribe';
        await step(client.subscribeAsync(topic, { qos: 0 }));
        phase = 'deliver';
        client.publish(topic, payload, { qos: 1, retain: false }, (error) => {
          if (!error && round === rounds) isAcknowledged = true;
        });
        await step(isDelivered);
        phase = 'unsubscribe';
        client.unsubscribe(topic);
      } finally {
        client.off('message', onMessage);
      }
      phase = 'idle';
    },

    /**
     * A PINGREQ, answered by a PINGRESP: the broker's MQTT service answering on a kept session,
     * without publishing anything. A PINGRESP to MQTT.js's own keepalive PINGREQ, arriving while this
     * one waits, is taken for the answer as well: the broker answered either way.
     */
    async ping(): Promise<void> {
      phase = 'ping';
      try {
        const answered = new Promise<void>((resolve) => (pinged = resolve));
        client.sendPing();
        await step(answered);
      } finally {
        pinged = undefined;
      }
      phase = 'idle';
    },

    /** Called when the share of the timeout for the round trip has passed. */
    failIfUndelivered(waitedMs: number): void {
      // Unacknowledged too, the broker has stopped answering: the deadline reports that.
      if (phase !== 'deliver' || !isAcknowledged) return;
      fail(
        new CheckError(
          'body',
          `${target} acknowledged the probe message published to "${peerText(probeTopic)}" but did not deliver it back within ${Math.round(waitedMs)} ms of the attempt's start: may vigil's user both publish and subscribe to that topic (an ACL drops what it denies without a word)?`,
        ),
      );
    },

    /** Sends DISCONNECT after whatever is queued and ends the connection; settles once that is written (never rejects). */
    async close(): Promise<void> {
      phase = 'disconnect';
      isClosing = true;
      if (socket.destroyed) return;
      const ended = new Promise<void>((resolve) => {
        socket.once('finish', resolve).once('close', resolve).once('error', () => resolve());
      });
      // Written here rather than by MQTT.js's end(), which waits for every acknowledgement first.
      socket.end(DISCONNECT);
      await ended;
    },

    /** Ends the connection at once, whatever its state. */
    destroy(): void {
      isClosing = true;
      client.end(true);
      socket.destroy();
      // Whatever step still waits (a probe the core gave up) ends now.
      latch.fail(new CheckError('unknown', `${target}: the session was closed by vigil`));
    },
  };
}

const PACKET_NAMES = ['reserved type 0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'reserved type 15'];
const CONNACK = 2;
const PUBLISH = 3;
/** What a broker may send an MQTT 3.1.1 client that publishes at QoS 1 and subscribes at QoS 0, and each packet's exact remaining length (-1: any). */
const EXPECTED_LENGTHS = new Map([
  [CONNACK, 2],
  [PUBLISH, -1],
  [4, 2], // PUBACK
  [9, 3], // SUBACK: a packet id and one return code for vigil's one topic
  [11, 2], // UNSUBACK
  [13, 0], // PINGRESP
]);

/**
 * Follows the framing of what the broker sends (a type-and-flags byte, a remaining length of one
 * to four bytes, the rest) and refuses, before MQTT.js's parser buffers or reads anything: a first
 * packet other than CONNACK, a packet a broker never sends this client, a length that cannot be or
 * more than MAX_PACKET_BYTES (a 256 MB PUBLISH fails at its header), a message at a QoS that the
 * subscription did not ask for.
 */
function createFrameInspector(target: string): (chunk: Buffer) => void {
  let state: 'header' | 'length' | 'body' = 'header';
  let type = 0;
  let length = 0;
  let lengthBytes = 0;
  let remaining = 0;
  let hasConnack = false;

  const header = (byte: number) => {
    type = byte >> 4;
    const flags = byte & 0x0f;
    if (!hasConnack && type !== CONNACK) {
      throw new CheckError('protocol', `${target} does not speak MQTT: a broker answers CONNECT with CONNACK, and its first byte was 0x${byte.toString(16).padStart(2, '0')}`);
    }
    if (type === CONNACK && hasConnack) throw new CheckError('protocol', `${target} sent a second CONNACK on one connection`);
    if (!EXPECTED_LENGTHS.has(type)) throw new CheckError('protocol', `${target} sent a ${PACKET_NAMES[type]} packet, which a broker never sends this client`);
    if (type === PUBLISH) {
      const qos = (flags >> 1) & 0x03;
      if (qos !== 0) throw new CheckError('protocol', `${target} delivered a message at QoS ${qos} on a subscription at QoS 0`);
    } else if (flags !== 0) {
      throw new CheckError('protocol', `${target} sent a ${PACKET_NAMES[type]} with reserved flags set (0x${flags.toString(16)})`);
    }
    if (type === CONNACK) hasConnack = true;
  };

  const lengthDone = () => {
    const expected = EXPECTED_LENGTHS.get(type)!;
    if (length > MAX_PACKET_BYTES) {
      throw new CheckError('protocol', `${target} declared a ${length}-byte ${PACKET_NAMES[type]}, more than the ${formatBytes(MAX_PACKET_BYTES)} one attempt reads`);
    }
    if (expected !== -1 && length !== expected) throw new CheckError('protocol', `${target} sent a malformed ${PACKET_NAMES[type]} (remaining length ${length}, expected ${expected})`);
    if (type === PUBLISH && length < 2) throw new CheckError('protocol', `${target} sent a malformed PUBLISH (remaining length ${length})`);
  };

  return (chunk) => {
    for (let i = 0; i < chunk.length; ) {
      if (state === 'header') {
        header(chunk[i++]!);
        state = 'length';
        length = 0;
        lengthBytes = 0;
      } else if (state === 'length') {
        const byte = chunk[i++]!;
        length += (byte & 0x7f) * 128 ** lengthBytes;
        lengthBytes++;
        if (byte & 0x80) {
          if (lengthBytes === 4) throw new CheckError('protocol', `${target} sent a remaining length longer than the four bytes MQTT allows`);
          continue;
        }
        lengthDone();
        remaining = length;
        state = remaining === 0 ? 'header' : 'body';
      } else {
        const skipped = Math.min(remaining, chunk.length - i);
        remaining -= skipped;
        i += skipped;
        if (remaining === 0) state = 'header';
      }
    }
  };
}

/** CONNACK return codes of MQTT 3.1.1 other than 0 (accepted). */
const CONNACK_REFUSALS: ReadonlyMap<number, readonly [FailureReason, string]> = new Map([
  [1, ['protocol', 'unacceptable protocol version: the broker does not speak MQTT 3.1.1']],
  [2, ['auth', `identifier rejected: the broker does not accept the client id (${CLIENT_ID_PREFIX} and 16 hex digits)`]],
  [3, ['not_serving', 'server unavailable: the broker is up, its MQTT service is not']],
  [4, ['auth', 'bad user name or password']],
  [5, ['auth', 'not authorized']],
] as const);

/** Words for what the attempt was doing, after "closed the connection". */
const DURING: Record<Phase, string> = {
  connect: 'before its CONNACK (a broker at its max_connections, or refusing this client, does so)',
  subscribe: 'instead of answering the SUBSCRIBE',
  deliver: 'before delivering the probe message back',
  unsubscribe: 'instead of answering the UNSUBSCRIBE',
  ping: 'instead of answering the PINGREQ',
  idle: 'between attempts',
  disconnect: 'while vigil disconnected',
};

function closedEarly(target: string, phase: Phase, isTlsPending: boolean): CheckError {
  if (isTlsPending) return new CheckError('tls', `TLS handshake with ${target} failed: the broker closed the connection (does it speak TLS on that port?)`);
  return new CheckError('protocol', `${target} closed the connection ${DURING[phase]}`);
}

/** A socket, MQTT.js or broker error as a failure of the attempt. */
function translate(error: unknown, target: string, phase: Phase, isTlsPending: boolean): CheckError {
  if (error instanceof CheckError) return error;
  const socketReason = reasonFromSocketError(error);
  if (socketReason && isTlsPending && socketReason !== 'tls') {
    return new CheckError('tls', `TLS handshake with ${target} failed: ${(error as Error).message} (does the broker speak TLS on that port?)`, { cause: error });
  }
  // ECONNRESET, EPIPE: the broker closed the connection, said as the phase it came in.
  if (socketReason === 'protocol') return new CheckError('protocol', `${target} reset the connection ${DURING[phase]}`, { cause: error });
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = peerText((error as Error)?.message ?? String(error));
  const code = (error as { code?: unknown } | null)?.code;
  if (phase === 'connect' && typeof code === 'number') {
    const [reason, words] = CONNACK_REFUSALS.get(code) ?? ['protocol', 'a return code MQTT 3.1.1 does not define'];
    return new CheckError(reason, `${target} refused the connection (CONNACK return code ${code}: ${words})`, { cause: error });
  }
  if (phase === 'subscribe' && /^Subscribe error/.test(message)) {
    return new CheckError('auth', `${target} refused the subscription to the probe's topic (SUBACK 0x80): may vigil's user subscribe to it?`, { cause: error });
  }
  return new CheckError('protocol', `${target} broke the MQTT protocol: ${message}`, { cause: error });
}
