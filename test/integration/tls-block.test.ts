// The TLS options block every TLS-speaking kind shares (checks/support/tls.ts), against a real
// TLS-enabled redis-server and a node:https server, both with certificates made for the test: a
// private CA, a server certificate for localhost and 127.0.0.1, a client certificate for mutual TLS.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { http } from '../../checks/http.js';
import { redis } from '../../checks/redis.js';
import { parseConfig } from '../../src/config/parse.js';
import { makeCertificates, type CertFiles } from '../helpers/certs.js';
import { freePort, waitFor } from '../helpers/net.js';
import { runOnce } from '../helpers/run.js';

let certs: CertFiles;
let redisServer: ChildProcess;
let redisPort: number;
let httpsServer: Server;
let httpsPort: number;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-block-'));
  certs = makeCertificates(dir);
  redisPort = await freePort();
  // TLS only, and a client certificate signed by the CA required (mutual TLS).
  redisServer = spawn(
    'redis-server',
    ['--port', '0', '--tls-port', String(redisPort), '--bind', '127.0.0.1', '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'yes', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  httpsServer = createServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  httpsPort = (httpsServer.address() as { port: number }).port;
  const { connect } = await import('node:net');
  await waitFor('the TLS redis-server to listen', () => new Promise<boolean>((resolve) => connect(redisPort, '127.0.0.1').once('connect', function (this: import('node:net').Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))));
});
afterAll(async () => {
  redisServer?.kill('SIGKILL');
  httpsServer?.closeAllConnections();
  await new Promise((resolve) => httpsServer?.close(resolve));
});

const mutual = () => ({ caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });

describe.each([
  ['redis', () => redis, (tls: object) => ({ url: `rediss://127.0.0.1:${redisPort}/0`, tls })],
  ['http', () => http, (tls: object) => ({ url: `https://127.0.0.1:${httpsPort}/`, tls })],
] as const)('the shared tls block (%s)', (_type, kind, options) => {
  it('passes with the private CA and a client certificate (mutual TLS)', async () => {
    expect(await runOnce(kind(), options(mutual()))).toMatchObject({ ok: true });
  });

  it('fails with tls when the server certificate is signed by a CA not trusted, or names another server', async () => {
    const untrusted = await runOnce(kind(), options({ certFile: certs.clientCert, keyFile: certs.clientKey }));
    expect(untrusted).toMatchObject({ ok: false, reason: 'tls' });
    expect(await runOnce(kind(), options({ ...mutual(), caFile: certs.otherCa }))).toMatchObject({ ok: false, reason: 'tls' });
    const wrongName = await runOnce(kind(), options({ ...mutual(), serverName: 'db.example.com' }));
    expect(wrongName).toMatchObject({ ok: false, reason: 'tls' });
    expect(wrongName.message).toContain('db.example.com');
  });

  it('fails with tls when the server requires a client certificate and none is given, whether its alert or its reset arrives first', async () => {
    // Over TLS 1.3 the server refuses once the client's handshake is over: its alert races the
    // reset the client's first write brings, and either must say tls.
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await runOnce(kind(), options({ caFile: certs.ca })));
    const misreported = results.filter((result) => result.ok || result.reason !== 'tls' || !/^TLS handshake with .* failed: .*(alert|client certificate)/.test(result.message ?? ''));
    expect(misreported.map((result) => `${result.reason}: ${result.message}`), `${misreported.length} of 40 misreported`).toEqual([]);
  });

  it('accepts any certificate with insecureSkipVerify (still with the client certificate)', async () => {
    expect(await runOnce(kind(), options({ certFile: certs.clientCert, keyFile: certs.clientKey, insecureSkipVerify: true }))).toMatchObject({ ok: true });
  });

  it('a file that cannot be read fails the attempt with tls, naming its role', async () => {
    const result = await runOnce(kind(), options({ ...mutual(), caFile: '/nonexistent/ca.pem' }));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toContain('caFile /nonexistent/ca.pem');
  });
});

describe('the shared tls block in a config', () => {
  it('certFile needs keyFile; tls on a plain redis:// URL can never apply', () => {
    const issues = (() => {
      try {
        parseConfig(
          `checks:\n  a: { type: http, url: "https://x/", tls: { certFile: /c.pem } }\n  b: { type: redis, url: "redis://x:6379", tls: { caFile: /ca.pem } }\n`,
          { kinds },
        );
      } catch (error) {
        return (error as { issues: { path: string; message: string }[] }).issues.map((i) => `${i.path}: ${i.message}`);
      }
      return [];
    })();
    expect(issues).toEqual(['checks.a.tls.certFile: "/c.pem" needs keyFile as well', 'checks.b.url: "redis://x:6379" is plain redis://, and the tls block applies to rediss:// URLs only']);
  });
});
