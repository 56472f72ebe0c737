// connection: persistent against the local MariaDB and RabbitMQ, counted where it matters, at the
// server: one connection per check serving every attempt, one the server ended between attempts
// replaced without a failure, one a timed-out statement held let go before its replacement opens,
// and closed at reload and stop; through TLS, a throw-away MariaDB with the test's certificates.
// The local MariaDB's sessions are told apart by a database of the test's own
// (processlist's DB column); the broker's by the local ports of this process's own connections
// (ss), confirmed by the broker (rabbitmqctl, product vigil).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import { createRunner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { startMariaDb } from '../helpers/mariadb.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { waitFor } from '../helpers/net.js';
import { closeConnectionFrom, vigilConnectionsFrom } from '../helpers/rabbitmq.js';
import { AMQP_URL, MYSQL_URL } from '../helpers/services.js';
import { quiet, configOf } from '../helpers/persistent.js';

const run = promisify(execFile);
const outcome = (result: CheckResult | undefined) => (result?.ok ? 'pass' : `${result?.reason}: ${result?.message}`);


describe('mysql, connection: persistent (the local MariaDB, a database of the test its own)', () => {
  const server = new URL(MYSQL_URL);
  const databases: string[] = [];
  let admin: Connection;
  /** A new database, so that the test's sessions are the only ones in it. */
  const database = async () => {
    const name = `vigil_keep_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    databases.push(name);
    return name;
  };
  const urlOf = (db: string) => `mysql://${server.username || 'root'}${server.password ? `:${server.password}` : ''}@${server.host}/${db}`;
  /** The ids of the server's sessions in `db`. */
  const sessions = async (db: string) => {
    const [rows] = await admin.query<({ id: number } & RowDataPacket)[]>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? ORDER BY ID', [db]);
    return rows.map((row) => Number(row.id));
  };
  const check = (db: string, extra = '', timeout = '1s') => configOf({ db: `{ type: mysql, url: "${urlOf(db)}"${extra} }` }, timeout).checks[0]!;

  beforeAll(async () => {
    admin = await createConnection(MYSQL_URL);
  });
  afterAll(async () => {
    for (const name of databases) await admin?.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin?.end();
  });

  it('one session serves every attempt: its id stays the same, and the expect is judged at each', async () => {
    const db = await database();
    const runner = createRunner(kinds);
    const keep = check(db, ', query: "SELECT CONNECTION_ID() > 0", expect: true');
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      expect(outcome(await attempt(keep, runner.run))).toBe('pass');
      const seen = await sessions(db);
      expect(seen).toHaveLength(1);
      ids.add(seen[0]!);
    }
    expect(ids.size).toBe(1);
    expect(runner.connections(keep)).toBe(1);
    await runner.closeAll();
    expect(await sessions(db)).toEqual([]);
  });

  it('an expect that fails is reported as a fresh attempt reports it (assertion), and the next attempt opens a new session', async () => {
    const db = await database();
    const runner = createRunner(kinds);
    const wrong = check(db, ', query: "SELECT 2", expect: "== 1"');
    const result = await attempt(wrong, runner.run);
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result!.message).toMatch(/first column == 1 fails/);
    // The core closed the connection after the failure (its state unknown).
    await waitFor('the session to end', async () => (await sessions(db)).length === 0);
    await runner.closeAll();
  });

  it("a statement the server refuses, or a result that fails the expect, on a kept session is reported as is, with no second connection in the attempt", async () => {
    const db = await database();
    await admin.query(`CREATE TABLE ${db}.jobs (id INT)`);
    // Through a proxy that counts the connections the check opens.
    const proxy = await startFaultProxy(server.hostname, Number(server.port || 3306));
    try {
      const runner = createRunner(kinds);
      const url = `mysql://${server.username || 'root'}${server.password ? `:${server.password}` : ''}@127.0.0.1:${proxy.port}/${db}`;
      const jobs = configOf({ db: `{ type: mysql, url: "${url}", query: "SELECT COUNT(*) FROM jobs", expect: 0 }` }).checks[0]!;
      expect(outcome(await attempt(jobs, runner.run))).toBe('pass');
      await admin.query(`DROP TABLE ${db}.jobs`);
      const refused = await attempt(jobs, runner.run);
      expect(refused).toMatchObject({ ok: false, reason: 'body' });
      expect(refused!.message).toMatch(/error 1146/);
      // The server's answer came over the kept session: a new one would have answered the same.
      expect(proxy.accepted()).toBe(1);
      await waitFor('the session to end', async () => (await sessions(db)).length === 0);
      // A result that fails the expect is the server's answer too, over the kept session.
      await admin.query(`CREATE TABLE ${db}.jobs (id INT)`);
      expect(outcome(await attempt(jobs, runner.run))).toBe('pass');
      await admin.query(`INSERT INTO ${db}.jobs VALUES (1)`);
      expect(outcome(await attempt(jobs, runner.run))).toMatch(/^assertion: .*== 0 fails: it is 1/);
      expect(proxy.accepted()).toBe(2);
      await runner.closeAll();
    } finally {
      await proxy.close();
    }
  });

  it('a session the server killed between attempts costs no failure: the next attempt logs in again', async () => {
    const db = await database();
    const runner = createRunner(kinds);
    const keep = check(db);
    const results: string[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(outcome(await attempt(keep, runner.run)));
      const [id] = await sessions(db);
      ids.push(id!);
      await admin.query(`KILL ${id}`);
      // Half the time the attempt follows the KILL at once: the close may not have arrived yet.
      if (i % 2 === 0) await waitFor('the killed session to end', async () => (await sessions(db)).length === 0);
    }
    results.push(outcome(await attempt(keep, runner.run)));
    expect(results).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(new Set(ids).size).toBe(3);
    expect(await sessions(db)).toHaveLength(1);
    await runner.closeAll();
    expect(await sessions(db)).toEqual([]);
  });

  it('a statement still running at the timeout is ended with its session before the replacement logs in: never two sessions', async () => {
    const db = await database();
    const runner = createRunner(kinds);
    // Every attempt sleeps 2 s on the server, past the 300 ms timeout: each is a timeout, and the
    // session is told to end when it is closed (MariaDB's max_statement_time ends the sleep first).
    const slow = check(db, ', query: "SELECT SLEEP(2)"', '300ms');
    let most = 0;
    let isDone = false;
    const sampler = (async () => {
      while (!isDone) {
        most = Math.max(most, (await sessions(db)).length);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const results: CheckResult[] = [];
    const started = performance.now();
    for (let i = 0; i < 4; i++) {
      results.push((await attempt(slow, runner.run))!);
      // As the interval would: past the backoff of the second failure on (1 s, 2 s, ±20%).
      await new Promise((resolve) => setTimeout(resolve, i === 0 ? 0 : 1300 * 2 ** (i - 1)));
    }
    isDone = true;
    await sampler;
    expect(results.map((r) => r.reason)).toEqual(['timeout', 'timeout', 'timeout', 'timeout']);
    // None waited for the server's sleep: each ended at its own timeout.
    for (const result of results) expect(result.durationMs).toBeLessThan(300 + 250);
    expect(most).toBe(1);
    expect(performance.now() - started).toBeLessThan(15_000);
    await runner.closeAll();
    await waitFor('the last session to end', async () => (await sessions(db)).length === 0);
  }, 30_000);

  it('a reload that changes the check closes the old session before the new one opens; removal and stop close it', async () => {
    const [before, after, other] = [await database(), await database(), await database()];
    const config = (name: string, db: string) => configOf({ [name]: `{ type: mysql, url: "${urlOf(db)}" }` });
    const agent = createAgent(config('db', before), { kinds, log: quiet(), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('the first session', async () => (await sessions(before)).length === 1);
      await agent.reload(config('db', after));
      await waitFor('the new session, and the old one ended', async () => (await sessions(after)).length === 1 && (await sessions(before)).length === 0);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect([(await sessions(before)).length, (await sessions(after)).length]).toEqual([0, 1]);
      await agent.reload(config('other', other));
      await waitFor('the removed check closed', async () => (await sessions(after)).length === 0 && (await sessions(other)).length === 1);
    } finally {
      await agent.stop();
    }
    expect(await sessions(other)).toEqual([]);
  });
});

describe('mysql, connection: persistent, through TLS (a throw-away MariaDB with certificates of the test)', () => {
  it('keeps one encrypted session (ssl-mode=VERIFY_IDENTITY) for every attempt, reporting the certificate at each', async () => {
    const server = await startMariaDb({ tls: true });
    try {
      const runner = createRunner(kinds);
      // The statement itself proves the session encrypted: expect true only with a cipher.
      const query = "SELECT (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'Ssl_cipher') <> ''";
      const url = server.url('root', undefined, `ssl-mode=VERIFY_IDENTITY&ssl-ca=${server.files.ca}`);
      const db = configOf({ db: `{ type: mysql, url: "${url}", query: "${query}", expect: true }` }).checks[0]!;
      const ids = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const result = await attempt(db, runner.run);
        expect(outcome(result)).toBe('pass');
        expect(result!.observation).toHaveProperty('tlsLeafDaysLeft');
        const rows = (await server.sql("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = 'test' AND ID <> CONNECTION_ID()")) as { id: number }[];
        expect(rows).toHaveLength(1);
        ids.add(Number(rows[0]!.id));
      }
      expect(ids.size).toBe(1);
      await runner.closeAll();
      expect(await server.sql("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = 'test' AND ID <> CONNECTION_ID()")).toEqual([]);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('amqp, connection: persistent (the local RabbitMQ)', () => {
  const broker = new URL(AMQP_URL);
  const brokerPort = Number(broker.port || 5672);
  let admin: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const queues: string[] = [];

  /** Local ports of this process's connections to the broker (the test's own admin connection among them). */
  const ownPorts = async () => {
    const { stdout } = await run('ss', ['-tnpH', 'state', 'established', 'dst', `${broker.hostname}:${brokerPort}`]);
    return stdout
      .split('\n')
      .filter((line) => line.includes(`pid=${process.pid},`))
      .map((line) => Number(/:(\d+)\s+\S+:\d+\s/.exec(line)?.[1]))
      .filter((port) => Number.isInteger(port));
  };
  /** The peer ports of vigil's connections of this process, as the broker lists them. */
  const vigilPorts = async () => (await vigilConnectionsFrom(await ownPorts())).map((c) => c.peerPort).sort();
  const check = (extra = '') => configOf({ mq: `{ type: amqp, url: "${AMQP_URL.replace(/\/?$/, '/%2F')}"${extra} }` }).checks[0]!;

  beforeAll(async () => {
    admin = await amqplib.connect(AMQP_URL);
    channel = await admin.createChannel();
  });
  afterAll(async () => {
    for (const queue of queues) await channel?.deleteQueue(queue).catch(() => undefined);
    await admin?.close();
  });

  it('one connection serves every attempt, reporting the queue\'s counts; the broker lists it once', async () => {
    const queue = `vigil-keep-${randomBytes(4).toString('hex')}`;
    queues.push(queue);
    await channel.assertQueue(queue, { autoDelete: false });
    channel.sendToQueue(queue, Buffer.from('one'));
    const runner = createRunner(kinds);
    const mq = check(`, queue: "${queue}"`);
    const ports = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const result = await attempt(mq, runner.run);
      expect(outcome(result)).toBe('pass');
      expect(result!.observation).toMatchObject({ messages: 1, consumers: 0 });
      ports.add(JSON.stringify(await ownPorts()));
    }
    // The same sockets throughout: the admin connection and one of vigil's.
    expect(ports.size).toBe(1);
    expect(await vigilPorts()).toHaveLength(1);
    expect(runner.connections(mq)).toBe(1);
    await runner.closeAll();
    await waitFor('the broker to let the connection go', async () => (await vigilPorts()).length === 0, 15_000);
  }, 60_000);

  it('a missing queue fails as a fresh attempt fails (not_found) and the connection is closed; once the queue exists the check passes', async () => {
    const queue = `vigil-missing-${randomBytes(4).toString('hex')}`;
    queues.push(queue);
    const runner = createRunner(kinds);
    const mq = check(`, queue: "${queue}"`);
    const missing = await attempt(mq, runner.run);
    expect(missing).toMatchObject({ ok: false, reason: 'not_found' });
    expect(missing!.message).toContain(queue);
    // The core closes the connection after the failure, with the broker's consent (close, close-ok).
    await waitFor('the connection closed', () => runner.connections(mq) === 0, 5000);
    await channel.assertQueue(queue, { autoDelete: false });
    expect(outcome(await attempt(mq, runner.run))).toBe('pass');
    // A queue deleted under a kept connection: the kept channel is closed by the broker at the probe.
    await channel.deleteQueue(queue);
    expect(await attempt(mq, runner.run)).toMatchObject({ ok: false, reason: 'not_found' });
    await runner.closeAll();
    await waitFor('no connection left', async () => (await vigilPorts()).length === 0, 15_000);
  }, 60_000);

  it('a queue deleted under a kept connection is reported as is (not_found), with no second connection in the attempt', async () => {
    const queue = `vigil-deleted-${randomBytes(4).toString('hex')}`;
    queues.push(queue);
    await channel.assertQueue(queue, { autoDelete: false });
    // Through a proxy that counts the connections the check opens.
    const proxy = await startFaultProxy(broker.hostname, brokerPort);
    try {
      const runner = createRunner(kinds);
      const mq = configOf({ mq: `{ type: amqp, url: "amqp://guest:guest@127.0.0.1:${proxy.port}/%2F", queue: "${queue}" }` }).checks[0]!;
      expect(outcome(await attempt(mq, runner.run))).toBe('pass');
      await channel.deleteQueue(queue);
      expect(await attempt(mq, runner.run)).toMatchObject({ ok: false, reason: 'not_found' });
      expect(proxy.accepted()).toBe(1);
      await runner.closeAll();
      await waitFor('the connection closed', () => proxy.openConnections() === 0, 5000);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('a connection the broker closed between attempts costs no failure: the next attempt opens a new one', async () => {
    const runner = createRunner(kinds);
    const mq = check();
    const results: string[] = [outcome(await attempt(mq, runner.run))];
    const [first] = await vigilPorts();
    await closeConnectionFrom(first!, 'closed by the test');
    results.push(outcome(await attempt(mq, runner.run)));
    const [second] = await vigilPorts();
    await closeConnectionFrom(second!, 'closed by the test');
    // The attempt follows at once, as the close may just be arriving.
    results.push(outcome(await attempt(mq, runner.run)));
    results.push(outcome(await attempt(mq, runner.run)));
    expect(results).toEqual(['pass', 'pass', 'pass', 'pass']);
    const [third] = await vigilPorts();
    expect(new Set([first, second, third]).size).toBe(3);
    await runner.closeAll();
    await waitFor('no connection left', async () => (await vigilPorts()).length === 0, 15_000);
  }, 60_000);

  it('stop closes the kept connection', async () => {
    const agent = createAgent(configOf({ mq: `{ type: amqp, url: "${AMQP_URL}" }` }), { kinds, log: quiet(), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('the kept connection', async () => (await vigilPorts()).length === 1, 15_000);
    } finally {
      await agent.stop();
    }
    // Closed with the broker's consent: it no longer lists it.
    await waitFor('stop to close it', async () => (await vigilPorts()).length === 0, 15_000);
  }, 60_000);
});
