import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../checks/postgres.js';
import { freePort, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { PG_URL } from '../helpers/services.js';

const withUser = (user: string, password?: string) => {
  const url = new URL(PG_URL);
  url.username = user;
  url.password = password ?? '';
  return url.href;
};

/** Backends of this agent (application_name vigil) still present on the server. */
async function vigilBackends(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'vigil'");
  return Number(rows[0]!.n);
}

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
});
afterAll(async () => admin.end());

describe('postgres check against a real server', () => {
  it('passes on a healthy server with the default SELECT 1', async () => {
    expect(await runOnce(postgres, { url: PG_URL })).toMatchObject({ ok: true });
  });

  it('runs the configured query', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: 'SELECT count(*) FROM pg_class' })).toMatchObject({ ok: true });
    const bad = await runOnce(postgres, { url: PG_URL, query: 'SELECT * FROM no_such_table' });
    expect(bad).toMatchObject({ ok: false, reason: 'body' });
    expect(bad.message).toMatch(/no_such_table.*42P01/);
  });

  it('fails with auth for a role that does not exist', async () => {
    const result = await runOnce(postgres, { url: withUser('no_such_role_vigil') });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/SQLSTATE 28000/);
  });

  it('fails with connect_refused on a closed port', async () => {
    const url = new URL(PG_URL);
    url.port = String(await freePort());
    expect(await runOnce(postgres, { url: url.href })).toMatchObject({ ok: false, reason: 'connect_refused' });
  });

  it('fails at its timeout against a server that never answers, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(postgres, (port) => ({ url: `postgres://u@127.0.0.1:${port}/db` }));
  });

  it('fails at its timeout when the query outlives it, and the server cancels the query', async () => {
    const started = Date.now();
    const result = await runOnce(postgres, { url: PG_URL, query: 'SELECT pg_sleep(5)' }, 500);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor('the backend to end', async () => (await vigilBackends(admin)) === 0, 3000);
  });

  it('leaves no backend behind after passing and failing attempts', async () => {
    for (let i = 0; i < 10; i++) await runOnce(postgres, { url: PG_URL });
    await runOnce(postgres, { url: PG_URL, query: 'SELECT 1/0' });
    await waitFor('backends to end', async () => (await vigilBackends(admin)) === 0, 3000);
  });
});
