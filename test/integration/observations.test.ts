// Observations of real servers, judged as the agent judges them (config, attempt, thresholds):
// certificate expiry over https and PostgreSQL with TLS (certificates dated by the test: 5 days
// left warns by default, 2 days fails, expired fails), PostgreSQL's role and a replica's lag (a
// throw-away primary and its streaming replica), Redis's role, clients and memory ratio (the local
// server, and a throw-away one with maxmemory).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import type { CheckResult } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import { createRunner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { chainOf, datedCertificates, daysFromNow, type Authority, type Issued } from '../helpers/dated-certs.js';
import { freePort, waitFor } from '../helpers/net.js';
import { startCluster, type Cluster } from '../helpers/pg-cluster.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const runner = createRunner(kinds);

/** One attempt of the check `block` describes (YAML flow map), judged by its thresholds. */
async function judged(block: string): Promise<CheckResult> {
  const config = parseConfig(`checks:\n  c: ${block}\n`, { kinds });
  const check = config.checks[0]!;
  await runner.prepare([check]);
  const result = await attempt(check, runner.run);
  if (!result) throw new Error('attempt stopped');
  return runner.judge(check, result);
}

let dir: string;
let root: Authority;
const certificates: Record<string, Issued> = {};
const https: Record<string, Server> = {};
const httpsPort: Record<string, number> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-observations-'));
  const certs = datedCertificates(dir);
  root = certs.root('observations-root', { notAfter: daysFromNow(3650) });
  certificates.valid = root.issue('valid-60d', { notAfter: daysFromNow(60) });
  certificates.warn = root.issue('expires-in-5d', { notAfter: daysFromNow(5) });
  certificates.fail = root.issue('expires-in-2d', { notAfter: daysFromNow(2) });
  certificates.expired = root.issue('expired-yesterday', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
  for (const [label, issued] of Object.entries(certificates)) {
    const server = createHttpsServer({ cert: chainOf(issued), key: readFileSync(issued.key) }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    https[label] = server;
    httpsPort[label] = (server.address() as { port: number }).port;
  }
});

afterAll(async () => {
  for (const server of Object.values(https)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

const httpsCheck = (label: string, extra = '') => `{ type: http, url: "https://localhost:${httpsPort[label]}/", tls: { caFile: "${root.cert}" }${extra} }`;

describe('certificate expiry over https', () => {
  it('a leaf expiring in 5 days: the check passes with a warning (default warnBefore 14d), leaf and chain days reported apart', async () => {
    const result = await judged(httpsCheck('warn'));
    expect(result, result.message).toMatchObject({ ok: true, observation: { statusCode: 200, tlsFirstToExpire: 'CN=expires-in-5d' } });
    expect(result.warning).toMatch(/^https:\/\/localhost:\d+\/: the leaf certificate "CN=expires-in-5d" expires in (4\.9\d|5) days, at \S+Z, within warnBefore \(14d\)$/);
    const measured = Object.fromEntries(result.measures!.map((m) => [m.name, m]));
    expect(measured.tlsLeafDaysLeft!.value).toBeCloseTo(5, 0);
    expect(measured.tlsChainDaysLeft).toMatchObject({ unit: 'days' });
    // The root CA lives ten years: the earliest of the chain is the leaf.
    expect(measured.tlsChainDaysLeft!.value).toBe(measured.tlsLeafDaysLeft!.value);
  });

  it('an expired certificate fails with cert_expiry (verification refuses it), and so does one within failBefore', async () => {
    const expired = await judged(httpsCheck('expired'));
    expect(expired).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(expired.message).toMatch(/^TLS handshake with https:\/\/localhost:\d+\/ failed: certificate has expired$/);
    const soon = await judged(httpsCheck('fail'));
    expect(soon).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(soon.message).toMatch(/the leaf certificate "CN=expires-in-2d" expires in (1\.9\d|2) days, at \S+Z, within failBefore \(3d\)$/);
    // The days left travel with the failure: the gauge and the health entry still show them.
    expect(soon.measures!.find((m) => m.name === 'tlsLeafDaysLeft')!.value).toBeCloseTo(2, 0);
    // Without verification the dates are still judged.
    expect(await judged(`{ type: http, url: "https://localhost:${httpsPort.expired}/", tls: { insecureSkipVerify: true } }`)).toMatchObject({ ok: false, reason: 'cert_expiry' });
  });

  it('warnBefore/failBefore per check, and warnIf/failIf on the days left', async () => {
    expect(await judged(httpsCheck('warn', ', warnBefore: 4d'))).toMatchObject({ ok: true });
    expect((await judged(httpsCheck('warn', ', warnBefore: 4d'))).warning).toBeUndefined();
    expect(await judged(httpsCheck('fail', ', failBefore: 1d'))).toMatchObject({ ok: true, warning: expect.stringContaining('within warnBefore (14d)') });
    const valid = await judged(httpsCheck('valid', ', warnIf: { tlsChainDaysLeft: "< 90" }'));
    expect(valid).toMatchObject({ ok: true, warning: expect.stringMatching(/^warnIf tlsChainDaysLeft < 90: observed (59\.9\d|60) days$/) });
    const failed = await judged(httpsCheck('valid', ', failIf: { tlsLeafDaysLeft: "< 1464h" }'));
    expect(failed).toMatchObject({ ok: false, reason: 'threshold', message: expect.stringMatching(/^failIf tlsLeafDaysLeft < 1464h: observed (59\.9\d|60) days$/) });
  });
});

describe('postgres: role, and a replica\'s lag', () => {
  let primary: Cluster;
  let replica: ChildProcess | undefined;
  let replicaPort: number;
  let replicaDir: string;
  const asPostgres = (command: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const BIN = '/usr/lib/postgresql/15/bin';
  const replicaSql = (text: string) => asPostgres(`${BIN}/psql`, ['-h', replicaDir, '-p', String(replicaPort), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-c', text]).trim();

  beforeAll(async () => {
    primary = await startCluster({ hba: ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'] });
    primary.sql('CREATE TABLE ticks (at timestamptz)');
    replicaDir = join(primary.dir, 'replica');
    asPostgres(`${BIN}/pg_basebackup`, ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', replicaDir, '-R', '--no-sync']);
    replicaPort = await freePort();
    replica = spawn('runuser', ['-u', 'postgres', '--', `${BIN}/postgres`, '-D', replicaDir, '-p', String(replicaPort), '-k', replicaDir, '-c', "listen_addresses=127.0.0.1", '-c', 'fsync=off'], { stdio: 'ignore' });
    await waitFor('the replica to accept connections', () => {
      try {
        return replicaSql('SELECT pg_is_in_recovery()') === 't';
      } catch {
        return undefined;
      }
    }, 30_000, 200);
  }, 60_000);

  afterAll(async () => {
    if (replica && replica.exitCode === null) {
      const exited = new Promise((resolve) => replica!.once('exit', resolve));
      asPostgres(`${BIN}/pg_ctl`, ['-D', replicaDir, '-m', 'immediate', '-w', 'stop']);
      await exited;
    }
    primary?.stop();
  });

  it('the local server is a primary: role primary, no replicationLagSeconds', async () => {
    const result = await judged(`{ type: postgres, url: "${PG_URL}", failIf: { replicationLagSeconds: "> 30" } }`);
    expect(result, result.message).toMatchObject({ ok: true, observation: { role: 'primary' } });
    expect(result.observation).not.toHaveProperty('replicationLagSeconds');
    expect(result.measures!.map((m) => m.name)).toEqual(['latency']);
  });

  it('role: false leaves the SELECT out: no role, no lag', async () => {
    const result = await judged(`{ type: postgres, url: "${PG_URL}", role: false }`);
    expect(result, result.message).toMatchObject({ ok: true });
    expect(result.observation ?? {}).not.toHaveProperty('role');
  });

  it('a caught-up replica: role replica, lag 0; with replay paused behind new writes, the lag grows and failIf fails it', async () => {
    const url = `postgres://postgres@127.0.0.1:${replicaPort}/postgres`;
    primary.sql('INSERT INTO ticks VALUES (now())');
    await waitFor('the replica to replay the write', () => replicaSql('SELECT count(*) FROM ticks') === '1' || undefined, 10_000, 100);
    await waitFor('the replica to have replayed all it received', async () => {
      const result = await judged(`{ type: postgres, url: "${url}" }`);
      return result.observation?.replicationLagSeconds === 0 ? result : undefined;
    }, 10_000, 100);
    const caughtUp = await judged(`{ type: postgres, url: "${url}", failIf: { replicationLagSeconds: "> 1" } }`);
    expect(caughtUp, caughtUp.message).toMatchObject({ ok: true, observation: { role: 'replica', replicationLagSeconds: 0 } });
    expect(caughtUp.measures!.find((m) => m.name === 'replicationLagSeconds')).toEqual({ name: 'replicationLagSeconds', value: 0, unit: 's', status: 'pass' });

    replicaSql('SELECT pg_wal_replay_pause()');
    try {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      primary.sql('INSERT INTO ticks VALUES (now())');
      const behind = await waitFor('the replica to receive what it does not replay', async () => {
        const result = await judged(`{ type: postgres, url: "${url}", failIf: { replicationLagSeconds: "> 1" } }`);
        return result.ok ? undefined : result;
      }, 10_000, 200);
      expect(behind).toMatchObject({ ok: false, reason: 'threshold', observation: { role: 'replica' } });
      expect(behind.message).toMatch(/^failIf replicationLagSeconds > 1: observed \d+(\.\d+)? s$/);
      expect(behind.observation!.replicationLagSeconds as number).toBeGreaterThan(1);
    } finally {
      replicaSql('SELECT pg_wal_replay_resume()');
    }
  }, 40_000);
});

describe('postgres with TLS: the server certificate\'s expiry', () => {
  let cluster: Cluster;
  /**
   * Serves `issued` from now on: copied over the files the server was started with (its command
   * line names them, which ALTER SYSTEM cannot override), then a reload.
   */
  const serveCertificate = (issued: Issued) => {
    // Written in place: the files keep their owner (the server's user) and mode (0600 for the key,
    // or the server refuses it and keeps the old pair). copyFileSync may replace a file instead.
    writeFileSync(cluster.files.serverCert, readFileSync(issued.cert));
    writeFileSync(cluster.files.serverKey, readFileSync(issued.key));
    cluster.sql('SELECT pg_reload_conf()');
  };

  beforeAll(async () => {
    cluster = await startCluster({ tls: true });
    const certs = datedCertificates(dir);
    const pgRoot = certs.root('pg-root', { notAfter: daysFromNow(3650) });
    certificates.pgWarn = pgRoot.issue('pg-expires-in-5d', { notAfter: daysFromNow(5) });
    certificates.pgExpired = pgRoot.issue('pg-expired', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
    certificates.pgRoot = pgRoot;
  }, 30_000);

  afterAll(() => cluster?.stop());

  it('verify-full against a certificate expiring in 5 days: passes with a warning; the days are observations', async () => {
    serveCertificate(certificates.pgWarn!);
    const url = cluster.url('postgres', 'localhost', `sslmode=verify-full&sslrootcert=${certificates.pgRoot!.cert}`);
    const result = await waitFor('the reloaded certificate', async () => {
      const judgedResult = await judged(`{ type: postgres, url: "${url}" }`);
      return judgedResult.observation?.tlsFirstToExpire === 'CN=pg-expires-in-5d' ? judgedResult : undefined;
    });
    expect(result, result.message).toMatchObject({ ok: true, observation: { role: 'primary' } });
    expect(result.warning).toMatch(/^postgres localhost:\d+\/postgres: the leaf certificate "CN=pg-expires-in-5d" expires in (4\.9\d|5) days, at \S+Z, within warnBefore \(14d\)$/);
    expect(result.measures!.map((m) => m.name)).toEqual(['latency', 'tlsLeafDaysLeft', 'tlsChainDaysLeft']);
    // sslmode=require encrypts without verifying: the dates are judged all the same.
    const unverified = await judged(`{ type: postgres, url: "${cluster.url('postgres', '127.0.0.1', 'sslmode=require')}", warnBefore: 4d }`);
    expect(unverified, unverified.message).toMatchObject({ ok: true, observation: { tlsFirstToExpire: 'CN=pg-expires-in-5d' } });
    expect(unverified.warning).toBeUndefined();
  });

  it('an expired certificate fails with cert_expiry, verified or not', async () => {
    serveCertificate(certificates.pgExpired!);
    const verified = cluster.url('postgres', 'localhost', `sslmode=verify-full&sslrootcert=${certificates.pgRoot!.cert}`);
    const result = await waitFor('the reloaded certificate', async () => {
      const judgedResult = await judged(`{ type: postgres, url: "${verified}" }`);
      return judgedResult.reason === 'cert_expiry' ? judgedResult : undefined;
    });
    expect(result.message).toMatch(/^TLS handshake with postgres localhost:\d+\/postgres failed: certificate has expired$/);
    const unverified = await judged(`{ type: postgres, url: "${cluster.url('postgres', '127.0.0.1', 'sslmode=require')}" }`);
    expect(unverified).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(unverified.message).toMatch(/the leaf certificate "CN=pg-expired" expired (0\.9\d|1(\.0\d)?) days ago/);
  });
});

describe('redis: role, clients and memory from one INFO', () => {
  let server: ChildProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory', '8mb'], { stdio: 'ignore' });
    await waitFor('the throw-away redis-server', async () => {
      const result = await judged(`{ type: redis, url: "redis://127.0.0.1:${port}" }`);
      return result.ok || undefined;
    });
  });

  afterAll(async () => {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  });

  it('the local server (maxmemory 0): role primary, connectedClients, no memoryUsedRatio', async () => {
    const result = await judged(`{ type: redis, url: "${REDIS_URL}" }`);
    expect(result, result.message).toMatchObject({ ok: true, observation: { role: 'primary' } });
    expect(result.observation!.connectedClients as number).toBeGreaterThanOrEqual(1);
    expect(result.observation).not.toHaveProperty('memoryUsedRatio');
    expect(result.measures!.map((m) => m.name)).toEqual(['latency', 'connectedClients']);
  });

  it('with maxmemory 8mb: memoryUsedRatio is used_memory/maxmemory, and warnIf/failIf judge it', async () => {
    const result = await judged(`{ type: redis, url: "redis://127.0.0.1:${port}", warnIf: { memoryUsedRatio: "> 1%" }, failIf: { connectedClients: "> 1000" } }`);
    const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'memory']).toString();
    const used = Number(/used_memory:(\d+)/.exec(info)![1]);
    expect(result.observation!.memoryUsedRatio as number).toBeCloseTo(used / (8 * 1024 * 1024), 2);
    expect(result).toMatchObject({ ok: true, warning: expect.stringMatching(/^warnIf memoryUsedRatio > 1%: observed 0\.\d+ ratio$/) });
    const failed = await judged(`{ type: redis, url: "redis://127.0.0.1:${port}", failIf: { memoryUsedRatio: ">= 0.01" } }`);
    expect(failed).toMatchObject({ ok: false, reason: 'threshold', message: expect.stringMatching(/^failIf memoryUsedRatio >= 0\.01: observed 0\.\d+ ratio$/) });
  });

  it('rediss (a throw-away redis-server --tls-port serving a certificate that expires in 5 days): warns, with the days left beside INFO\'s', async () => {
    const tlsPort = await freePort();
    const tlsServer = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(tlsPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--tls-cert-file', certificates.warn!.cert, '--tls-key-file', certificates.warn!.key, '--tls-auth-clients', 'no'],
      { stdio: 'ignore' },
    );
    try {
      const block = `{ type: redis, url: "rediss://localhost:${tlsPort}", tls: { caFile: "${root.cert}" } }`;
      const result = await waitFor('the rediss server', async () => {
        const judgedResult = await judged(block);
        return judgedResult.ok ? judgedResult : undefined;
      });
      expect(result.observation).toMatchObject({ role: 'primary', tlsFirstToExpire: 'CN=expires-in-5d' });
      expect(result.warning).toMatch(/^redis localhost:\d+: the leaf certificate "CN=expires-in-5d" expires in (4\.9\d|5) days, at \S+Z, within warnBefore \(14d\)$/);
      expect(result.measures!.map((m) => m.name)).toEqual(['latency', 'connectedClients', 'tlsLeafDaysLeft', 'tlsChainDaysLeft']);
      const failing = await judged(`{ type: redis, url: "rediss://localhost:${tlsPort}", tls: { caFile: "${root.cert}" }, failBefore: 6d }`);
      expect(failing).toMatchObject({ ok: false, reason: 'cert_expiry', message: expect.stringMatching(/within failBefore \(6d\)$/) });
    } finally {
      const exited = new Promise((resolve) => tlsServer.once('exit', resolve));
      tlsServer.kill('SIGKILL');
      await exited;
    }
  });

  it('an INFO the server refuses (an ACL allowing PING only) leaves the observations out; the check passes', async () => {
    execFileSync('redis-cli', ['-p', String(port), 'ACL', 'SETUSER', 'pinger', 'on', '>secret-pinger', '+ping', '+hello', '+select', '+client']);
    const result = await judged(`{ type: redis, url: "redis://pinger:secret-pinger@127.0.0.1:${port}" }`);
    expect(result, result.message).toMatchObject({ ok: true });
    expect(result.observation!.infoRefused).toMatch(/NOPERM/);
    expect(result.measures!.map((m) => m.name)).toEqual(['latency']);
  });
});
