// How the postgres check judges a server error (SQLSTATE): by its class and by when it came. Only an
// error of the query itself is `body`; one before the login completed says why there is no session.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../checks/postgres.js';
import { authenticationOk, errorResponse, readyForQuery, startFakePostgres, type FakePostgres } from '../helpers/fake-postgres.js';
import { startCluster, type Cluster } from '../helpers/pg-cluster.js';
import { runOnce } from '../helpers/run.js';
import { PG_URL } from '../helpers/services.js';

// A throw-away cluster for a role of the test's own.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ hba: ['local all all trust', 'host all secret 127.0.0.1/32 scram-sha-256', 'host all all 127.0.0.1/32 trust'] });
  cluster.sql("CREATE ROLE limited LOGIN CONNECTION LIMIT 0; CREATE ROLE secret LOGIN PASSWORD 'right-password'");
});
afterAll(() => cluster?.stop());

let server: FakePostgres | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that refuses the login with this error. */
async function refusingLogin(code: string, text: string) {
  server = await startFakePostgres({ onStartup: (socket) => socket.end(errorResponse(code, text)) });
  return runOnce(postgres, { url: server.url });
}

/** A server that logs in and answers the query with this error. */
async function failingQuery(code: string, text: string, severity = 'ERROR') {
  server = await startFakePostgres({
    onStartup: (socket) => socket.write(Buffer.concat([authenticationOk(), readyForQuery()])),
    onQuery: (socket) => socket.write(Buffer.concat([errorResponse(code, text, severity), readyForQuery()])),
  });
  return runOnce(postgres, { url: server.url });
}

describe('an unknown SQLSTATE class is not body unless the query ran', () => {
  it('53300 too_many_connections at login is connect_refused', async () => {
    const result = await refusingLogin('53300', 'sorry, too many clients already');
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/refused the connection: sorry, too many clients already \(SQLSTATE 53300\)/);
  });

  it('57P03 cannot_connect_now at login is connect_refused', async () => {
    const result = await refusingLogin('57P03', 'the database system is starting up');
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/starting up \(SQLSTATE 57P03\)/);
  });

  it('08006 connection_failure and 08P01 protocol_violation at login are protocol', async () => {
    expect(await refusingLogin('08006', 'connection failure')).toMatchObject({ ok: false, reason: 'protocol' });
    const refused = await refusingLogin('08P01', 'unsupported startup parameter: extra_float_digits');
    expect(refused).toMatchObject({ ok: false, reason: 'protocol' });
    expect(refused.message).toMatch(/the server \(or a pooler in front of it\) refused .*unsupported startup parameter: extra_float_digits \(SQLSTATE 08P01\)/);
  });

  it('any other class at login is unknown, not body', async () => {
    const result = await refusingLogin('XX000', 'internal error');
    expect(result).toMatchObject({ ok: false, reason: 'unknown' });
    expect(result.message).toMatch(/failed the login: internal error \(SQLSTATE XX000\)/);
  });

  it('class 28 at login is auth', async () => {
    expect(await refusingLogin('28P01', 'password authentication failed for user "vigil"')).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('an error of the query itself is body; the session ended under the query (57P01) is protocol', async () => {
    expect(await failingQuery('42P01', 'relation "nope" does not exist')).toMatchObject({ ok: false, reason: 'body' });
    expect(await failingQuery('53100', 'could not extend file: No space left on device')).toMatchObject({ ok: false, reason: 'body' });
    expect(await failingQuery('57P01', 'terminating connection due to administrator command', 'FATAL')).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('a real server: too many connections for a role (53300) is connect_refused, a failing query body', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: 'SELECT 1/0' })).toMatchObject({ ok: false, reason: 'body' });
    const result = await runOnce(postgres, { url: cluster.url('limited') });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/too many connections for role "limited" \(SQLSTATE 53300\)/);
  });

  it('a server asking for a password the URL does not give is auth, as is a wrong password (28P01)', async () => {
    const none = await runOnce(postgres, { url: cluster.url('secret') });
    expect(none).toMatchObject({ ok: false, reason: 'auth' });
    expect(none.message).toMatch(/asks for a password, and the URL gives none/);
    const wrong = cluster.url('secret').replace('secret@', 'secret:wrong-password@');
    expect(await runOnce(postgres, { url: wrong })).toMatchObject({ ok: false, reason: 'auth' });
    expect(await runOnce(postgres, { url: cluster.url('secret').replace('secret@', 'secret:right-password@') })).toMatchObject({ ok: true });
  });
});
