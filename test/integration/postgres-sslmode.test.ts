// sslmode follows libpq, against the shared (plain) server and a throw-away cluster with TLS turned
// on and a certificate made for localhost and 127.0.0.1 by a CA of the test's own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../checks/postgres.js';
import { runCli, tempConfig } from '../helpers/cli.js';
import { startCluster, type Cluster } from '../helpers/pg-cluster.js';
import { runOnce } from '../helpers/run.js';
import { PG_URL } from '../helpers/services.js';

/** Fails (body, division by zero) unless this connection is encrypted, or unless it is not. */
const ENCRYPTED = 'SELECT 1 / (SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid())';
const PLAIN = 'SELECT 1 / (SELECT 1 - ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid())';

const withParams = (url: string, params: string) => `${url}${url.includes('?') ? '&' : '?'}${params}`;

describe('sslmode follows libpq: a server without TLS', () => {
  for (const mode of ['disable', 'allow', 'prefer']) {
    it(`sslmode=${mode} passes, in plain`, async () => {
      expect(await runOnce(postgres, { url: withParams(PG_URL, `sslmode=${mode}`), query: PLAIN })).toMatchObject({ ok: true });
    });
  }

  it('no sslmode is prefer, as in libpq: passes in plain', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: PLAIN })).toMatchObject({ ok: true });
  });

  it("the shipped k8s ConfigMap's sslmode passes against a server without TLS", async () => {
    const configMap = readFileSync(new URL('../../k8s/base/configmap.yaml', import.meta.url), 'utf8');
    const shipped = new URL(/url: (postgres:\/\/\S+)/.exec(configMap)![1]!);
    expect(shipped.searchParams.get('sslmode')).not.toBeNull();
    expect(await runOnce(postgres, { url: withParams(PG_URL, shipped.searchParams.toString()), query: PLAIN })).toMatchObject({ ok: true });
  });

  for (const mode of ['require', 'verify-ca', 'verify-full']) {
    it(`sslmode=${mode} fails with tls, saying the server does not accept TLS`, async () => {
      const result = await runOnce(postgres, { url: withParams(PG_URL, `sslmode=${mode}`) });
      expect(result).toMatchObject({ ok: false, reason: 'tls' });
      expect(result.message).toMatch(new RegExp(`does not accept TLS connections \\(sslmode=${mode}\\)`));
    });
  }
});

describe('sslmode follows libpq: a server with TLS', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({
      tls: true,
      listen: ['127.0.0.1', '127.0.0.2'],
      hba: [
        'local all all trust',
        // tlsonly may log in only over TLS, plainonly only without, client only with its certificate.
        'hostnossl all tlsonly 0.0.0.0/0 reject',
        'hostssl all plainonly 0.0.0.0/0 reject',
        'hostssl all client 0.0.0.0/0 cert',
        'hostnossl all client 0.0.0.0/0 reject',
        'host all all 127.0.0.1/32 trust',
        'host all all 127.0.0.2/32 trust',
      ],
    });
    cluster.sql('CREATE ROLE tlsonly LOGIN; CREATE ROLE plainonly LOGIN; CREATE ROLE client LOGIN');
  });
  afterAll(() => cluster?.stop());

  const check = (params: string, query = ENCRYPTED, user?: string, host?: string) => runOnce(postgres, { url: cluster.url(user, host, params), query });

  it('sslmode=prefer uses TLS (pg_stat_ssl says so)', async () => {
    expect(await check('sslmode=prefer')).toMatchObject({ ok: true });
    expect(await check('')).toMatchObject({ ok: true });
  });

  it('sslmode=require passes encrypted without verifying the certificate', async () => {
    expect(await check('sslmode=require')).toMatchObject({ ok: true });
  });

  it('sslmode=require with an sslrootcert verifies the chain (verify-ca), as libpq does', async () => {
    expect(await check(`sslmode=require&sslrootcert=${cluster.files.ca}`)).toMatchObject({ ok: true });
    expect(await check(`sslmode=require&sslrootcert=${cluster.files.otherCa}`)).toMatchObject({ ok: false, reason: 'tls' });
  });

  it('sslmode=verify-ca passes with the CA, fails with tls without it or with another CA, and ignores the host name', async () => {
    expect(await check(`sslmode=verify-ca&sslrootcert=${cluster.files.ca}`)).toMatchObject({ ok: true });
    expect(await check(`sslmode=verify-ca&sslrootcert=${cluster.files.ca}`, ENCRYPTED, undefined, '127.0.0.2')).toMatchObject({ ok: true });
    expect(await check('sslmode=verify-ca')).toMatchObject({ ok: false, reason: 'tls' });
    expect(await check(`sslmode=verify-ca&sslrootcert=${cluster.files.otherCa}`)).toMatchObject({ ok: false, reason: 'tls' });
  });

  it('sslmode=verify-full passes with the right host name and fails with tls with the wrong one', async () => {
    expect(await check(`sslmode=verify-full&sslrootcert=${cluster.files.ca}`)).toMatchObject({ ok: true });
    expect(await check(`sslmode=verify-full&sslrootcert=${cluster.files.ca}`, ENCRYPTED, undefined, 'localhost')).toMatchObject({ ok: true });
    const wrong = await check(`sslmode=verify-full&sslrootcert=${cluster.files.ca}`, ENCRYPTED, undefined, '127.0.0.2');
    expect(wrong).toMatchObject({ ok: false, reason: 'tls' });
    expect(wrong.message).toMatch(/127\.0\.0\.2/);
  });

  it('sslmode=allow tries plain first', async () => {
    expect(await check('sslmode=allow', PLAIN)).toMatchObject({ ok: true });
  });

  it('sslmode=allow retries with TLS when the server refuses the plain login', async () => {
    expect(await check('sslmode=allow', ENCRYPTED, 'tlsonly')).toMatchObject({ ok: true });
    expect(await check('sslmode=disable', ENCRYPTED, 'tlsonly')).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('sslmode=prefer retries in plain when the server refuses the TLS login, or the certificate does not verify', async () => {
    expect(await check('sslmode=prefer', PLAIN, 'plainonly')).toMatchObject({ ok: true });
    expect(await check('sslmode=require', PLAIN, 'plainonly')).toMatchObject({ ok: false, reason: 'auth' });
    expect(await check(`sslmode=prefer&sslrootcert=${cluster.files.otherCa}`, PLAIN)).toMatchObject({ ok: true });
  });

  it('sslcert and sslkey present a client certificate', async () => {
    const files = `sslrootcert=${cluster.files.ca}&sslcert=${cluster.files.clientCert}&sslkey=${cluster.files.clientKey}`;
    expect(await check(`sslmode=verify-full&${files}`, ENCRYPTED, 'client')).toMatchObject({ ok: true });
    expect(await check(`sslmode=verify-full&sslrootcert=${cluster.files.ca}`, ENCRYPTED, 'client')).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('vigil check passes with prefer, require and verify-ca and prints nothing but its table (no SECURITY WARNING)', async () => {
    const config = tempConfig(
      [
        'checks:',
        `  prefer: { type: postgres, url: "${cluster.url('postgres', '127.0.0.1', 'sslmode=prefer')}", query: "${ENCRYPTED}" }`,
        `  require: { type: postgres, url: "${cluster.url('postgres', '127.0.0.1', 'sslmode=require')}", query: "${ENCRYPTED}" }`,
        `  verifyca: { type: postgres, url: "${cluster.url('postgres', '127.0.0.2', `sslmode=verify-ca&sslrootcert=${cluster.files.ca}`)}", query: "${ENCRYPTED}" }`,
        '',
      ].join('\n'),
    );
    const run = await runCli(['check', '--config', config]);
    expect(run.stderr).toBe('');
    expect(run.stdout).not.toMatch(/WARNING/);
    expect(run.code).toBe(0);
  });

  it('certificate files are read with bounds: a missing file or a FIFO fails with tls at once, naming the file', async () => {
    const missing = await check(`sslmode=verify-full&sslrootcert=${join(cluster.dir, 'no-such.crt')}`);
    expect(missing).toMatchObject({ ok: false, reason: 'tls' });
    expect(missing.message).toMatch(/sslrootcert .*no-such\.crt/);
    const fifo = join(cluster.dir, 'fifo.crt');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const blocked = await check(`sslmode=verify-full&sslrootcert=${fifo}`);
    expect(blocked).toMatchObject({ ok: false, reason: 'tls' });
    expect(blocked.message).toMatch(/not a regular file/);
    expect(Date.now() - started).toBeLessThan(900);
  });
});

describe('sslmode follows libpq: validation', () => {
  it('an unknown sslmode is a config error: vigil validate exits 2 naming the place', async () => {
    const path = tempConfig(['checks:', '  db:', '    type: postgres', `    url: "${withParams(PG_URL, 'sslmode=verify-everything')}"`, ''].join('\n'));
    const run = await runCli(['validate', '--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path}:4:10: checks.db.url: "sslmode=verify-everything" is not a known sslmode (one of disable, allow, prefer, require, verify-ca, verify-full)`);
  });

  it('a client certificate without its key is a config error', async () => {
    const path = tempConfig(['checks:', `  db: { type: postgres, url: "${withParams(PG_URL, 'sslmode=verify-full&sslcert=/etc/client.crt')}" }`, ''].join('\n'));
    const run = await runCli(['validate', '--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/checks\.db\.url: "sslcert=\/etc\/client\.crt" needs sslkey as well/);
  });
});
