// postgres: open a fresh connection with `url`, run `query` (default SELECT 1) in a transaction that
// bounds it with SET LOCAL statement_timeout, and in the same round trip read the server's role
// (primary or replica) and a replica's replay lag, close; with `expect`, the first column of the
// query's first row is judged. A fresh connection per attempt is what an application's new
// connection would meet (auth, max_connections, a full disk at backend start).
// With `connection: persistent` the core keeps the logged-in connection (session) and asks for the
// same probe over it on each attempt.
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { defineCheck, type CheckContext, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { comparisonOf, judge, queryExpectOption, showComparison, type Scalar } from './support/condition.js';
import { ConnectableStream } from './support/connectable-stream.js';
import { formatBytes, guardSocket, MAX_ATTEMPT_BYTES, type SocketGuard } from './support/guarded-socket.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { describeUrlTarget, urlProblem } from './support/target.js';
import { readPemFiles } from './support/tls.js';

/** Most bytes one backend message may declare; a larger one fails at its header. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
const APPLICATION_NAME = 'vigil';

/** libpq's sslmode values, weakest first. */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type SslMode = (typeof SSL_MODES)[number];
/** libpq's default, and so vigil's. */
const DEFAULT_SSL_MODE: SslMode = 'prefer';

const options = {
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
    .superRefine((url, ctx) => {
      // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
      if (!/^postgres(ql)?:\/\//.test(url)) return;
      const problem = urlProblem(url, ['postgres', 'postgresql']);
      if (problem) return void ctx.addIssue({ code: 'custom', input: url, message: problem });
      const parsed = parseUrl(url);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', input: parsed.input, message: parsed.problem });
    })
    .describe(
      'Connection URL, e.g. postgres://app:${PG_PASSWORD}@db:5432/app?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem. ' +
        'sslmode as libpq: disable, allow, prefer (default), require, verify-ca, verify-full.',
    ),
  query: z.string().min(1).optional().describe('Query to run, inside a transaction. Default SELECT 1.'),
  expect: queryExpectOption(
    'What the first column of the query\'s first row must be: true, false, a number, or a comparison such as "< 30" or \'== "primary"\'. ' +
      'No rows fails. With a query of several statements, the last one\'s result.',
  ),
  role: z
    .boolean()
    .optional()
    .describe("Read the server's role and a replica's replay lag after the query, in the same round trip. Default true; false for a server that speaks the protocol without pg_is_in_recovery()."),
  ...expiryOptions,
};

export const postgres = defineCheck({
  type: 'postgres',
  componentType: 'datastore',
  options,
  refine: refineExpiry,
  schemes: ['postgres', 'postgresql'],
  observations: { replicationLagSeconds: 's', ...EXPIRY_OBSERVATIONS },
  // postgres://app@db/orders: the role, logging in by trust, peer or certificate.
  urlUserIsIdentity: true,
  async prepare() {
    await import('pg');
  },
  async run(opts, ctx) {
    const sockets: ConnectableStream[] = [];
    const probe = probeSettings(opts);
    let outcome: ProbeOutcome | undefined;
    try {
      ({ outcome } = await establish(opts.url, probe, ctx, sockets, false));
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    return verdict(outcome!, probe);
  },
  session: {
    async open(opts, ctx, abandoned) {
      const sockets: ConnectableStream[] = [];
      const probe = probeSettings(opts);
      try {
        const { leg } = await establish(opts.url, probe, ctx, sockets, true, (socket) => abandoned(endGracefully(socket)));
        // A fallback's first connection failed and is done with: only the last one is kept.
        for (const socket of sockets) if (socket !== leg.socket) socket.destroy();
        return keptConnection(leg, probe);
      } catch (error) {
        // Aborted: the sockets still open are ending gracefully (abandoned above).
        if (!ctx.signal.aborted) for (const socket of sockets) socket.destroy();
        throw error;
      }
    },
  },
});

type PostgresOptions = z.output<z.ZodObject<typeof options>>;

/** What a probe asks and judges, over a fresh connection or a kept one. */
interface ProbeSettings {
  readonly query: string;
  /** Whether the probe reads the server's role and a replica's lag (ROLE_QUERY). */
  readonly role: boolean;
  readonly expect?: boolean | number | string;
  /** warnBefore/failBefore of the server's certificate, where the connection is encrypted. */
  readonly expiry: ExpiryOptions;
  readonly target: string;
}

function probeSettings({ url, query = 'SELECT 1', role = true, expect, warnBefore, failBefore }: PostgresOptions): ProbeSettings {
  return { query, role, ...(expect === undefined ? {} : { expect }), expiry: { warnBefore, failBefore }, target: describeUrlTarget('postgres', url, 5432) };
}

/** What a probe read: the query's result and the observations (role, lag, certificate). */
interface ProbeOutcome {
  readonly result: QueryResult;
  readonly observation: Observation;
}

/** The attempt's answer: `expect` judged against the query's result; the observations when it holds. */
function verdict({ result, observation }: ProbeOutcome, { expect, target }: ProbeSettings): Observation {
  if (expect !== undefined) {
    const comparison = comparisonOf(expect);
    if (!result.hasRow) throw new CheckError('assertion', `${target}: the query returned no rows, expected a first column ${showComparison(comparison)}`);
    const why = judge(result.value, comparison);
    if (why !== undefined) throw new CheckError('assertion', `${target}: the query's first column ${showComparison(comparison)} fails: it ${why}`);
  }
  return observation;
}

/**
 * Connects as libpq would (TLS as sslmode says, with its fallbacks, each a connection of its own)
 * and logs in; unless `keep`, runs the probe and closes. Resolves with the leg that succeeded;
 * every socket opened is pushed to `sockets` for the caller to destroy. With `abandon`, a socket
 * still open when the attempt aborts is handed to it rather than destroyed.
 */
async function establish(
  url: string,
  probeWith: ProbeSettings,
  { signal, timeoutMs }: CheckContext,
  sockets: ConnectableStream[],
  keep: boolean,
  abandon: (socket: ConnectableStream) => void = (socket) => socket.destroy(),
): Promise<Established> {
  const deadline = Date.now() + timeoutMs;
  // Loaded on first use: an agent without postgres checks never pays for the driver.
  const { default: pg } = await import('pg');
  const target = describeUrlTarget('postgres', url, 5432);
  // Validation guarantees the URL parses.
  const { connectionString, ssl } = parseUrl(url) as ParsedUrl;
  const probe = async (): Promise<Established> => {
    const material = ssl.mode === 'disable' ? {} : await readTlsFiles(ssl, target);
    let budget = MAX_ATTEMPT_BYTES;
    const session = async (encryption: Encryption) => {
      // The attempt may have ended while the files were read: open nothing after it.
      if (signal.aborted) throw signal.reason;
      const leg = openSession(pg.Client, { connectionString, encryption, ssl, material, target, maxBytes: budget, probe: probeWith, deadline, keep });
      sockets.push(leg.socket);
      const outcome = await leg.done.finally(() => (budget -= leg.guard.bytesReceived()));
      return { leg, outcome };
    };
    const first = await session(FIRST_LEG[ssl.mode]);
    if (first.outcome.ok) return { leg: first.leg, outcome: first.outcome.outcome };
    // libpq's fallbacks, each a second connection: allow retries with TLS when the server refused
    // the plain login; prefer retries in plain when TLS failed or the server refused the TLS login.
    const failed = first.outcome;
    const retry = (ssl.mode === 'allow' && failed.refusedLogin) || (ssl.mode === 'prefer' && failed.acceptedTls && (failed.refusedLogin || failed.error.reason === 'tls'));
    if (!retry) throw failed.error;
    const second = await session(ssl.mode === 'allow' ? 'on' : 'off');
    if (!second.outcome.ok) throw second.outcome.error;
    return { leg: second.leg, outcome: second.outcome.outcome };
  };
  return untilAborted(signal, probe, () => sockets.forEach((socket) => (socket.destroyed ? undefined : abandon(socket))));
}

/** The connection that succeeded and, unless kept, what its probe read. */
interface Established {
  readonly leg: Session;
  readonly outcome?: ProbeOutcome;
}

/**
 * A logged-in connection the core keeps between attempts: each probe is the fresh attempt's query,
 * one round trip, with the attempt's own deadline and byte budget. Whatever the server sends while
 * it idles (a termination notice before a restart) marks it closed and never reaches the process.
 */
function keptConnection(leg: Session, probe: ProbeSettings): KeptConnection {
  const { target } = probe;
  let isClosed = false;
  let isProbing = false;
  let closing: Promise<void> | undefined;
  const markClosed = () => void (isClosed = true);
  leg.socket.once('close', markClosed);
  // The session's own listener already keeps the driver's 'error' events from the process.
  leg.client.on('error', markClosed).on('end', markClosed);
  return {
    isOpen: () => !isClosed && !leg.socket.destroyed,
    async probe({ signal, timeoutMs }) {
      const deadline = Date.now() + timeoutMs;
      leg.guard.startAttempt();
      isProbing = true;
      let outcome: ProbeOutcome;
      try {
        // No race against the guard's promise here: a race per attempt would leave a reaction on it
        // for the connection's whole life. A guard's failure destroys the socket, which fails the query.
        // On abort the core closes the connection (close below).
        outcome = await untilAborted(signal, () => runProbe(leg.client, leg.secure(), probe, deadline, (work) => work), () => undefined);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        leg.socket.destroy();
        throw leg.guard.failure() ?? translate(error, target, 'query');
      } finally {
        isProbing = false;
      }
      return verdict(outcome, probe);
    },
    close() {
      isClosed = true;
      closing ??= closeGracefully(leg, isProbing);
      return closing;
    },
  };
}

/** How long a kept connection's server may take to end its session once told to, before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Ends a kept connection's server session now: a statement still running (the attempt timed out)
 * is cancelled as libpq's PQcancel does, and the session told to terminate. A backend whose client
 * merely vanished would run its statement on until the server's own statement timeout, holding a
 * connection slot beside the replacement. Resolves once the server closed the connection, or the
 * grace ran out and the socket was destroyed.
 */
function closeGracefully(leg: Session, isProbing: boolean): Promise<void> {
  const { socket, client } = leg;
  const { processID, secretKey } = client as unknown as { processID: number | null; secretKey: number | null };
  if (!socket.destroyed && isProbing && processID !== null && secretKey !== null) sendCancel(leg.where(), processID, secretKey);
  // Terminate ('X'), then the end of the stream: the backend exits when it reads them. (The driver's
  // own end() destroys the socket while a query runs, leaving the backend to its statement.)
  return endGracefully(socket, TERMINATE);
}

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

/**
 * Ends a socket and resolves once the server closed its side too (its backend has exited), or
 * after CLOSE_GRACE_MS, destroying it then. A connection given up while logging in ends this way:
 * its backend exits when it reads the end, before a replacement is opened.
 */
function endGracefully(socket: ConnectableStream, last?: Buffer): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // Before the connection opened there is nothing to say: the bytes would only fail the write.
    if (last && socket.writable && !socket.writableEnded) socket.end(last);
    else socket.end();
  });
}

/** A CancelRequest on a connection of its own (no TLS, no login: the server reads the key and closes it). */
function sendCancel(where: readonly unknown[], processID: number, secretKey: number): void {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const path = typeof where[0] === 'string' ? where[0] : undefined;
  const socket = path !== undefined ? connect({ path }) : connect({ port: Number(where[0]), host: String(where[1] ?? 'localhost') });
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  socket.on('error', () => undefined);
  socket.once('close', () => clearTimeout(timer));
  socket.once('connect', () => socket.end(packet));
  socket.resume();
}

/** The first column of the first row of the query's result (of its last statement). */
interface QueryResult {
  readonly hasRow: boolean;
  readonly value?: Scalar;
}

/** Every column as the server's text: the check converts the first one itself (readResult). */
const RAW_TYPES = { getTypeParser: () => (text: string) => text };

/** PostgreSQL type OIDs read as numbers: int8, int2, int4, oid, float4, float8, numeric. */
const NUMERIC_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700]);
const BOOLEAN_TYPE = 16;

/**
 * The query's own result out of the probe's (BEGIN; SET LOCAL; query; COMMIT): the one before
 * COMMIT, the result of the query's last statement. Booleans and numbers become JSON's; other
 * types stay the server's text (an interval as '00:00:05', a timestamp as written).
 */
function readResult(results: unknown, withRole: boolean): QueryResult {
  const all = (Array.isArray(results) ? results : [results]) as { rows: (string | null)[][]; fields: { dataTypeID: number }[] }[];
  // The results end with COMMIT's, and before it ROLE_QUERY's when the role is read.
  const own = all[all.length - (withRole ? 3 : 2)];
  const row = own?.rows[0];
  if (!own || !row || own.fields.length === 0) return { hasRow: false };
  const text = row[0] ?? null;
  const type = own.fields[0]!.dataTypeID;
  if (text === null) return { hasRow: true, value: null };
  if (type === BOOLEAN_TYPE) return { hasRow: true, value: text === 't' };
  if (NUMERIC_TYPES.has(type)) return { hasRow: true, value: Number(text) };
  return { hasRow: true, value: text };
}

/** How a connection negotiates encryption: never, if the server offers it, or always. */
type Encryption = 'off' | 'try' | 'on';
const FIRST_LEG: Record<SslMode, Encryption> = {
  disable: 'off',
  allow: 'off',
  prefer: 'try',
  require: 'on',
  'verify-ca': 'on',
  'verify-full': 'on',
};

interface SslSettings {
  readonly mode: SslMode;
  readonly rootCert?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly password?: string;
}

interface ParsedUrl {
  /** The URL without its TLS parameters: vigil negotiates TLS itself, node-postgres never sees them. */
  readonly connectionString: string;
  readonly ssl: SslSettings;
}

/** Query parameters about TLS, libpq's and node-postgres's spellings. */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslpassword', 'ssl', 'uselibpqcompat', 'sslnegotiation'];

/** Splits a URL into what node-postgres gets and the TLS settings, or says what is wrong with them. */
function parseUrl(url: string): ParsedUrl | { problem: string; input: string } {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const get = (name: string) => params.get(name) ?? undefined;
  let mode = get('sslmode');
  const legacy = get('ssl');
  if (legacy !== undefined) {
    // node-postgres's own switch: true meant TLS verified like verify-full.
    if (mode !== undefined) return { problem: 'sets both ssl and sslmode: use sslmode alone', input: `ssl=${legacy}` };
    if (legacy === 'true' || legacy === '1') mode = 'verify-full';
    else if (legacy === 'false' || legacy === '0') mode = 'disable';
    else return { problem: 'is not a known value of ssl: use sslmode', input: `ssl=${legacy}` };
  }
  // node-postgres's name for encryption without verification.
  if (mode === 'no-verify') mode = 'require';
  mode ??= DEFAULT_SSL_MODE;
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    return { problem: `is not a known sslmode (one of ${SSL_MODES.join(', ')})`, input: `sslmode=${mode}` };
  }
  const negotiation = get('sslnegotiation');
  if (negotiation !== undefined && negotiation !== 'postgres') {
    return { problem: 'is not supported: vigil negotiates TLS the traditional way (sslnegotiation=postgres)', input: `sslnegotiation=${negotiation}` };
  }
  const cert = get('sslcert');
  const key = get('sslkey');
  if ((cert === undefined) !== (key === undefined)) {
    return cert === undefined ? { problem: 'needs sslcert as well', input: `sslkey=${key}` } : { problem: 'needs sslkey as well', input: `sslcert=${cert}` };
  }
  const ssl: SslSettings = { mode: mode as SslMode, rootCert: get('sslrootcert'), cert, key, password: get('sslpassword') };
  for (const name of TLS_PARAMS) params.delete(name);
  const rest = params.toString();
  const base = at === -1 ? url : url.slice(0, at);
  return { connectionString: rest === '' ? base : `${base}?${rest}`, ssl };
}

interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** Read at every attempt, so a rotated certificate applies at the next one. */
async function readTlsFiles(ssl: SslSettings, target: string): Promise<TlsMaterial> {
  // sslrootcert=system: the trusted roots Node ships, as when no sslrootcert is given.
  const rootCert = ssl.rootCert === 'system' ? undefined : ssl.rootCert;
  const files = await readPemFiles({ sslrootcert: rootCert, sslcert: ssl.cert, sslkey: ssl.key }, target);
  return { ca: files.sslrootcert, cert: files.sslcert, key: files.sslkey };
}

interface SessionSettings {
  readonly connectionString: string;
  readonly encryption: Encryption;
  readonly ssl: SslSettings;
  readonly material: TlsMaterial;
  readonly target: string;
  readonly maxBytes: number;
  readonly probe: ProbeSettings;
  /** When the attempt ends, epoch ms: the server-side statement timeout ends there too. */
  readonly deadline: number;
  /** Log in only, and leave the connection open for the core to keep (connection: persistent). */
  readonly keep: boolean;
}

type SessionOutcome =
  | { readonly ok: true; readonly outcome?: ProbeOutcome }
  | {
      readonly ok: false;
      readonly error: CheckError;
      /** The server answered the login with an error (SQLSTATE): libpq's fallbacks retry then. */
      readonly refusedLogin: boolean;
      /** The server agreed to TLS. */
      readonly acceptedTls: boolean;
    };

type ClientClass = typeof import('pg').Client;
type PgClient = InstanceType<ClientClass>;
/** Races a driver's promise against the socket guard's failure. */
type Step = <T>(work: Promise<T>) => Promise<T>;

/** One connection and how its steps are raced against its guard. */
interface Session {
  readonly socket: ConnectableStream;
  readonly guard: SocketGuard;
  readonly client: PgClient;
  /** Where node-postgres asked the socket to connect: (port, host) or (path). */
  readonly where: () => readonly unknown[];
  /** The TLS socket, when the server accepted TLS: its certificate's dates are observed. */
  readonly secure: () => TLSSocket | undefined;
  readonly done: Promise<SessionOutcome>;
}

/**
 * One connection: connect (negotiating TLS as told), log in, run the probe, close (or, with
 * `keep`, log in and stay open). Never rejects.
 */
function openSession(Client: ClientClass, settings: SessionSettings): Session {
  const { target } = settings;
  let acceptedTls = false;
  let secure: TLSSocket | undefined;
  const socket = new ConnectableStream({
    open: (args, signal) => {
      where = args;
      return openTransport(args, settings, signal, () => {
        acceptedTls = true;
      }).then((transport) => {
        if (acceptedTls) secure = transport as TLSSocket;
        return transport;
      });
    },
  });
  let where: readonly unknown[] = [];
  // Whatever the driver's parser throws, and more bytes than the attempt may read, fail this session.
  const guard = guardSocket(socket, { target, maxBytes: settings.maxBytes, inspect: createFrameInspector(target) });
  const client = new Client({
    connectionString: settings.connectionString,
    application_name: APPLICATION_NAME,
    // TLS is negotiated underneath, in openTransport: node-postgres talks through the guarded socket.
    ssl: false,
    stream: () => socket,
  });
  // The driver re-emits socket errors here; the session's promises report them.
  client.on('error', () => undefined);
  const step: Step = <T>(work: Promise<T>): Promise<T> => {
    // The socket's failure may win the race: the driver's own rejection is then nobody's concern.
    work.catch(() => undefined);
    return Promise.race([work, guard.failed]);
  };
  let loggedIn = false;
  const done = (async (): Promise<SessionOutcome> => {
    try {
      await step(client.connect());
      loggedIn = true;
      if (settings.keep) return { ok: true };
      const outcome = await runProbe(client, secure, settings.probe, settings.deadline, step);
      await step(client.end());
      return { ok: true, outcome };
    } catch (error) {
      socket.destroy();
      const refusedLogin = !loggedIn && typeof (error as { code?: unknown }).code === 'string' && SQLSTATE.test((error as { code: string }).code);
      return { ok: false, error: guard.failure() ?? translate(error, target, loggedIn ? 'query' : 'login'), refusedLogin, acceptedTls };
    }
  })();
  return { socket, guard, client, done, where: () => where, secure: () => secure };
}

/** The probe over a logged-in connection, fresh or kept: one round trip, then what it read. */
async function runProbe(client: PgClient, secure: TLSSocket | undefined, probe: ProbeSettings, deadline: number, step: Step): Promise<ProbeOutcome> {
  const results: unknown = await step(client.query({ text: probeText(probe.query, deadline, probe.role), rowMode: 'array', types: RAW_TYPES }));
  // Read while the connection is open: Node forgets the peer's certificate once it closes.
  const expiry = secure ? socketExpiry(secure, probe.expiry, probe.target) : undefined;
  return { result: readResult(results, probe.role), observation: { ...(probe.role ? roleOf(results) : {}), ...expiry } };
}

/**
 * The probe as one simple-query message, one round trip. SET LOCAL bounds every statement on the
 * server and lasts only for this transaction, so it needs no startup parameter (which PgBouncer
 * refuses) and leaves nothing behind on a pooled server connection (transaction pooling hands the
 * next client the same one). The newlines keep a trailing `--` comment in the query from swallowing
 * the COMMIT.
 */
function probeText(query: string, deadline: number, withRole: boolean): string {
  // A little past the attempt's own deadline: the attempt reports its timeout itself, and the
  // server's cancellation only ends the statement there. Were the server first, a pooler in
  // statement mode would answer the aborted transaction with its own 08P01, not the 57014.
  const remainingMs = Math.max(1, Math.ceil(deadline - Date.now())) + SERVER_TIMEOUT_MARGIN_MS;
  return `BEGIN;SET LOCAL statement_timeout = ${remainingMs};\n${query}\n;${withRole ? `${ROLE_QUERY};` : ''}COMMIT`;
}

/**
 * The server's role and, on a replica, how far its replay is behind: 0 once it has replayed all it
 * received (an idle primary sends nothing, and now() - the last replay would grow without a lag),
 * else the age of the last transaction replayed; NULL before any was. After the check's query, in
 * the same message: no round trip of its own.
 */
const ROLE_QUERY =
  'SELECT pg_is_in_recovery() AS vigil_in_recovery, CASE WHEN NOT pg_is_in_recovery() THEN NULL ' +
  'WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ' +
  'ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS vigil_lag_seconds';

/**
 * role and replicationLagSeconds from ROLE_QUERY's row, the second-to-last result (COMMIT's is
 * last), read as the server's text (rowMode array, RAW_TYPES): a bool is 't' or 'f'.
 */
function roleOf(results: unknown): Observation {
  const list = Array.isArray(results) ? (results as { rows?: (string | null)[][] }[]) : [];
  const row = list[list.length - 2]?.rows?.[0];
  const [inRecovery, lagText] = row ?? [];
  if (inRecovery !== 't' && inRecovery !== 'f') return {};
  if (inRecovery === 'f') return { role: 'primary' };
  const lag = lagText === null || lagText === undefined ? NaN : Number(lagText);
  return Number.isFinite(lag) ? { role: 'replica', replicationLagSeconds: Math.round(lag * 1000) / 1000 } : { role: 'replica' };
}

/** How long after the attempt's deadline the server cancels the statement. */
const SERVER_TIMEOUT_MARGIN_MS = 100;

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Connects where node-postgres asks (port and host, or a Unix socket path) and negotiates TLS. */
async function openTransport(args: readonly unknown[], settings: SessionSettings, signal: AbortSignal, onTlsAccepted: () => void): Promise<Duplex> {
  const path = typeof args[0] === 'string' ? args[0] : undefined;
  const host = path === undefined ? String(args[1] ?? 'localhost') : undefined;
  const raw = await connectRaw(path !== undefined ? { path } : { port: Number(args[0]), host }, signal);
  // libpq never uses TLS over a Unix socket, whatever the sslmode.
  if (settings.encryption === 'off' || path !== undefined) return raw;
  const { target, ssl } = settings;
  raw.write(SSL_REQUEST);
  const answer = await firstChunk(raw, signal, target);
  if (answer[0] === 0x53 /* S */) {
    // Bytes behind the 'S' would be read as if they came over TLS: refuse them, as libpq does.
    if (answer.length > 1) throw new CheckError('protocol', `${target} sent data before the TLS handshake`);
    onTlsAccepted();
    return handshake(raw, tlsOptions(host!, settings), signal, target);
  }
  if (settings.encryption === 'on') {
    raw.destroy();
    const said = answer[0] === 0x4e /* N */ ? 'does not accept TLS connections' : 'answered the TLS request with an error';
    throw new CheckError('tls', `${target} ${said} (sslmode=${ssl.mode})`);
  }
  if (answer[0] === 0x4e && answer.length > 1) throw new CheckError('protocol', `${target} sent data after declining TLS`);
  // 'N': carry on in plain. Anything else is an error from a server that failed before negotiating
  // (a fork that failed): the driver reads it like any other.
  if (answer[0] !== 0x4e) raw.unshift(answer);
  return raw;
}

/** What libpq checks of the server's certificate: the chain when a root certificate is given or
 * the mode says so, the host name for verify-full. */
function tlsOptions(host: string, { ssl, material }: SessionSettings): ConnectionOptions {
  const verifyChain = ssl.mode === 'verify-ca' || ssl.mode === 'verify-full' || ssl.rootCert !== undefined;
  return {
    host,
    // SNI carries names, never addresses (RFC 6066).
    servername: isIP(host) ? undefined : host,
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    passphrase: ssl.password,
    rejectUnauthorized: verifyChain,
    checkServerIdentity: ssl.mode === 'verify-full' ? checkServerIdentity : () => undefined,
  };
}

function connectRaw(where: { path: string } | { port: number; host?: string }, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(where);
    const settle = (error?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect).off('error', settle);
      if (error === undefined) return resolve(socket);
      socket.destroy();
      reject(error);
    };
    const onAbort = () => settle(signal.reason);
    const onConnect = () => settle();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', onConnect).once('error', settle);
  });
}

/** The server's answer to the TLS request; the socket is left paused. */
function firstChunk(socket: Socket, signal: AbortSignal, target: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const settle = (chunk?: Buffer, error?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (chunk) return resolve(chunk);
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => settle(chunk);
    const onError = (error: Error) => settle(undefined, error);
    const onClose = () => settle(undefined, new CheckError('protocol', `${target} closed the connection when asked for TLS`));
    const onAbort = () => settle(undefined, signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('data', onData).on('error', onError).on('close', onClose);
  });
}

function handshake(raw: Socket, options: ConnectionOptions, signal: AbortSignal, target: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket: raw });
    const settle = (error?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      secure.off('secureConnect', onSecure).off('error', settle);
      if (error === undefined) return resolve(secure);
      secure.destroy();
      raw.destroy();
      // A certificate refused for its dates fails as the date checks do (cert_expiry), not as trust.
      const reason = reasonFromSocketError(error) === 'cert_expiry' ? 'cert_expiry' : 'tls';
      reject(error === signal.reason ? error : new CheckError(reason, `TLS handshake with ${target} failed: ${(error as Error).message}`, { cause: error }));
    };
    const onSecure = () => settle();
    const onAbort = () => settle(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', onSecure).once('error', settle);
  });
}

/**
 * Follows the framing of backend messages (a type byte and an int32 length counting itself) and
 * refuses, before node-postgres buffers or parses anything: a length that cannot be, a message
 * larger than MAX_MESSAGE_BYTES, and an authentication request vigil cannot answer (node-postgres
 * throws on those from inside its socket handler).
 */
function createFrameInspector(target: string): (chunk: Buffer) => void {
  // The header being read (up to 9 bytes: type, length, and an authentication request's code).
  const header = Buffer.alloc(9);
  let have = 0;
  let remaining = 0;
  return (chunk) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (remaining > 0) {
        const skipped = Math.min(remaining, chunk.length - offset);
        remaining -= skipped;
        offset += skipped;
        continue;
      }
      // An authentication request ('R') is judged on its code, the 4 bytes after the header.
      const wanted = have >= 1 && header[0] === 0x52 ? 9 : 5;
      const taken = Math.min(wanted - have, chunk.length - offset);
      chunk.copy(header, have, offset, offset + taken);
      have += taken;
      offset += taken;
      if (have < 5) continue;
      const type = header[0]!;
      const length = header.readUInt32BE(1);
      if (length < 4) throw new CheckError('protocol', `${target} sent a malformed message (type ${describeType(type)}, length ${length})`);
      if (length > MAX_MESSAGE_BYTES) {
        throw new CheckError('protocol', `${target} declared a ${length}-byte message (type ${describeType(type)}), more than the ${formatBytes(MAX_MESSAGE_BYTES)} one attempt reads`);
      }
      if (type === 0x52) {
        if (length < 8) throw new CheckError('protocol', `${target} sent a malformed authentication request (length ${length})`);
        if (have < 9) continue;
        checkAuthentication(header.readInt32BE(5), length, target);
      }
      remaining = length - 4 - (have - 5);
      have = 0;
    }
  };
}

const describeType = (type: number) => JSON.stringify(String.fromCharCode(type));

/** Authentication request codes node-postgres answers, with the exact length each must have (0: any). */
const AUTHENTICATION_LENGTHS = new Map([
  [0, 8], // Ok
  [3, 8], // cleartext password
  [5, 12], // MD5 password, with its salt
  [10, 0], // SASL, with its mechanisms
  [11, 0], // SASL continue
  [12, 0], // SASL final
]);

function checkAuthentication(code: number, length: number, target: string): void {
  if (code === 7 || code === 8 || code === 9) {
    throw new CheckError('auth', `${target}: the server asks for GSSAPI/SSPI authentication, which vigil does not support`);
  }
  if (code === 2 || code === 6) throw new CheckError('auth', `${target}: the server asks for an authentication method vigil does not support (code ${code})`);
  const expected = AUTHENTICATION_LENGTHS.get(code);
  if (expected === undefined) throw new CheckError('protocol', `${target} sent an unknown authentication request (code ${code})`);
  if (expected !== 0 && length !== expected) throw new CheckError('protocol', `${target} sent a malformed authentication request (code ${code}, length ${length})`);
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * A driver or server error as a failure. A server error (SQLSTATE) is judged by its class and by
 * when it came: before the login completed nothing of the query ran, so only errors of the query
 * itself are `body`.
 */
function translate(error: unknown, target: string, phase: 'login' | 'query'): CheckError {
  if (error instanceof CheckError) return error;
  const socketReason = reasonFromSocketError(error);
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = (error as Error)?.message ?? String(error);
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState === 'string' && SQLSTATE.test(sqlState)) return fromSqlState(sqlState, message, target, phase, error);
  // node-postgres's words when the server asks for a password the URL does not give.
  if (phase === 'login' && /password/i.test(message)) {
    return new CheckError('auth', `${target} asks for a password, and the URL gives none: ${message}`, { cause: error });
  }
  if (/terminated unexpectedly|Connection terminated/i.test(message)) {
    return new CheckError('protocol', `${target} closed the connection ${phase === 'login' ? 'during the login' : 'during the query'}`, { cause: error });
  }
  if (/invalid response|Unexpected|protocol/i.test(message)) {
    return new CheckError('protocol', `${target} does not speak the PostgreSQL protocol: ${message}`, { cause: error });
  }
  return new CheckError('unknown', `${target}: ${message}`, { cause: error });
}

function fromSqlState(sqlState: string, message: string, target: string, phase: 'login' | 'query', cause: unknown): CheckError {
  const said = `${message} (SQLSTATE ${sqlState})`;
  const fail = (reason: CheckError['reason'], text: string) => new CheckError(reason, text, { cause });
  const kind = sqlState.slice(0, 2);
  if (sqlState === '57014') return fail('timeout', `${target}: the query was cancelled at the timeout (SQLSTATE 57014)`);
  // Class 28: invalid authorization; 3D000: the database does not exist (or is not ours to see).
  if (kind === '28' || sqlState === '3D000') return fail('auth', `${target} refused the login: ${said}`);
  if (sqlState === '08P01') return fail('protocol', `${target}: the server (or a pooler in front of it) refused what vigil sent as a protocol violation: ${said}`);
  if (kind === '08') return fail('protocol', `${target}: connection failure: ${said}`);
  if (phase === 'login') {
    // Class 53 (too many connections, out of memory) and 57 (starting up, shutting down, in
    // recovery): the server is there but takes no new session.
    if (kind === '53' || kind === '57') return fail('connect_refused', `${target} refused the connection: ${said}`);
    return fail('unknown', `${target} failed the login: ${said}`);
  }
  // Class 57 after the login: the server ended the session (an administrator, a crash, a shutdown).
  if (kind === '57') return fail('protocol', `${target} ended the session: ${said}`);
  return fail('body', `${target}: the query failed: ${said}`);
}
