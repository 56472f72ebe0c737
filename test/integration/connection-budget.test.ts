// The connection budget of connection: persistent, counted by the servers themselves: over 10,000
// attempts per server, many of them timing out (about half for PostgreSQL and MariaDB),
// pg_stat_activity (a throw-away cluster), CLIENT LIST (a throw-away redis-server) and the local
// MariaDB's processlist (sessions in a database of the test's own) never show more of vigil's
// connections than there are persistent checks, sampled throughout. (The attempts that reach the server count; those failing at
// once while opens back off come on top.) Heavy (thousands of backends forked): runs in the leaks project.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import type { CheckResult } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import type { CheckConfig } from '../../src/config/types.js';
import { createRunner, type Runner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startCluster, type Cluster } from '../helpers/pg-cluster.js';
import { MYSQL_URL } from '../helpers/services.js';

const ATTEMPTS = 10_000;
const CHECKS = 16;

interface Run {
  outcomes: Record<string, number>;
  /** The most connections the server showed in any sample, and how many samples were taken. */
  most: number;
  samples: number;
  /** The most the checks' vigil_check_connections summed to in any sample. */
  mostHeld: number;
}

/**
 * Runs attempts on every check, one at a time per check, until ATTEMPTS of them reached the server
 * (passed or met their timeout), sampling `count` throughout. Attempts that failed at once while
 * opens backed off are counted apart and do not count toward ATTEMPTS; after one the check waits a
 * little, as its interval would make it.
 */
async function drive(runner: Runner, checks: readonly CheckConfig[], count: () => Promise<number>, pauseMs = 0): Promise<Run> {
  const outcomes: Record<string, number> = {};
  let done = false;
  let most = 0;
  let mostHeld = 0;
  let samples = 0;
  const sampler = (async () => {
    while (!done) {
      most = Math.max(most, await count());
      mostHeld = Math.max(mostHeld, checks.reduce((sum, check) => sum + runner.connections(check)!, 0));
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  await Promise.all(
    checks.map(async (check) => {
      for (let reached = 0; reached < ATTEMPTS / checks.length; ) {
        const result = (await attempt(check, runner.run)) as CheckResult;
        // An attempt failing fast while opens back off is not one that met its timeout.
        const isBackingOff = !result.ok && result.message!.includes('backing off');
        const key = result.ok ? 'pass' : isBackingOff ? `${result.reason} (backing off)` : result.reason!;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        if (!isBackingOff) reached++;
        if (pauseMs || isBackingOff) await new Promise((resolve) => setTimeout(resolve, Math.max(pauseMs, 25)));
      }
    }),
  );
  done = true;
  await sampler;
  return { outcomes, most, samples, mostHeld };
}

const checksOf = (timeout: string, blocks: (i: number) => string): CheckConfig[] => {
  const lines = Array.from({ length: CHECKS }, (_, i) => `  c${i}: ${blocks(i)}`).join('\n');
  return [...parseConfig(`defaults: { interval: 1s, timeout: ${timeout}, connection: persistent }\nchecks:\n${lines}\n`, { kinds }).checks];
};

/**
 * What a run of statements alternating between answering and sleeping past the timeout must show:
 * never more connections at the server, nor held by vigil, than checks; about half the attempts
 * timed out and half passed.
 */
function expectHalfTimedOutWithinBudget(server: string, run: Run): void {
  console.log(`connection budget, ${server}: ${JSON.stringify(run)}`);
  expect(run.most, JSON.stringify(run)).toBeLessThanOrEqual(CHECKS);
  expect(run.mostHeld).toBeLessThanOrEqual(CHECKS);
  expect(run.samples).toBeGreaterThan(100);
  expect(run.outcomes.timeout ?? 0, JSON.stringify(run.outcomes)).toBeGreaterThan(ATTEMPTS * 0.35);
  expect(run.outcomes.pass ?? 0, JSON.stringify(run.outcomes)).toBeGreaterThan(ATTEMPTS * 0.35);
}

describe('PostgreSQL: at most one backend per persistent check while half the attempts time out', () => {
  let cluster: Cluster;
  let admin: pg.Client;
  beforeAll(async () => {
    cluster = await startCluster();
    admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    for (let i = 0; i < CHECKS; i++) cluster.sql(`CREATE SEQUENCE budget_${i}`);
  });
  afterAll(async () => {
    await admin?.end();
    cluster?.stop();
  });

  it(`${ATTEMPTS} attempts over ${CHECKS} checks, every other one sleeping past its timeout: pg_stat_activity never shows more than ${CHECKS}`, async () => {
    const runner = createRunner(kinds);
    // Each check's own sequence makes its attempts alternate: even values sleep past the timeout.
    const checks = checksOf(
      '150ms',
      (i) => `{ type: postgres, url: "${cluster.url('postgres', '127.0.0.1', 'application_name=budget')}", query: "SELECT pg_sleep(CASE WHEN nextval('budget_${i}') % 2 = 0 THEN 1 ELSE 0 END)" }`,
    );
    const backends = async () => Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'budget'")).rows[0]!.n);
    const run = await drive(runner, checks, backends);
    // Each check's attempts alternate: about half of those that reached the server met the timeout.
    expectHalfTimedOutWithinBudget('postgres', run);
    await runner.closeAll();
    expect(await backends()).toBe(0);
  }, 400_000);
});

describe('Redis: at most one client per persistent check while about half the attempts time out', () => {
  let child: ChildProcess;
  let port: number;
  let pauser: Redis;
  let lister: Redis;
  beforeAll(async () => {
    port = await freePort();
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'], { stdio: 'ignore' });
    await waitFor(`redis-server on ${port}`, () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    );
    pauser = new Redis({ port, connectionName: 'admin' });
    lister = new Redis({ port, connectionName: 'admin' });
  });
  afterAll(() => {
    pauser?.disconnect();
    lister?.disconnect();
    child?.kill('SIGKILL');
  });

  it(`${ATTEMPTS} attempts over ${CHECKS} checks while the server sleeps most of the time: CLIENT LIST never shows more than ${CHECKS}`, async () => {
    const runner = createRunner(kinds);
    const checks = checksOf('25ms', () => `{ type: redis, url: "redis://127.0.0.1:${port}/0" }`);
    // Every client but the test's own two, whether or not its handshake (which names it) is done.
    const clients = async () => ((await lister.client('LIST')) as string).split('\n').filter((line) => line.includes(' addr=') && !/ name=admin /.test(line)).length;
    let isDone = false;
    // The whole server sleeps 40 ms at a time, then answers for 30 ms; each check attempts about
    // every 20 ms: an attempt started in a sleep times out, its replacement opens in the next gap.
    const sleeper = (async () => {
      while (!isDone) {
        await pauser.call('DEBUG', 'SLEEP', '0.04');
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    const run = await drive(runner, checks, clients, 20);
    isDone = true;
    await sleeper;
    console.log(`connection budget, redis: ${JSON.stringify(run)}`);
    expect(run.most, JSON.stringify(run)).toBeLessThanOrEqual(CHECKS);
    expect(run.mostHeld).toBeLessThanOrEqual(CHECKS);
    expect(run.samples).toBeGreaterThan(100);
    // A sleep meets every check at once: after one timeout a check's replacement often meets the next
    // sleep too, and its opens back off. How many attempts land in a sleep depends on the machine's
    // load (one in ten on a busy machine, one in several hundred on a quiet one, each followed by a
    // replacement that backs off while it meets sleeps): what must hold is that timeouts happened,
    // and replaced connections never outnumbered the checks.
    expect(run.outcomes.timeout ?? 0, JSON.stringify(run.outcomes)).toBeGreaterThan(0);
    await runner.closeAll();
    await waitFor('every client closed', async () => (await clients()) === 0);
  }, 400_000);
});

describe('MariaDB: at most one session per persistent check while half the attempts time out', () => {
  // The local server, untouched but for a database of the test's own: its sessions are vigil's.
  const db = `vigil_budget_${process.pid}`;
  let admin: Connection;
  beforeAll(async () => {
    admin = await createConnection(MYSQL_URL);
    await admin.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
  });
  afterAll(async () => {
    await admin?.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin?.end();
  });

  it(`${ATTEMPTS} attempts over ${CHECKS} checks, every other one sleeping past its timeout: the processlist never shows more than ${CHECKS}`, async () => {
    const runner = createRunner(kinds);
    const server = new URL(MYSQL_URL);
    const url = `mysql://${server.username || 'root'}${server.password ? `:${server.password}` : ''}@${server.host}/${db}`;
    // Every second statement on a session sleeps 200 ms, past the 150 ms timeout: the session is
    // still running it when the check closes it, and a replacement that did not wait would log in
    // beside it. (It ends within its server-side bound, 250 ms: under a few hundred interruptions
    // by max_statement_time a second, MariaDB 10.11 stalls every statement for seconds, its own
    // clients' too, and the sessions would outlive any close.)
    const checks = checksOf('150ms', () => `{ type: mysql, url: "${url}", query: "SELECT SLEEP(IF((@n := COALESCE(@n, 0) + 1) % 2 = 0, 0.2, 0))" }`);
    // A session is in the database once logged in (one still logging in is not yet counted).
    const sessions = async () => Number((await admin.query<({ n: number } & RowDataPacket)[]>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?', [db]))[0][0]!.n);
    const run = await drive(runner, checks, sessions);
    expectHalfTimedOutWithinBudget('mariadb', run);
    await runner.closeAll();
    await waitFor('every session to end', async () => (await sessions()) === 0);
  }, 400_000);
});
