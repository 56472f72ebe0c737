// mysql: open a fresh connection with `url` (MySQL, MariaDB and servers that speak their protocol),
// run `query` (default SELECT 1) bounded on the server where it can be, close; with `expect`, the
// first column of the first row is judged. mysql2 speaks the protocol through a stream vigil
// connects, encrypts and guards itself.
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Connection } from 'mysql2';
import { z } from 'zod';
import { defineCheck, type KeptConnection, type Observation } from '../src/check.js';
import { CheckError, type FailureReason } from '../src/errors.js';
import { untilAborted } from './support/abort.js';
import { comparisonOf, judge, queryExpectOption, showComparison, type Comparison, type Scalar } from './support/condition.js';
import { ConnectableStream } from './support/connectable-stream.js';
import { formatBytes, guardSocket, MAX_ATTEMPT_BYTES, type SocketGuard } from './support/guarded-socket.js';
import { peerText } from './support/peer-text.js';
import { describeSocketError, reasonFromSocketError } from './support/socket-errors.js';
import { describeUrlTarget, urlProblem } from './support/target.js';
import { EXPIRY_OBSERVATIONS, expiryOptions, refineExpiry, socketExpiry, type ExpiryOptions } from './support/cert-expiry.js';
import { readPemFiles, tlsBlock, type TlsBlock } from './support/tls.js';

const DEFAULT_PORT = 3306;
/** Most bytes one server packet may declare; a larger one fails at its header. */
const MAX_PACKET_BYTES = MAX_ATTEMPT_BYTES;
/** Most bytes of the server's greeting (a few dozen in practice). */
const MAX_GREETING_BYTES = 16 * 1024;
/** The connection attribute MySQL shows in performance_schema.session_connect_attrs. */
const PROGRAM_NAME = 'vigil';
/** How long after the attempt's deadline the server ends the statement. */
const SERVER_TIMEOUT_MARGIN_MS = 100;
/** How long a kept connection's server may take to close it once told to, before the stream is destroyed. */
const CLOSE_GRACE_MS = 1000;
/**
 * The server closes a session's socket before its thread leaves the processlist: a replacement
 * logging in at that moment is counted beside the old session (by max_user_connections too). The
 * close settles this long after the server's own close.
 */
const UNLINK_GRACE_MS = 50;
/** COM_QUIT as a packet of its own: length 1, sequence number 0, command 0x01. */
const COM_QUIT = Buffer.from([1, 0, 0, 0, 1]);

/** The mysql client's --ssl-mode values, weakest first. */
const SSL_MODES = ['DISABLED', 'PREFERRED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'] as const;
type SslMode = (typeof SSL_MODES)[number];
/** URL parameters vigil reads: the mysql client's option names, which MySQL Shell and sqlx take in URLs too. */
const URL_PARAMS = ['ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key'] as const;
/** Other spellings of the TLS settings, from other drivers' URLs: refused with the right name. */
const OTHER_SPELLINGS: Record<string, string> = {
  sslmode: 'ssl-mode',
  ssl_mode: 'ssl-mode',
  sslMode: 'ssl-mode',
  ssl: 'ssl-mode',
  useSSL: 'ssl-mode',
  requireSSL: 'ssl-mode',
  sslaccept: 'ssl-mode',
  ssl_ca: 'ssl-ca',
  sslca: 'ssl-ca',
  sslrootcert: 'ssl-ca',
  sslcert: 'ssl-cert',
  ssl_cert: 'ssl-cert',
  sslkey: 'ssl-key',
  ssl_key: 'ssl-key',
};

const options = {
  url: z
    .string()
    .regex(/^mysql:\/\//, { message: 'must be a mysql:// URL' })
    .superRefine((url, ctx) => {
      // The pattern above says what is wrong with another scheme (and is all a JSON Schema can say).
      if (!/^mysql:\/\//.test(url)) return;
      const parsed = parseUrl(url);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', input: parsed.input, message: parsed.problem });
    })
    .describe(
      'Connection URL, e.g. mysql://app:${MYSQL_PASSWORD}@db:3306/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ssl/db-ca.pem. ' +
        'ssl-mode as the mysql client: DISABLED, PREFERRED (default), REQUIRED, VERIFY_CA, VERIFY_IDENTITY.',
    ),
  query: z.string().min(1).optional().describe('Query to run (one statement). Default SELECT 1.'),
  expect: queryExpectOption(
    'What the first column of the query\'s first row must be: true (1), false (0), a number, or a comparison such as "< 30" or \'== "ON"\'. No rows fails.',
  ),
  tls: tlsBlock.optional().describe('TLS settings: CA, client certificate, server name, insecureSkipVerify. Without ssl-mode in the URL, it means VERIFY_IDENTITY.'),
  ...expiryOptions,
};

export const mysql = defineCheck({
  type: 'mysql',
  componentType: 'datastore',
  options,
  schemes: ['mysql'],
  observations: EXPIRY_OBSERVATIONS,
  // mysql://monitor@db/app: an account logging in without a password (or by a socket plugin).
  urlUserIsIdentity: true,
  refine({ url, tls, warnBefore, failBefore }, ctx) {
    refineExpiry({ warnBefore, failBefore }, ctx);
    const parsed = parseUrl(url);
    if ('problem' in parsed || !tls) return;
    const { params } = parsed;
    if (params.mode === 'DISABLED') {
      ctx.addIssue({ code: 'custom', path: ['tls'], input: tls, message: 'has no effect: the URL says ssl-mode=DISABLED' });
    }
    if (tls.insecureSkipVerify && (params.mode === 'VERIFY_CA' || params.mode === 'VERIFY_IDENTITY')) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'insecureSkipVerify'], input: true, message: `contradicts the URL's ssl-mode=${params.mode}` });
    }
    for (const [param, key] of [['ca', 'caFile'], ['cert', 'certFile'], ['key', 'keyFile']] as const) {
      if (params[param] !== undefined && tls[key] !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tls', key], input: tls[key], message: `and the URL's ssl-${param} both name a file: give one` });
      }
    }
  },
  async prepare() {
    await import('mysql2');
  },
  async run({ url, query = 'SELECT 1', tls, expect, warnBefore, failBefore }, { signal, timeoutMs }) {
    const deadline = Date.now() + timeoutMs;
    const { client, target } = await connectClient(url, tls);
    let result: QueryResult;
    let expiry: Observation | undefined;
    try {
      [result, expiry] = await untilAborted(
        signal,
        async () => {
          await client.connected;
          // Read while the socket is open: Node forgets the peer's certificate once it closes.
          const days = observeExpiry(client, { warnBefore, failBefore }, target);
          const answer = await client.probe(query, deadline);
          await client.close();
          return [answer, days] as const;
        },
        () => client.destroy(),
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw client.failure() ?? translate(error, target, client.phase());
    } finally {
      client.destroy();
    }
    judgeResult(result, expect, target);
    return expiry;
  },
  session: {
    async open({ url, query = 'SELECT 1', tls, expect, warnBefore, failBefore }, { signal }, abandoned) {
      const { client, target } = await connectClient(url, tls);
      try {
        // A login given up half-way: the server frees its thread once it reads the end of the stream.
        await untilAborted(signal, () => client.connected, () => abandoned(client.end()));
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        client.destroy();
        throw client.failure() ?? translate(error, target, client.phase());
      }
      return keptConnection(client, { query, expect, expiry: { warnBefore, failBefore }, target });
    },
  },
});

/** The driver loaded and a client connecting to `url`, as every attempt and every kept connection opens one. */
async function connectClient(url: string, tls: TlsBlock | undefined): Promise<{ client: Client; target: string }> {
  // Loaded on first use: an agent without mysql checks never pays for the driver.
  const driver = await import('mysql2');
  const target = describeUrlTarget('mysql', url, DEFAULT_PORT);
  // Validation guarantees the URL parses.
  const settings = settingsOf(parseUrl(url, { isValidated: true }) as ParsedUrl, tls);
  return { client: openClient(driver.createConnection, settings, target), target };
}

/** The days left on the server's certificate, where the connection is encrypted (read while it is open). */
function observeExpiry(client: Client, expiry: ExpiryOptions, target: string): Observation | undefined {
  const secure = client.secure();
  return secure ? socketExpiry(secure, expiry, target) : undefined;
}

/** `expect` judged against the query's first column: no rows, or a value that fails it, is an `assertion` failure. */
function judgeResult(result: QueryResult, expect: boolean | number | string | undefined, target: string): void {
  if (expect === undefined) return;
  const comparison = asMysql(comparisonOf(expect));
  if (!result.hasRow) throw new CheckError('assertion', `${target}: the query returned no rows, expected a first column ${showComparison(comparison)}`);
  const why = judge(result.value, comparison);
  if (why !== undefined) throw new CheckError('assertion', `${target}: the query's first column ${showComparison(comparison)} fails: it ${why}`);
}

/** An error packet of the server's (its number and SQLSTATE), not the driver's or the network's. */
function isServerError(error: unknown): boolean {
  const { errno, sqlState } = (error ?? {}) as { errno?: unknown; sqlState?: unknown };
  return typeof errno === 'number' && typeof sqlState === 'string';
}

/** What a kept connection's probe runs and judges: the fresh attempt's statement and `expect`. */
interface ProbeSettings {
  readonly query: string;
  readonly expect?: boolean | number | string;
  readonly expiry: ExpiryOptions;
  readonly target: string;
}

/**
 * A logged-in connection the core keeps between attempts: each probe runs the fresh attempt's
 * statement, bounded on the server the same way, with the attempt's own deadline and byte budget.
 * A connection the server ended while it idled (KILL, wait_timeout, a restart) shows as closed,
 * and what the driver says of it never reaches the process.
 */
function keptConnection(client: Client, { query, expect, expiry, target }: ProbeSettings): KeptConnection {
  let isClosed = false;
  let closing: Promise<void> | undefined;
  return {
    isOpen: () => !isClosed && client.isOpen(),
    async probe({ signal, timeoutMs }) {
      const deadline = Date.now() + timeoutMs;
      client.startAttempt();
      let result: QueryResult;
      let days: Observation | undefined;
      try {
        // No race against the guard's promise here: one per attempt would stay on it for the
        // connection's whole life. A guard's failure destroys the stream, which fails the statement.
        // On abort the core closes the connection (close below).
        [result, days] = await untilAborted(
          signal,
          async () => {
            const observed = observeExpiry(client, expiry, target);
            return [await client.query(query, deadline), observed] as const;
          },
          () => undefined,
        );
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const failure = client.failure() ?? translate(error, target, 'query');
        // The server's own error leaves the session as it was: the probe reports that answer, and the
        // core closes the session (COM_QUIT). Anything else leaves its state unknown.
        if (!isServerError(error) || failure.reason === 'protocol') client.destroy();
        throw failure;
      }
      judgeResult(result, expect, target);
      return days;
    },
    close() {
      isClosed = true;
      closing ??= client.end();
      return closing;
    },
  };
}

/** The first column of the query's first row. */
interface QueryResult {
  readonly hasRow: boolean;
  readonly value?: Scalar;
}

/** MySQL has no boolean type: TRUE is 1 and FALSE is 0, and a condition's true and false mean the same. */
function asMysql(comparison: Comparison): Comparison {
  return typeof comparison.operand === 'boolean' ? { ...comparison, operand: comparison.operand ? 1 : 0 } : comparison;
}

/** Column types read as numbers (mysql2's names): integers, decimals, floats, YEAR, BIT. */
const NUMERIC_TYPES = new Set(['TINY', 'SHORT', 'LONG', 'INT24', 'LONGLONG', 'DECIMAL', 'NEWDECIMAL', 'FLOAT', 'DOUBLE', 'YEAR', 'BIT']);

/**
 * Every column as [its type, the server's text]: the check converts the first one (readResult). A
 * BIT comes as its bytes (big-endian), not text: its text is the unsigned number they make (BIT(1),
 * the usual boolean, is "0" or "1").
 */
const rawColumn = (field: { type: string; string(): string | null; buffer(): Buffer | null }) => {
  if (field.type !== 'BIT') return [field.type, field.string()];
  const bytes = field.buffer();
  return [field.type, bytes === null ? null : bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n).toString()];
};

/**
 * The first column of the first row of the first result set: a CALL of a procedure answers with
 * each of its result sets (mysql2 then gives a list of them, with a list of field lists) and an OK.
 */
function readResult(answer: unknown, fields: unknown): QueryResult {
  let rows = answer;
  if (Array.isArray(answer) && Array.isArray(fields) && fields.some((set) => Array.isArray(set) || set === undefined)) {
    const at = fields.findIndex((set) => Array.isArray(set));
    rows = at === -1 ? undefined : answer[at];
  }
  // A statement without a result set (DO, SET) answers with an OK packet, not rows.
  const first = Array.isArray(rows) ? (rows[0] as [string, string | null][] | undefined) : undefined;
  if (!first || first.length === 0) return { hasRow: false };
  const [type, text] = first[0]!;
  if (text === null) return { hasRow: true, value: null };
  return { hasRow: true, value: NUMERIC_TYPES.has(type) ? Number(text) : text };
}

interface UrlParams {
  readonly mode?: SslMode;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

interface ParsedUrl {
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly params: UrlParams;
}

/** A mysql:// URL's parts, or what is wrong with them (for validation: no attempt could use them). */
function parseUrl(url: string, { isValidated = false } = {}): ParsedUrl | { problem: string; input: string } {
  const problem = isValidated ? undefined : urlProblem(url, ['mysql']);
  if (problem) return { problem, input: url };
  const parsed = new URL(url);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      return undefined;
    }
  };
  const path = parsed.pathname.slice(1);
  if (path.includes('/')) return { problem: 'has a path of more than one part: the path of a mysql URL is the database name', input: parsed.pathname };
  const database = decode(path);
  const user = decode(parsed.username);
  const password = decode(parsed.password);
  if (database === undefined || user === undefined || password === undefined) {
    return { problem: 'has a malformed percent-encoding in its user, password or database', input: 'mysql://…' };
  }
  const params: { mode?: SslMode; ca?: string; cert?: string; key?: string } = {};
  for (const [name, value] of parsed.searchParams) {
    if (!(URL_PARAMS as readonly string[]).includes(name)) {
      const other = OTHER_SPELLINGS[name];
      const hint = other ? `: vigil reads the mysql client's spelling, ${other}` : `: vigil reads ${URL_PARAMS.join(', ')}`;
      return { problem: `is not a parameter of a mysql URL${hint}`, input: name };
    }
    if (parsed.searchParams.getAll(name).length > 1) return { problem: 'is given more than once', input: name };
    if (value === '') return { problem: 'is empty', input: name };
    if (name === 'ssl-mode') {
      const mode = value.toUpperCase().replace(/-/g, '_');
      if (!(SSL_MODES as readonly string[]).includes(mode)) return { problem: `is not an ssl-mode (one of ${SSL_MODES.join(', ')})`, input: `ssl-mode=${value}` };
      params.mode = mode as SslMode;
    } else {
      params[name.slice(4) as 'ca' | 'cert' | 'key'] = value;
    }
  }
  if ((params.cert === undefined) !== (params.key === undefined)) {
    return params.cert === undefined ? { problem: 'needs ssl-cert as well', input: 'ssl-key' } : { problem: 'needs ssl-key as well', input: 'ssl-cert' };
  }
  if (params.mode === 'DISABLED' && (params.ca ?? params.cert) !== undefined) {
    return { problem: 'names certificate files that ssl-mode=DISABLED never uses', input: 'ssl-mode=DISABLED' };
  }
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: parsed.port === '' ? DEFAULT_PORT : Number(parsed.port),
    user: user === '' ? undefined : user,
    password: password === '' ? undefined : password,
    database: database === '' ? undefined : database,
    params,
  };
}

interface Settings extends ParsedUrl {
  readonly mode: SslMode;
  readonly files: { readonly ca?: [role: string, path: string]; readonly cert?: [string, string]; readonly key?: [string, string] };
  readonly serverName?: string;
  readonly insecureSkipVerify: boolean;
}

/**
 * The URL and the tls block together. Without ssl-mode, the mysql client's default, PREFERRED;
 * but certificate files (the block, or ssl-ca/ssl-cert/ssl-key) mean the user wants TLS, verified
 * as every other tls block is: VERIFY_IDENTITY (REQUIRED with insecureSkipVerify).
 */
function settingsOf(parsed: ParsedUrl, block: TlsBlock | undefined): Settings {
  const { params } = parsed;
  const file = (param: 'ca' | 'cert' | 'key', key: 'caFile' | 'certFile' | 'keyFile'): [string, string] | undefined =>
    params[param] !== undefined ? [`ssl-${param}`, params[param]] : block?.[key] !== undefined ? [key, block[key]] : undefined;
  const files = { ca: file('ca', 'caFile'), cert: file('cert', 'certFile'), key: file('key', 'keyFile') };
  const insecureSkipVerify = block?.insecureSkipVerify ?? false;
  const wantsTls = block !== undefined || files.ca !== undefined || files.cert !== undefined;
  const mode = params.mode ?? (wantsTls ? (insecureSkipVerify ? 'REQUIRED' : 'VERIFY_IDENTITY') : 'PREFERRED');
  return { ...parsed, mode, files, serverName: block?.serverName, insecureSkipVerify };
}

/**
 * Node's TLS options for the mode. The chain is verified for VERIFY_CA and VERIFY_IDENTITY, and
 * for PREFERRED and REQUIRED too when a CA is given (libpq's rule; insecureSkipVerify turns it
 * off); the name (serverName, else the URL's host) for VERIFY_IDENTITY. The files are read at every
 * attempt, so a rotated certificate applies at the next one.
 */
async function tlsOptions(settings: Settings, target: string): Promise<ConnectionOptions> {
  const { ca, cert, key } = settings.files;
  const read = await readPemFiles({ ca: ca?.[1], cert: cert?.[1], key: key?.[1] }, target).catch((error: unknown) => {
    // readPemFiles names a file by its role: the user's own name for it reads better.
    if (error instanceof CheckError) {
      for (const [role, file] of Object.entries(settings.files)) {
        if (file && error.message.includes(`cannot read ${role} `)) throw new CheckError('tls', error.message.replace(`cannot read ${role} `, `cannot read ${file[0]} `), { cause: error });
      }
    }
    throw error;
  });
  const name = settings.serverName ?? settings.host;
  const verifyChain = settings.mode === 'VERIFY_CA' || settings.mode === 'VERIFY_IDENTITY' || (ca !== undefined && !settings.insecureSkipVerify);
  return {
    ...(read.ca ? { ca: read.ca } : {}),
    ...(read.cert ? { cert: read.cert } : {}),
    ...(read.key ? { key: read.key } : {}),
    // SNI carries names, never addresses (RFC 6066).
    ...(isIP(name) ? {} : { servername: name }),
    rejectUnauthorized: verifyChain,
    checkServerIdentity: settings.mode === 'VERIFY_IDENTITY' ? (_host, certificate) => checkServerIdentity(name, certificate) : () => undefined,
  };
}

type CreateConnection = typeof import('mysql2').createConnection;
type Phase = 'connect' | 'login' | 'query' | 'close';

/** One connection of one attempt, in the steps a kept connection would take too. */
interface Client {
  /** Resolves once logged in. */
  readonly connected: Promise<void>;
  probe(query: string, deadline: number): Promise<QueryResult>;
  /**
   * The probe's statement without the race against the guard (for a kept connection, which would
   * collect one reaction per attempt): a guard's failure destroys the stream, and the driver fails
   * the statement then.
   */
  query(query: string, deadline: number): Promise<QueryResult>;
  /** Says goodbye (COM_QUIT) and waits for the server to close. */
  close(): Promise<void>;
  /**
   * Ends the connection as the server should be told, never rejecting: COM_QUIT once logged in
   * (while a statement still runs, the server reads it once the statement ends, at its
   * max_statement_time); during the login, the end of the stream alone; before the server's
   * greeting, the stream destroyed at once. Resolves once the server has closed its side, or after
   * CLOSE_GRACE_MS, destroying the stream then.
   */
  end(): Promise<void>;
  destroy(): void;
  /** False once the server or the network ended the connection, or it failed. */
  isOpen(): boolean;
  /** A new attempt over a kept connection: its byte budget starts again. */
  startAttempt(): void;
  /** What the guard or the TLS negotiation ended the connection with: it says more than the driver's words. */
  failure(): CheckError | undefined;
  /** The TLS socket once the connection is encrypted, for its certificate. */
  secure(): TLSSocket | undefined;
  phase(): Phase;
}

/** What the server's greeting says. */
interface Greeting {
  readonly version: string;
  readonly offersTls: boolean;
}

function openClient(createConnection: CreateConnection, settings: Settings, target: string): Client {
  const wantsTls = settings.mode !== 'DISABLED';
  let phase: Phase = 'connect';
  let greeting: Greeting | undefined;
  let tlsFailure: CheckError | undefined;
  let secured: TLSSocket | undefined;
  const stream = new ConnectableStream({ open: (_args, signal) => connectRaw(settings.host, settings.port, signal) });
  const scanner = createPacketScanner(target, (said) => {
    greeting = said;
    phase = 'login';
    // PREFERRED: TLS when the server offers it, in plain when it does not (mysql2 would refuse).
    if (settings.mode === 'PREFERRED' && !said.offersTls) connection.config.ssl = undefined;
    if (wantsTls && !said.offersTls && settings.mode !== 'PREFERRED') {
      throw new CheckError('tls', `${target} does not offer TLS (ssl-mode=${settings.mode})`);
    }
  });
  // Whatever the driver's parser throws, and more bytes than the attempt may read, fail the attempt.
  const guard: SocketGuard = guardSocket(stream, { target, maxBytes: MAX_ATTEMPT_BYTES, inspect: (chunk) => scanner.received(chunk) });
  const write = stream.write;
  stream.write = function scannedWrite(this: ConnectableStream, chunk: unknown, ...rest: unknown[]) {
    scanner.sent(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ConnectableStream['write'];

  const connection: Connection = createConnection({
    host: settings.serverName ?? settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.database,
    stream,
    // Any object makes mysql2 ask for TLS after the greeting; vigil then does the handshake (below).
    ssl: wantsTls ? {} : undefined,
    // The attempt's deadline is the core's: no driver timer.
    connectTimeout: 0,
    connectAttributes: { program_name: PROGRAM_NAME },
    // A server must never read a file of this host (LOAD DATA LOCAL INFILE).
    flags: ['-LOCAL_FILES'],
    // Row parsers without code generation: no compiled parser cached per shape of result.
    disableEval: true,
  });
  // mysql2 asks for TLS itself (it sent its SSL request): the handshake is vigil's, with its own
  // verification, and mysql2 goes on reading plaintext from the same stream.
  const asked = connection as unknown as { startTLS(onSecure: (error?: Error) => void): void };
  asked.startTLS = (onSecure) => {
    // The certificate files are read now, at every attempt that encrypts: a rotated one applies at the next.
    stream.upgrade(async (inner) => (secured = await handshake(inner, await tlsOptions(settings, target), target))).then(
      () => onSecure(),
      (error: unknown) => {
        tlsFailure = error instanceof CheckError ? error : new CheckError('tls', `TLS handshake with ${target} failed: ${(error as Error).message}`, { cause: error });
        guard.fail(tlsFailure);
      },
    );
  };
  // Errors reach the callbacks below; one that arrives with none waiting (a packet no command asked
  // for) must not be thrown, and fails the attempt when it closes.
  let strayError: unknown;
  connection.on('error', (error) => (strayError ??= error));
  stream.connect();

  const step = <T>(work: Promise<T>): Promise<T> => {
    // The socket's failure may win the race: the driver's own rejection is then nobody's concern.
    work.catch(() => undefined);
    return Promise.race([work, guard.failed]);
  };
  const connected = step(
    new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve()))),
  ).then(() => void (phase = 'query'));
  connected.catch(() => undefined);

  let isEnded = false;
  stream.once('end', () => void (isEnded = true)).once('close', () => void (isEnded = true));
  /** Statements sent and not yet answered. */
  let running = 0;
  const query = (text: string, deadline: number) => {
    running++;
    return new Promise<QueryResult>(
      (resolve, reject) =>
        void connection.query({ sql: boundedQuery(text, greeting?.version ?? '', deadline), rowsAsArray: true, typeCast: rawColumn }, (error, rows, fields) => {
          running--;
          return error ? reject(error) : resolve(readResult(rows, fields));
        }),
    );
  };

  return {
    connected,
    probe: (text, deadline) => step(query(text, deadline)),
    query,
    end() {
      // Before the server's greeting there is no session to end: the server drops the socket as it closes.
      if (stream.destroyed || phase === 'connect') {
        stream.destroy();
        return Promise.resolve();
      }
      const isLoggedIn = phase === 'query' && strayError === undefined && !isEnded;
      phase = 'close';
      return new Promise<void>((resolve) => {
        let isDestroyed = false;
        const timer = setTimeout(() => {
          isDestroyed = true;
          stream.destroy();
        }, CLOSE_GRACE_MS);
        stream.once('close', () => {
          clearTimeout(timer);
          if (isDestroyed) resolve();
          else setTimeout(resolve, UNLINK_GRACE_MS);
        });
        if (isLoggedIn && running === 0) connection.end();
        // A statement still running: the server reads COM_QUIT as the next command once the statement
        // ended (at its max_statement_time), and ends the session cleanly, as a quit rather than an
        // aborted connection (a warning in its log per timed-out attempt, at the default log_warnings).
        else if (isLoggedIn) stream.write(COM_QUIT);
        stream.end();
      });
    },
    isOpen: () => !isEnded && !stream.destroyed && strayError === undefined && guard.failure() === undefined,
    startAttempt: () => guard.startAttempt(),
    async close() {
      phase = 'close';
      const closed = stream.destroyed ? Promise.resolve() : new Promise<void>((resolve) => stream.once('close', () => resolve()));
      if (strayError === undefined) connection.end();
      stream.end();
      await step(closed);
      if (strayError !== undefined) throw strayError;
    },
    destroy: () => stream.destroy(),
    failure: () => guard.failure() ?? tlsFailure,
    secure: () => secured,
    phase: () => phase,
  };
}

/**
 * The query with a server-side bound, as one statement that leaves no state behind on the
 * connection (a proxy such as ProxySQL may hand it to another client): MariaDB (10.1 and later)
 * runs it under SET STATEMENT max_statement_time, in seconds; MySQL (5.7.8 and later) and
 * servers that read its optimizer hints (TiDB) bound a SELECT with the MAX_EXECUTION_TIME hint,
 * which applies to SELECT only. Other statements, and other servers, are bounded by the check's
 * own timeout alone (the connection is closed then).
 */
export function boundedQuery(query: string, serverVersion: string, deadline: number): string {
  const remainingMs = Math.max(1, Math.ceil(deadline - Date.now())) + SERVER_TIMEOUT_MARGIN_MS;
  const version = /^(?:5\.5\.5-)?(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (!version) return query;
  const [major, minor, patch] = [Number(version[1]), Number(version[2]), Number(version[3])];
  if (/mariadb/i.test(serverVersion)) {
    if (major < 10 || (major === 10 && minor < 1)) return query;
    // The newline keeps a trailing `--` comment in the query from reaching past it (nothing follows).
    return `SET STATEMENT max_statement_time=${(remainingMs / 1000).toFixed(3)} FOR\n${query}`;
  }
  const hasHints = major > 5 || (major === 5 && (minor > 7 || (minor === 7 && patch >= 8)));
  const select = /^\s*select\b/i.exec(query);
  if (!hasHints || !select) return query;
  return `${select[0]} /*+ MAX_EXECUTION_TIME(${remainingMs}) */${query.slice(select[0].length)}`;
}

function connectRaw(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // Not connect({ signal }): Node removes that listener only when the signal aborts.
    const socket = connect({ host, port });
    const settle = (error?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect).off('error', settle);
      if (error === undefined) return resolve(socket.setNoDelay(true));
      socket.destroy();
      reject(error);
    };
    const onAbort = () => settle(signal.reason);
    const onConnect = () => settle();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', onConnect).once('error', settle);
  });
}

function handshake(raw: Duplex, options: ConnectionOptions, target: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ ...options, socket: raw });
    const settle = (error?: unknown) => {
      secure.off('secureConnect', onSecure).off('error', settle).off('close', onClose);
      if (error === undefined) return resolve(secure);
      secure.destroy();
      // A certificate refused for its dates fails as the date checks do (cert_expiry), not as trust.
      const reason = reasonFromSocketError(error) === 'cert_expiry' ? 'cert_expiry' : 'tls';
      reject(new CheckError(reason, `TLS handshake with ${target} failed: ${(error as Error).message}`, { cause: error }));
    };
    const onSecure = () => settle();
    const onClose = () => settle(new Error('the server closed the connection'));
    secure.once('secureConnect', onSecure).once('error', settle).once('close', onClose);
  });
}

interface PacketScanner {
  /** Follows what the client writes (its packets' sequence numbers). */
  sent(chunk: Buffer): void;
  /** Follows what the server sends; throws a CheckError for what mysql2 must not see. */
  received(chunk: Buffer): void;
}

const CLIENT_SSL = 0x800;

/**
 * Follows the framing of the packets both ways (3-byte length, sequence number) and refuses,
 * before mysql2 buffers or parses anything: a packet declared larger than MAX_PACKET_BYTES, a
 * packet out of sequence (mysql2 would print a warning per packet and carry on), and a greeting
 * that is not protocol 10 or an error. The greeting is reported to `onGreeting` before mysql2
 * reads it; what that throws fails the attempt.
 */
function createPacketScanner(target: string, onGreeting: (greeting: Greeting) => void): PacketScanner {
  /** The last sequence number either side used: the server's next packet must carry the one after. */
  let lastSequence = 0xff;
  let isGreetingDue = true;
  let greeting: Buffer[] | undefined;
  let greetingLeft = 0;

  /** Calls onHeader per packet header, and onPayload with each piece of payload (chunk[start, end)). */
  const framer = (onHeader: (length: number, sequence: number) => void, onPayload?: (chunk: Buffer, start: number, end: number) => void) => {
    const header = Buffer.alloc(4);
    let have = 0;
    let remaining = 0;
    return (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        if (remaining > 0) {
          const taken = Math.min(remaining, chunk.length - offset);
          onPayload?.(chunk, offset, offset + taken);
          remaining -= taken;
          offset += taken;
          continue;
        }
        const taken = Math.min(4 - have, chunk.length - offset);
        chunk.copy(header, have, offset, offset + taken);
        have += taken;
        offset += taken;
        if (have < 4) continue;
        have = 0;
        remaining = header.readUIntLE(0, 3);
        onHeader(remaining, header[3]!);
        if (remaining === 0) onPayload?.(chunk, offset, offset);
      }
    };
  };

  const sent = framer((_length, sequence) => {
    lastSequence = sequence;
  });

  const received = framer(
    (length, sequence) => {
      if (length > MAX_PACKET_BYTES) {
        throw new CheckError('protocol', `${target} declared a ${length}-byte packet, more than the ${formatBytes(MAX_PACKET_BYTES)} one attempt reads (is it a MySQL server?)`);
      }
      const expected = (lastSequence + 1) & 0xff;
      if (sequence !== expected) throw new CheckError('protocol', `${target} sent a packet out of sequence (number ${sequence}, expected ${expected})`);
      lastSequence = sequence;
      if (isGreetingDue) {
        isGreetingDue = false;
        if (length > MAX_GREETING_BYTES) throw new CheckError('protocol', `${target} sent a ${length}-byte greeting, more than the ${formatBytes(MAX_GREETING_BYTES)} a MySQL server sends`);
        greeting = [];
        greetingLeft = length;
      }
    },
    (chunk, start, end) => {
      // Only the greeting is kept.
      if (!greeting) return;
      greeting.push(chunk.subarray(start, end));
      greetingLeft -= end - start;
      if (greetingLeft > 0) return;
      const payload = Buffer.concat(greeting);
      greeting = undefined;
      const said = readGreeting(payload, target);
      if (said) onGreeting(said);
    },
  );
  return { sent, received };
}

/** The server's greeting (protocol 10), or undefined for an error packet in its place (mysql2 reads that). */
function readGreeting(payload: Buffer, target: string): Greeting | undefined {
  if (payload[0] === 0xff) return undefined;
  if (payload[0] !== 10) {
    throw new CheckError('protocol', `${target} does not speak the MySQL protocol (its greeting starts with byte ${payload[0] ?? 'none'}, expected protocol version 10)`);
  }
  const end = payload.indexOf(0, 1);
  // Version, NUL, connection id (4), scramble (8), filler (1), capabilities (2).
  if (end === -1 || payload.length < end + 1 + 4 + 8 + 1 + 2) throw new CheckError('protocol', `${target} sent a malformed greeting (${payload.length} bytes)`);
  const capabilities = payload.readUInt16LE(end + 1 + 4 + 8 + 1);
  return { version: payload.toString('latin1', 1, end), offersTls: (capabilities & CLIENT_SSL) !== 0 };
}

/** MySQL and MariaDB error numbers, by what they mean for the attempt. */
const AUTH_ERRORS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR: no access to the database
  1045, // ER_ACCESS_DENIED_ERROR
  1049, // ER_BAD_DB_ERROR: no such database (as PostgreSQL's 3D000)
  1130, // ER_HOST_NOT_PRIVILEGED: this host may not connect
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1275, // ER_SERVER_IS_IN_SECURE_AUTH_MODE
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1820, // ER_MUST_CHANGE_PASSWORD
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
  3118, // ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
]);
/** The server is there but takes no new session. */
const REFUSED_ERRORS = new Set([
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  1129, // ER_HOST_IS_BLOCKED: too many connection errors from this host
  1203, // ER_TOO_MANY_USER_CONNECTIONS: max_user_connections
  1226, // ER_USER_LIMIT_REACHED: max_connections_per_hour and its kin
]);
/** The server ended the query at its time limit: MariaDB's max_statement_time, MySQL's max_execution_time. */
const TIMEOUT_ERRORS = new Set([1969, 3024]);
/** The server ended the session. */
const SESSION_ENDED_ERRORS = new Set([1053, 1927 /* ER_CONNECTION_KILLED */, 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */]);
/** require_secure_transport (MySQL): the server refuses an unencrypted session. */
const INSECURE_TRANSPORT = 3159;

/** mysql2's own error codes, for failures it detects itself. */
const DRIVER_ERRORS: Record<string, [FailureReason, string]> = {
  PROTOCOL_CONNECTION_LOST: ['protocol', 'closed the connection'],
  HANDSHAKE_NO_SSL_SUPPORT: ['tls', 'does not offer TLS'],
  HANDSHAKE_UNKNOWN_ERROR: ['protocol', 'sent an unexpected packet during the login'],
  PROTOCOL_UNEXPECTED_PACKET: ['protocol', 'sent a packet no command asked for'],
  // The server asks for an authentication method mysql2 does not have (MariaDB's ed25519, say).
  AUTH_SWITCH_PLUGIN_ERROR: ['auth', 'asks for an authentication method vigil does not support'],
  // mysql_clear_password: the password in the clear, which mysql2 (and so vigil) never sends.
  MYSQL_CLEAR_PASSWORD_NOT_ENABLED: ['auth', 'asks for the password in cleartext, which vigil never sends'],
};

/**
 * A driver or server error as a failure. A server error (its number) is judged by when it came:
 * before the login completed nothing of the query ran, so only errors of the query itself are `body`.
 */
function translate(error: unknown, target: string, phase: Phase): CheckError {
  if (error instanceof CheckError) return error;
  const socketReason = reasonFromSocketError(error);
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = peerText((error as Error)?.message ?? String(error));
  const fail = (reason: FailureReason, text: string) => new CheckError(reason, text, { cause: error });
  const { errno, sqlState, code } = error as { errno?: unknown; sqlState?: unknown; code?: unknown };
  if (typeof errno === 'number' && typeof sqlState === 'string') {
    const said = `${message} (error ${errno}, SQLSTATE ${peerText(sqlState, 5)})`;
    if (TIMEOUT_ERRORS.has(errno)) return fail('timeout', `${target}: the server ended the query at the timeout: ${said}`);
    if (errno === INSECURE_TRANSPORT) return fail('tls', `${target} refuses unencrypted connections: ${said}`);
    if (AUTH_ERRORS.has(errno) || sqlState === '28000') return fail('auth', `${target} refused the login: ${said}`);
    if (phase === 'connect' || phase === 'login') {
      if (REFUSED_ERRORS.has(errno)) return fail('connect_refused', `${target} refused the connection: ${said}`);
      if (sqlState.startsWith('08')) return fail('protocol', `${target}: connection failure: ${said}`);
      return fail('unknown', `${target} failed the login: ${said}`);
    }
    if (SESSION_ENDED_ERRORS.has(errno) || sqlState.startsWith('08')) return fail('protocol', `${target} ended the session: ${said}`);
    return fail('body', `${target}: the query failed: ${said}`);
  }
  const known = typeof code === 'string' ? DRIVER_ERRORS[code] : undefined;
  if (known) return fail(known[0], `${target} ${known[1]}${phase === 'query' ? ' during the query' : phase === 'close' ? '' : ' during the login'}: ${message}`);
  // What mysql2's parsers throw on a packet that is not what it claims (a read past its end, say).
  if (error instanceof RangeError || error instanceof TypeError || code === 'ERR_OUT_OF_RANGE' || code === 'ERR_BUFFER_OUT_OF_BOUNDS' || /^Should not reach here/.test(message)) {
    return fail('protocol', `${target} sent a packet the client could not read: ${message}`);
  }
  return fail('unknown', `${target}: ${message}`);
}
