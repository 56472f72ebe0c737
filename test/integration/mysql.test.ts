// The mysql check against the shared MariaDB (plain, root without a password) and a throw-away
// MariaDB with TLS, accounts with passwords and a small max_connections: the attempt, the query's
// bound on the server, error numbers to reasons, TLS as the mysql client's ssl-mode says.
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedQuery, mysql } from '../../checks/mysql.js';
import { startMariaDb, type MariaDb } from '../helpers/mariadb.js';
import { freePort, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { MYSQL_URL } from '../helpers/services.js';

const withUrl = (change: (url: URL) => void) => {
  const url = new URL(MYSQL_URL);
  change(url);
  return url.href;
};
const withParams = (url: string, params: string) => `${url}${url.includes('?') ? '&' : '?'}${params}`;

/** Fails (body: a subquery returns more than one row) unless the session is encrypted, or unless it is not. */
const cipher = "(SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher')";
const ENCRYPTED = `SELECT IF(${cipher} <> '', 1, (SELECT 1 UNION SELECT 2))`;
const PLAIN = `SELECT IF(${cipher} = '', 1, (SELECT 1 UNION SELECT 2))`;

async function expectPass(options: Record<string, unknown>): Promise<void> {
  const result = await runOnce(mysql, options);
  expect(result.ok, result.message).toBe(true);
}

async function expectFailure(reason: string, options: Record<string, unknown>, timeoutMs?: number): Promise<void> {
  const result = await runOnce(mysql, options, timeoutMs);
  expect(result.ok ? 'pass' : result.reason, result.message).toBe(reason);
}

let admin: Connection;
beforeAll(async () => {
  admin = await createConnection(MYSQL_URL);
});
afterAll(async () => admin.end());

describe('mysql check against a real server', () => {
  it('passes on a healthy server with the default SELECT 1', async () => {
    await expectPass({ url: MYSQL_URL });
  });

  it('runs the configured query; a query the server refuses fails with body, naming the error', async () => {
    await expectPass({ url: MYSQL_URL, query: 'SELECT COUNT(*) FROM information_schema.tables' });
    const bad = await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT * FROM no_such_table' });
    expect(bad).toMatchObject({ ok: false, reason: 'body' });
    expect(bad.message).toMatch(/no_such_table.*error 1146, SQLSTATE 42S02/);
  });

  it('access denied: an unknown account fails with auth', async () => {
    const result = await runOnce(mysql, { url: withUrl((url) => (url.username = 'no_such_user_vigil')) });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/Access denied.*SQLSTATE 28000/);
  });

  it('unknown database: fails with auth, as PostgreSQL\'s 3D000 does (the URL names what the server does not grant)', async () => {
    const result = await runOnce(mysql, { url: withUrl((url) => (url.pathname = '/no_such_db_vigil')) });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/Unknown database.*error 1049/);
  });

  it('fails with connect_refused on a closed port, and dns for a host that does not resolve', async () => {
    const port = await freePort();
    await expectFailure('connect_refused', { url: withUrl((url) => (url.port = String(port))) });
    await expectFailure('dns', { url: withUrl((url) => (url.hostname = 'no-such-host.invalid')) }, 3000);
  });

  it('fails at its timeout against a server that never answers, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(mysql, (port) => ({ url: `mysql://root@127.0.0.1:${port}/test` }));
  });

  it('server-side bound: a query that outlives the timeout fails with timeout, and the server ends it too', async () => {
    const marker = `vigil_bound_${process.pid}_${Date.now()}`;
    const started = Date.now();
    const result = await runOnce(mysql, { url: MYSQL_URL, query: `SELECT SLEEP(5) AS ${marker}` }, 500);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    // The statement is gone from the server soon after the deadline, not 5 s later.
    const running = async () => {
      const [rows] = await admin.query<({ n: number } & import('mysql2').RowDataPacket)[]>(
        'SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND info LIKE ?',
        [`%${marker}%`],
      );
      return Number(rows[0]!.n);
    };
    await waitFor('the statement to end on the server', async () => (await running()) === 0, 1500);
  });

  it('server-side bound: the statement carries its own limit and leaves no setting behind on the connection', async () => {
    const text = boundedQuery('SELECT 1', '5.5.5-10.11.19-MariaDB', Date.now() + 1000);
    expect(text).toMatch(/^SET STATEMENT max_statement_time=1\.\d{3} FOR\nSELECT 1$/);
    const [before] = await admin.query<({ t: string } & import('mysql2').RowDataPacket)[]>('SELECT @@session.max_statement_time AS t');
    await admin.query(text);
    const [after] = await admin.query<({ t: string } & import('mysql2').RowDataPacket)[]>('SELECT @@session.max_statement_time AS t');
    expect(after[0]!.t).toBe(before[0]!.t);
  });

  it('server-side bound: MySQL gets the MAX_EXECUTION_TIME hint on a SELECT, other servers and statements the query as given', () => {
    const deadline = Date.now() + 1000;
    expect(boundedQuery('  select 1 -- note', '8.0.36', deadline)).toMatch(/^ {2}select \/\*\+ MAX_EXECUTION_TIME\(1\d{3}\) \*\/ 1 -- note$/);
    expect(boundedQuery('SELECT 1', '5.7.44-log', deadline)).toMatch(/MAX_EXECUTION_TIME/);
    expect(boundedQuery('SELECT 1', '5.7.25-TiDB-v7.5.0', deadline)).toMatch(/MAX_EXECUTION_TIME/);
    expect(boundedQuery('DO 1', '8.0.36', deadline)).toBe('DO 1');
    expect(boundedQuery('SELECT 1', '5.6.51', deadline)).toBe('SELECT 1');
    expect(boundedQuery('SELECT 1', '10.0.38-MariaDB', deadline)).toBe('SELECT 1');
    expect(boundedQuery('SELECT 1', '11.4.2-MariaDB', deadline)).toMatch(/^SET STATEMENT max_statement_time=/);
    expect(boundedQuery('SELECT 1', 'not a version', deadline)).toBe('SELECT 1');
  });

  it('a trailing comment in the query cannot swallow the bound', async () => {
    await expectPass({ url: MYSQL_URL, query: 'SELECT 1 -- the end' });
    await expectPass({ url: MYSQL_URL, query: 'SELECT 1;' });
  });

  it('leaves no session behind after passing and failing attempts', async () => {
    const sessions = async () => {
      const [rows] = await admin.query<({ n: number } & import('mysql2').RowDataPacket)[]>(
        "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND info LIKE '%vigil_leftover%'",
      );
      return Number(rows[0]!.n);
    };
    for (let i = 0; i < 10; i++) await expectPass({ url: MYSQL_URL, query: 'SELECT 1 AS vigil_leftover' });
    await expectFailure('body', { url: MYSQL_URL, query: 'SELECT vigil_leftover FROM nowhere' });
    await waitFor('sessions to end', async () => (await sessions()) === 0, 3000);
  });
});

describe('mysql check: ssl-mode against a server without TLS (the shared one)', () => {
  it('no ssl-mode is PREFERRED, as in the mysql client: passes in plain', async () => {
    await expectPass({ url: MYSQL_URL, query: PLAIN });
  });

  it('ssl-mode=DISABLED passes in plain', async () => {
    await expectPass({ url: withParams(MYSQL_URL, 'ssl-mode=DISABLED'), query: PLAIN });
  });

  for (const mode of ['REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY']) {
    it(`ssl-mode=${mode} fails with tls, saying the server does not offer TLS`, async () => {
      const result = await runOnce(mysql, { url: withParams(MYSQL_URL, `ssl-mode=${mode}`) });
      expect(result).toMatchObject({ ok: false, reason: 'tls' });
      expect(result.message).toMatch(new RegExp(`does not offer TLS \\(ssl-mode=${mode}\\)`));
    });
  }
});

describe('mysql check against a throw-away MariaDB with TLS', () => {
  let server: MariaDb;
  beforeAll(async () => {
    server = await startMariaDb({ tls: true, maxConnections: 3 });
    await server.sql(
      [
        "CREATE USER 'pw'@'127.0.0.1' IDENTIFIED BY 'S3cret pass'",
        "GRANT ALL ON test.* TO 'pw'@'127.0.0.1'",
        "CREATE USER 'tlsonly'@'127.0.0.1' REQUIRE SSL",
        "CREATE USER 'client'@'127.0.0.1' REQUIRE X509",
        "CREATE USER 'app'@'127.0.0.1'",
        "GRANT USAGE, SELECT ON test.* TO 'tlsonly'@'127.0.0.1', 'client'@'127.0.0.1', 'app'@'127.0.0.1'",
      ].join(';'),
    );
  }, 60_000);
  afterAll(async () => server?.stop());

  it('a password: the right one passes, a wrong one fails with auth', async () => {
    await expectPass({ url: server.url('pw', 'S3cret pass') });
    const wrong = await runOnce(mysql, { url: server.url('pw', 'wrong') });
    expect(wrong).toMatchObject({ ok: false, reason: 'auth' });
    expect(wrong.message).toMatch(/Access denied for user 'pw'.*error 1045/);
    expect(wrong.message).not.toContain('wrong');
  });

  it('no ssl-mode is PREFERRED: encrypts when the server offers TLS, without verifying its certificate', async () => {
    await expectPass({ url: server.url(), query: ENCRYPTED });
    await expectPass({ url: server.url('tlsonly') });
  });

  it('ssl-mode=DISABLED stays in plain: an account that requires TLS is refused with auth', async () => {
    await expectPass({ url: server.url('root', undefined, 'ssl-mode=DISABLED'), query: PLAIN });
    await expectFailure('auth', { url: server.url('tlsonly', undefined, 'ssl-mode=DISABLED') });
  });

  it('ssl-mode=REQUIRED encrypts without verifying the certificate', async () => {
    await expectPass({ url: server.url('tlsonly', undefined, 'ssl-mode=REQUIRED'), query: ENCRYPTED });
  });

  it('ssl-mode=VERIFY_IDENTITY: passes with the CA (ssl-ca or tls.caFile), fails with tls without it or with another CA', async () => {
    await expectPass({ url: server.url('tlsonly', undefined, `ssl-mode=VERIFY_IDENTITY&ssl-ca=${server.files.ca}`) });
    await expectPass({ url: server.url('tlsonly', undefined, 'ssl-mode=VERIFY_IDENTITY'), tls: { caFile: server.files.ca } });
    const unknown = await runOnce(mysql, { url: server.url('tlsonly', undefined, 'ssl-mode=VERIFY_IDENTITY') });
    expect(unknown).toMatchObject({ ok: false, reason: 'tls' });
    expect(unknown.message).toMatch(/TLS handshake with mysql 127\.0\.0\.1:\d+\/test failed/);
    await expectFailure('tls', { url: server.url('tlsonly', undefined, `ssl-mode=VERIFY_IDENTITY&ssl-ca=${server.files.otherCa}`) });
  });

  it('a tls block without ssl-mode means VERIFY_IDENTITY: the name is checked (serverName), the chain too', async () => {
    await expectPass({ url: server.url('tlsonly'), tls: { caFile: server.files.ca } });
    const otherName = await runOnce(mysql, { url: server.url('tlsonly'), tls: { caFile: server.files.ca, serverName: 'db.example.com' } });
    expect(otherName).toMatchObject({ ok: false, reason: 'tls' });
    expect(otherName.message).toMatch(/db\.example\.com/);
    await expectPass({ url: server.url('tlsonly'), tls: { insecureSkipVerify: true }, query: ENCRYPTED });
  });

  it('ssl-mode=VERIFY_CA checks the chain, not the name', async () => {
    await expectPass({ url: server.url('tlsonly', undefined, 'ssl-mode=VERIFY_CA'), tls: { caFile: server.files.ca, serverName: 'db.example.com' } });
    await expectFailure('tls', { url: server.url('tlsonly', undefined, 'ssl-mode=VERIFY_CA') });
  });

  it('a client certificate (ssl-cert and ssl-key, or the tls block) logs in an account that requires one', async () => {
    const { ca, clientCert, clientKey } = server.files;
    await expectPass({ url: server.url('client', undefined, `ssl-ca=${ca}&ssl-cert=${clientCert}&ssl-key=${clientKey}`) });
    await expectPass({ url: server.url('client'), tls: { caFile: ca, certFile: clientCert, keyFile: clientKey } });
    await expectFailure('auth', { url: server.url('client'), tls: { caFile: ca } });
  });

  it('a certificate file that cannot be read fails with tls, naming it as the user did', async () => {
    const result = await runOnce(mysql, { url: server.url('root', undefined, 'ssl-ca=/nonexistent/ca.pem') });
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toMatch(/cannot read ssl-ca \/nonexistent\/ca\.pem/);
  });

  it('too many connections: fails with connect_refused', async () => {
    // max_connections 3 (an administrator may exceed it): hold them all as an ordinary account.
    const held: Connection[] = [];
    try {
      for (;;) {
        const connection = await createConnection({ host: '127.0.0.1', port: server.port, user: 'app' }).catch(() => undefined);
        if (!connection) break;
        held.push(connection);
        if (held.length > 10) throw new Error('max_connections is not enforced');
      }
      const result = await runOnce(mysql, { url: server.url('app') });
      expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
      expect(result.message).toMatch(/Too many connections.*error 1040/);
    } finally {
      await Promise.all(held.map((connection) => connection.end()));
    }
  });
});
