// connection: persistent against real servers of their own (a throw-away PostgreSQL cluster and
// redis-server), counted where it matters, at the server: one connection per check, replaced after
// an idle timeout or a restart without a false failure, closed at reload, removal and stop.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import type { CheckConfig } from '../../src/config/types.js';
import { createRunner, type Runner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startCluster, type Cluster } from '../helpers/pg-cluster.js';
import { startPgBouncer } from '../helpers/pgbouncer.js';
import { quiet, configOf, connectionsSeries } from '../helpers/persistent.js';

/** A throw-away redis-server on `port` (a free one by default). */
async function startRedis(port?: number, args: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  const bound = port ?? (await freePort());
  const child: ChildProcess = spawn('redis-server', ['--port', String(bound), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  const started = waitFor(`redis-server on ${bound}`, () =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: bound }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    }),
  );
  await started.catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    port: bound,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}




describe('postgres, connection: persistent (a throw-away cluster)', () => {
  let cluster: Cluster;
  const backends = (app: string) => Number(cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${app}'`).trim());
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  const check = (app: string, extra: Partial<CheckConfig> = {}): CheckConfig =>
    configOf({ db: `{ type: postgres, url: "${cluster.url('postgres', '127.0.0.1', `application_name=${app}`)}" }` }).checks.map((c) => ({ ...c, ...extra }))[0]!;

  it('one backend serves every attempt; the backend pid stays the same', async () => {
    const runner = createRunner(kinds);
    const db = check('keep');
    for (let i = 0; i < 20; i++) expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
    expect(backends('keep')).toBe(1);
    expect(runner.connections(db)).toBe(1);
    runner.closeAll();
    await waitFor('the backend to end', () => backends('keep') === 0);
  });

  it('a backend ended by idle_session_timeout between attempts is replaced without a failure (and its FATAL notice never reaches the process)', async () => {
    cluster.sql("ALTER ROLE postgres SET idle_session_timeout = '300ms'");
    try {
      const runner = createRunner(kinds);
      const db = check('idle');
      const results: CheckResult[] = [];
      const pids = new Set<string>();
      for (let i = 0; i < 4; i++) {
        results.push((await attempt(db, runner.run))!);
        pids.add(cluster.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'idle'").trim());
        await new Promise((resolve) => setTimeout(resolve, 600));
      }
      expect(results.map((r) => (r.ok ? 'pass' : `${r.reason}: ${r.message}`))).toEqual(['pass', 'pass', 'pass', 'pass']);
      // Each attempt met a backend the server had ended: every one was replaced.
      expect(pids.size).toBe(4);
      runner.closeAll();
    } finally {
      cluster.sql('ALTER ROLE postgres RESET idle_session_timeout');
    }
  });

  it('a server restart between attempts costs no failure; one still down costs one failure, then it recovers at the next attempt', async () => {
    const runner = createRunner(kinds);
    const db = check('restart');
    expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
    cluster.halt();
    cluster.resume();
    expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
    cluster.halt();
    try {
      expect(await attempt(db, runner.run)).toMatchObject({ ok: false, reason: 'connect_refused' });
    } finally {
      cluster.resume();
    }
    expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
    expect(backends('restart')).toBe(1);
    runner.closeAll();
  });

  it('a reload that changes the check closes the old connection before the new one opens; removal and stop close it', async () => {
    const url = (app: string) => cluster.url('postgres', '127.0.0.1', `application_name=${app}`);
    const agent = createAgent(configOf({ db: `{ type: postgres, url: "${url('before')}" }` }), { kinds, log: quiet(), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('the first connection', () => backends('before') === 1);
      expect(await connectionsSeries(agent, 'db')).toBe(1);
      await agent.reload(configOf({ db: `{ type: postgres, url: "${url('after')}" }` }));
      await waitFor('the new connection, and the old one closed', () => backends('after') === 1 && backends('before') === 0);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect([backends('before'), backends('after')]).toEqual([0, 1]);
      await agent.reload(configOf({ other: `{ type: postgres, url: "${url('other')}" }` }));
      await waitFor('the removed check closed', () => backends('after') === 0 && backends('other') === 1);
      expect(await connectionsSeries(agent, 'db')).toBeUndefined();
    } finally {
      await agent.stop();
    }
    await waitFor('stop to close every connection', () => backends('other') === 0);
  });
});

describe('postgres, connection: persistent, through TLS and through PgBouncer', () => {
  it('keeps one TLS connection (sslmode=verify-full) for every attempt', async () => {
    const cluster = await startCluster({ tls: true });
    try {
      const runner = createRunner(kinds);
      const url = cluster.url('postgres', '127.0.0.1', `sslmode=verify-full&sslrootcert=${cluster.files.ca}&application_name=tls`);
      const db = configOf({ db: `{ type: postgres, url: "${url}" }` }).checks[0]!;
      for (let i = 0; i < 5; i++) expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
      expect(cluster.sql("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'tls' AND s.ssl").trim()).toBe('1');
      await runner.closeAll();
      expect(cluster.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tls'").trim()).toBe('0');
    } finally {
      cluster.stop();
    }
  });

  it("a client connection PgBouncer closes at its client_idle_timeout is replaced without a failure", async () => {
    const bouncer = await startPgBouncer('transaction', ['client_idle_timeout = 1']);
    try {
      const runner = createRunner(kinds);
      const db = configOf({ db: `{ type: postgres, url: "${bouncer.url}" }` }).checks[0]!;
      expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(runner.connections(db)).toBe(0);
      expect(await attempt(db, runner.run)).toMatchObject({ ok: true });
      expect(bouncer.log()).toMatch(/client_idle_timeout/);
      await runner.closeAll();
    } finally {
      await bouncer.stop();
    }
  });
});

describe('redis, connection: persistent (a throw-away redis-server)', () => {
  /** vigil's clients in the server's CLIENT LIST (asked with redis-cli: no client of the test's own stays connected). */
  const clients = async (port: number) =>
    execFileSync('redis-cli', ['-p', String(port), 'CLIENT', 'LIST']).toString().split('\n').filter((line) => / name=vigil /.test(line)).length;

  const check = (port: number) => configOf({ cache: `{ type: redis, url: "redis://127.0.0.1:${port}/0" }` }).checks[0]!;

  it('one client serves every attempt; the server closing it at its idle timeout costs no failure', async () => {
    const server = await startRedis(undefined, ['--timeout', '1']);
    try {
      const runner = createRunner(kinds);
      const cache = check(server.port);
      for (let i = 0; i < 20; i++) expect(await attempt(cache, runner.run)).toMatchObject({ ok: true });
      expect(await clients(server.port)).toBe(1);
      // redis closes clients idle for more than `timeout` seconds (checked every 100 ms or so).
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await clients(server.port)).toBe(0);
      expect(runner.connections(cache)).toBe(0);
      expect(await attempt(cache, runner.run)).toMatchObject({ ok: true });
      expect(await clients(server.port)).toBe(1);
      runner.closeAll();
      await waitFor('the client to close', async () => (await clients(server.port)) === 0);
    } finally {
      await server.stop();
    }
  });

  it('a restart between attempts costs no failure; a server still down costs one, then it recovers', async () => {
    let server = await startRedis();
    const port = server.port;
    let runner: Runner | undefined;
    try {
      runner = createRunner(kinds);
      const cache = check(port);
      expect(await attempt(cache, runner.run)).toMatchObject({ ok: true });
      await server.stop();
      server = await startRedis(port);
      expect(await attempt(cache, runner.run)).toMatchObject({ ok: true });
      await server.stop();
      expect(await attempt(cache, runner.run)).toMatchObject({ ok: false, reason: 'connect_refused' });
      server = await startRedis(port);
      expect(await attempt(cache, runner.run)).toMatchObject({ ok: true });
      expect(await clients(port)).toBe(1);
    } finally {
      runner?.closeAll();
      await server.stop();
    }
  });

  it('stop closes the kept client', async () => {
    const server = await startRedis();
    try {
      const agent = createAgent(configOf({ cache: `{ type: redis, url: "redis://127.0.0.1:${server.port}/0" }` }), { kinds, log: quiet(), version: 'test' });
      await agent.start({ listen: false });
      await waitFor('the kept client', async () => (await clients(server.port)) === 1);
      expect(await connectionsSeries(agent, 'cache')).toBe(1);
      await agent.stop();
      await waitFor('stop to close it', async () => (await clients(server.port)) === 0);
    } finally {
      await server.stop();
    }
  });
});
