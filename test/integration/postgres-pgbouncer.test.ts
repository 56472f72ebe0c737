// The postgres check through a real PgBouncer (Debian's package, run on a free port with its own
// ini) in front of the shared PostgreSQL, in session, transaction and statement pooling.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../checks/postgres.js';
import { waitFor } from '../helpers/net.js';
import { startPgBouncer, type PgBouncer, type PoolMode } from '../helpers/pgbouncer.js';
import { runOnce } from '../helpers/run.js';
import { PG_URL } from '../helpers/services.js';

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
});
afterAll(async () => admin.end());

/** Statements still running on the real server whose text contains `marker`. */
async function running(marker: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()", [marker]);
  return Number(rows[0]!.n);
}

for (const mode of ['session', 'transaction', 'statement'] as PoolMode[]) {
  describe(`PgBouncer: every attempt fails with unsupported startup parameter: statement_timeout (${mode} pooling)`, () => {
    let bouncer: PgBouncer;
    beforeAll(async () => {
      bouncer = await startPgBouncer(mode);
    });
    afterAll(async () => bouncer?.stop());

    it('passes with the default query and with a custom one', async () => {
      expect(await runOnce(postgres, { url: bouncer.url })).toMatchObject({ ok: true });
      expect(await runOnce(postgres, { url: bouncer.url, query: 'SELECT count(*) FROM pg_class -- a trailing comment' })).toMatchObject({ ok: true });
    });

    it('leaves no statement_timeout on the pooled server connection', async () => {
      expect(await runOnce(postgres, { url: bouncer.url })).toMatchObject({ ok: true });
      // One server connection in the pool: the next client gets the one the check used.
      const client = new pg.Client({ connectionString: bouncer.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
        expect(rows[0]!.statement_timeout).toBe('0');
      } finally {
        await client.end();
      }
    });

    it('a slow query ends at the timeout, and the server cancels the statement', async () => {
      const marker = `vigil_pgbouncer_${mode}_${process.pid}_${Date.now()}`;
      const started = Date.now();
      const attempt = runOnce(postgres, { url: bouncer.url, query: `SELECT pg_sleep(30) /* ${marker} */` }, 1500);
      await waitFor('the statement to run on the server', async () => (await running(marker)) === 1, 1500, 20);
      const result = await attempt;
      expect(result, result.message).toMatchObject({ ok: false, reason: 'timeout' });
      expect(Date.now() - started).toBeLessThan(3000);
      await waitFor('the statement to end on the server', async () => (await running(marker)) === 0, 5000);
    });

    it('a startup parameter the pooler refuses is protocol (SQLSTATE 08P01), and the message names the cause', async () => {
      // node-postgres sends a statement_timeout URL parameter in the startup packet.
      const result = await runOnce(postgres, { url: `${bouncer.url}?statement_timeout=5000` });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toMatch(/the server \(or a pooler in front of it\) refused .*unsupported startup parameter: statement_timeout \(SQLSTATE 08P01\)/);
    });
  });
}
