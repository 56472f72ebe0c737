// The tls check against node:tls servers with certificates openssl dated for the test: valid for 30
// days, expiring in 5 (warn) and 2 (fail), expired, not yet valid, under an intermediate CA expiring
// before its leaf; and certificates that fail verification (self-signed, unknown CA, another name).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { tls } from '../../checks/tls.js';
import { createAgent } from '../../src/agent.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { chainOf, datedCertificates, daysFromNow, type Authority, type Issued } from '../helpers/dated-certs.js';
import { freePort, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { startTlsServer, type TlsServer } from '../helpers/tls-server.js';

let root: Authority;
let otherRoot: Authority;
const servers: TlsServer[] = [];
/** The port of the server for each certificate. */
const port: Record<string, number> = {};
const serve = async (label: string, chain: Buffer, key: string, extra = {}) => {
  const server = await startTlsServer(chain, key, extra);
  servers.push(server);
  port[label] = server.port;
  return server;
};
let sni: TlsServer;
let clientFiles: { certFile: string; keyFile: string };
let dir: string;
let plainHttp: ReturnType<typeof createHttpServer>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-tls-check-'));
  const certs = datedCertificates(dir);
  root = certs.root('vigil-test-root', { notAfter: daysFromNow(3650) });
  otherRoot = certs.root('vigil-other-root', { notAfter: daysFromNow(3650) });
  const leaf = (label: string, issued: Issued, ...intermediates: Issued[]) => serve(label, chainOf(issued, ...intermediates), issued.key);

  const valid = root.issue('valid-30d', { notAfter: daysFromNow(30) });
  await leaf('valid', valid);
  // Its own server: only the SNI test connects to it.
  sni = await leaf('sni', valid);
  await leaf('warn', root.issue('expires-in-5d', { notAfter: daysFromNow(5) }));
  await leaf('fail', root.issue('expires-in-2d', { notAfter: daysFromNow(2) }));
  await leaf('expired', root.issue('expired', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) }));
  await leaf('future', root.issue('not-yet-valid', { notBefore: daysFromNow(1), notAfter: daysFromNow(60) }));
  const intermediate = root.intermediate('intermediate-10d', { notAfter: daysFromNow(10) });
  const viaIntermediate = intermediate.issue('leaf-via-intermediate', { notAfter: daysFromNow(30) });
  await leaf('intermediate', viaIntermediate, intermediate);
  // The same leaf without its intermediate: nothing links it to a trusted CA.
  await leaf('missingIntermediate', viaIntermediate);
  const intermediateShort = root.intermediate('intermediate-2d', { notAfter: daysFromNow(2) });
  await leaf('intermediateShort', intermediateShort.issue('leaf-via-short-intermediate', { notAfter: daysFromNow(30) }), intermediateShort);
  await leaf('selfSigned', certs.selfSigned('self-signed', { notAfter: daysFromNow(30) }));
  await leaf('selfSignedExpired', certs.selfSigned('self-signed-expired', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-2) }));
  await leaf('unknownCa', otherRoot.issue('other-ca-leaf', { notAfter: daysFromNow(30) }));
  await leaf('otherName', root.issue('db-example', { notAfter: daysFromNow(30) }, 'DNS:db.example.com'));
  const client = root.issue('client', { notAfter: daysFromNow(30) }, 'DNS:client', 'clientAuth');
  const mutual = root.issue('mutual-server', { notAfter: daysFromNow(30) });
  await serve('mutual', chainOf(mutual), mutual.key, { ca: readFileSync(root.cert), requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' });
  clientFiles = { certFile: client.cert, keyFile: client.key };
  plainHttp = createHttpServer((_req, res) => res.end('not tls'));
  await new Promise<void>((resolve) => plainHttp.listen(0, '127.0.0.1', resolve));
  port.plainHttp = (plainHttp.address() as { port: number }).port;
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  plainHttp?.closeAllConnections();
  await new Promise((resolve) => plainHttp?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});
/** Options for the server of `label`, trusting the test's root CA. */
const at = (label: string, extra: Record<string, unknown> = {}, block: Record<string, unknown> = {}) => ({
  host: '127.0.0.1',
  port: port[label],
  ...extra,
  tls: { caFile: root.cert, ...block },
});

describe('tls check: days until the leaf expires and until the earliest expiry in the chain', () => {
  it('passes with a certificate valid for 30 days: tlsLeafDaysLeft and tlsChainDaysLeft about 30, no warning', async () => {
    const result = await runOnce(tls, at('valid'));
    expect(result, result.message).toMatchObject({ ok: true, observation: { tlsFirstToExpire: 'CN=valid-30d' } });
    expect(result.observation!.tlsLeafDaysLeft).toBeCloseTo(30, 0);
    expect(result.observation!.tlsChainDaysLeft).toBe(result.observation!.tlsLeafDaysLeft);
    expect(result.observation).not.toHaveProperty('warning');
  });

  it('leaf vs chain: an intermediate CA expiring before its leaf is reported apart from the leaf (30 days vs 10)', async () => {
    const result = await runOnce(tls, at('intermediate'));
    expect(result, result.message).toMatchObject({ ok: true, observation: { tlsFirstToExpire: 'CN=intermediate-10d' } });
    expect(result.observation!.tlsLeafDaysLeft).toBeCloseTo(30, 0);
    expect(result.observation!.tlsChainDaysLeft).toBeCloseTo(10, 0);
    expect(result.observation!.warning).toMatch(/^tls 127.0.0.1:\d+: the intermediate CA "CN=intermediate-10d" expires in (9\.9\d|10) days, at \S+Z, within warnBefore \(14d\)$/);
  });

  it('cert_expiry: an intermediate CA expiring within failBefore fails the check though its leaf has 30 days', async () => {
    const result = await runOnce(tls, at('intermediateShort'));
    expect(result).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(result.message).toMatch(/^tls 127\.0\.0\.1:\d+: the intermediate CA "CN=intermediate-2d" expires in (1\.9\d|2) days, at \S+Z, within failBefore \(3d\)$/);
  });
});

describe('tls check: warnBefore (default 14d) and failBefore (default 3d)', () => {
  it('warnBefore: a leaf expiring in 5 days passes, with a warning that says so', async () => {
    const result = await runOnce(tls, at('warn'));
    expect(result, result.message).toMatchObject({ ok: true, observation: { tlsFirstToExpire: 'CN=expires-in-5d' } });
    expect(result.observation!.tlsLeafDaysLeft).toBeCloseTo(5, 0);
    expect(result.observation!.warning).toMatch(/^tls 127.0.0.1:\d+: the leaf certificate "CN=expires-in-5d" expires in (4\.9\d|5) days, at \S+Z, within warnBefore \(14d\)$/);
    // A shorter warnBefore: no warning.
    expect(await runOnce(tls, at('warn', { warnBefore: '4d' }))).toMatchObject({ ok: true, observation: expect.not.objectContaining({ warning: expect.anything() }) });
  });

  it('failBefore: a leaf expiring in 2 days fails with cert_expiry; with failBefore 1d it passes, warning', async () => {
    const result = await runOnce(tls, at('fail'));
    expect(result).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(result.message).toMatch(/the leaf certificate "CN=expires-in-2d" expires in (1\.9\d|2) days, at \S+Z, within failBefore \(3d\)$/);
    expect(await runOnce(tls, at('fail', { failBefore: '1d' }))).toMatchObject({ ok: true, observation: { warning: expect.any(String) } });
    expect(await runOnce(tls, at('fail', { failBefore: '36h', warnBefore: '1d12h' }))).toMatchObject({ ok: true, observation: expect.not.objectContaining({ warning: expect.anything() }) });
    // failBefore longer than the default warnBefore: the warning window closes, nothing contradicts.
    expect(await runOnce(tls, at('valid', { failBefore: '31d' }))).toMatchObject({ ok: false, reason: 'cert_expiry' });
    // warnBefore shorter than the default failBefore lowers it.
    expect(await runOnce(tls, at('fail', { warnBefore: '1d' }))).toMatchObject({ ok: true, observation: expect.not.objectContaining({ warning: expect.anything() }) });
  });

  it('cert_expiry: an expired leaf fails, saying when it expired', async () => {
    const result = await runOnce(tls, at('expired'));
    expect(result).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(result.message).toMatch(/the leaf certificate "CN=expired" expired 1(\.\d+)? days ago, at \S+Z$/);
    // 0s: fail only once expired, and that it is.
    expect(await runOnce(tls, at('expired', { failBefore: '0s', warnBefore: '0s' }))).toMatchObject({ ok: false, reason: 'cert_expiry' });
  });

  it('cert_expiry: a leaf not yet valid fails, saying from when', async () => {
    const result = await runOnce(tls, at('future'));
    expect(result).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(result.message).toMatch(/the leaf certificate "CN=not-yet-valid" is not valid until \S+Z \(in 1(\.\d+)? days\)$/);
  });
});

describe('tls check: verification against the system CAs or caFile, and the host name or serverName', () => {
  it('tls: a self-signed certificate fails verification, and the message says self-signed', async () => {
    const result = await runOnce(tls, at('selfSigned'));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toContain('the leaf certificate "CN=self-signed" is self-signed and not among the CAs of caFile');
  });

  it('tls: a certificate of an unknown CA fails, naming the CA file it is not in; with the system CAs too', async () => {
    const result = await runOnce(tls, at('unknownCa'));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toContain(`unknown CA: the issuer of the leaf certificate "CN=other-ca-leaf" is not among the CAs of caFile ${root.cert}`);
    const system = await runOnce(tls, { host: '127.0.0.1', port: port.valid });
    expect(system).toMatchObject({ ok: false, reason: 'tls' });
    expect(system.message).toContain('unknown CA: the issuer of the leaf certificate "CN=valid-30d" is not among the system CAs');
  });

  it('tls: a server that does not send its intermediate CA fails as an unknown CA', async () => {
    const result = await runOnce(tls, at('missingIntermediate'));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toContain('the server did not send it');
  });

  it('tls: a certificate for another name fails, naming the name checked; serverName checks (and sends) another', async () => {
    const result = await runOnce(tls, at('otherName'));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toMatch(/the certificate is not for 127\.0\.0\.1: it names DNS:db\.example\.com$/);
    expect(await runOnce(tls, at('otherName', {}, { serverName: 'db.example.com' }))).toMatchObject({ ok: true });
    const wrong = await runOnce(tls, at('valid', {}, { serverName: 'api.example.com' }));
    expect(wrong).toMatchObject({ ok: false, reason: 'tls' });
    expect(wrong.message).toContain('the certificate is not for api.example.com');
  });

  it('serverName is sent as SNI; without it the host is, unless an address', async () => {
    const sent = async (options: Record<string, unknown>) => {
      sni.serverNames.length = 0;
      expect(await runOnce(tls, options)).toMatchObject({ ok: true });
      return waitFor('the server to see the handshake', () => sni.serverNames[0]);
    };
    expect(await sent(at('sni', {}, { serverName: 'localhost' }))).toBe('localhost');
    expect(await sent({ ...at('sni'), host: 'localhost' })).toBe('localhost');
    sni.serverNames.length = 0;
    expect(await runOnce(tls, at('sni'))).toMatchObject({ ok: true });
    await waitFor('the server to see the handshake', () => sni.serverNames.length === 1);
    expect(sni.serverNames[0]).toBe('');
  });

  it('insecureSkipVerify: only the dates are judged (self-signed and wrong names pass, an expired certificate fails)', async () => {
    const skip = { insecureSkipVerify: true };
    expect(await runOnce(tls, at('selfSigned', {}, skip))).toMatchObject({ ok: true, observation: expect.not.objectContaining({ warning: expect.anything() }) });
    expect(await runOnce(tls, at('otherName', {}, skip))).toMatchObject({ ok: true });
    expect(await runOnce(tls, at('unknownCa', {}, skip))).toMatchObject({ ok: true });
    const expired = await runOnce(tls, at('selfSignedExpired', {}, skip));
    expect(expired).toMatchObject({ ok: false, reason: 'cert_expiry' });
    expect(expired.message).toContain('"CN=self-signed-expired" expired 2');
    expect(await runOnce(tls, at('warn', {}, skip))).toMatchObject({ ok: true, observation: { warning: expect.any(String) } });
  });

  it('an expired certificate that is also self-signed: OpenSSL names the expiry, and so does the check', async () => {
    expect(await runOnce(tls, at('selfSignedExpired'))).toMatchObject({ ok: false, reason: 'cert_expiry' });
  });

  it('mutual TLS: passes with the client certificate a TLS 1.2 server requires, fails without it', async () => {
    expect(await runOnce(tls, at('mutual', {}, clientFiles))).toMatchObject({ ok: true });
    const without = await runOnce(tls, at('mutual'));
    expect(without.ok).toBe(false);
    expect(['tls', 'protocol']).toContain(without.reason);
  });

  it('tls: a caFile that cannot be read fails the attempt, naming it', async () => {
    const result = await runOnce(tls, at('valid', {}, { caFile: '/nonexistent/ca.pem' }));
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toContain('caFile /nonexistent/ca.pem');
  });
});

describe('tls check: closing', () => {
  it('leaves the server a completed handshake at every attempt, never one reset by its peer (TLS 1.3 and 1.2)', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const closeDir = mkdtempSync(join(tmpdir(), 'vigil-tls-close-'));
      const certs = datedCertificates(closeDir);
      const leafCert = certs.selfSigned('close', { notAfter: daysFromNow(30) });
      const server = await startTlsServer(chainOf(leafCert), leafCert.key, { maxVersion });
      try {
        for (let i = 0; i < 20; i++) expect(await runOnce(tls, { host: '127.0.0.1', port: server.port, tls: { caFile: leafCert.cert } })).toMatchObject({ ok: true });
        await waitFor('every connection to close', () => server.openPorts().length === 0);
        expect(server.handshakes(), maxVersion).toEqual({ completed: 20, failed: 0 });
      } finally {
        await server.close();
        rmSync(closeDir, { recursive: true, force: true });
      }
    }
  });
});

describe('tls check: the other reasons', () => {
  it('connect_refused on a closed port, naming host:port', async () => {
    const closed = await freePort();
    const result = await runOnce(tls, { host: '127.0.0.1', port: closed });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toContain(`tls 127.0.0.1:${closed}`);
  });

  it('port defaults to 443', async () => {
    const result = await runOnce(tls, { host: 'no-such-host.invalid' }, 3000);
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.message).toContain('tls no-such-host.invalid:443');
  });

  it('timeout against a server that accepts and never answers, leaving no socket', async () => {
    await expectTimeoutWithoutLeak(tls, (p) => ({ host: '127.0.0.1', port: p }));
  });

  it('tls against a server that does not speak TLS (plain HTTP)', async () => {
    const result = await runOnce(tls, { host: '127.0.0.1', port: port.plainHttp });
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toMatch(/TLS handshake with tls 127\.0\.0\.1:\d+ failed/);
  });
});

describe('tls check: configuration', () => {
  const issues = (block: string) => {
    try {
      parseConfig(`checks:\n  site: ${block}\n`, { kinds, env: {} });
      return [];
    } catch (error) {
      return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('warnBefore and failBefore are spans in days, hours or less; not timers, so 30d is fine', () => {
    expect(issues('{ type: tls, host: example.com, warnBefore: 30d, failBefore: 3d12h }')).toEqual([]);
    expect(issues('{ type: tls, host: example.com, warnBefore: 0s, failBefore: 0s }')).toEqual([]);
    expect(issues('{ type: tls, host: example.com, warnBefore: 14 days }')).toEqual(['checks.site.warnBefore: "14 days" must be a span of time such as 14d, 36h or 3d12h']);
    expect(issues('{ type: tls, host: example.com, failBefore: 36501d }')).toEqual(['checks.site.failBefore: "36501d" is longer than 36500d (a hundred years)']);
  });

  it('warnBefore shorter than failBefore, both set, is an error', () => {
    expect(issues('{ type: tls, host: example.com, warnBefore: 2d, failBefore: 3d }')).toEqual([
      'checks.site.warnBefore: "2d" must not be shorter than failBefore (3d): the check would fail before it warned',
    ]);
  });

  it('host is a host, not a URL; port is 1-65535', () => {
    expect(issues('{ type: tls, host: "https://example.com" }')).toEqual(['checks.site.host: "https://example.com" must be a host name or address, not a URL (the port goes in port)']);
    expect(issues('{ type: tls, host: example.com, port: 0 }')).toHaveLength(1);
  });

  it('env-only: tls://host:port declares a tls check; the port defaults to 443', () => {
    const config = parseConfig(undefined, { kinds, env: { VIGIL_CHECK_SITE: 'tls://example.com:8443', VIGIL_CHECK_API: 'tls://api.example.com', VIGIL_CHECK_V6: 'tls://[::1]:9443' } });
    expect(config.checks.map((c) => [c.name, c.type, c.options])).toEqual(
      expect.arrayContaining([
        ['site', 'tls', { host: 'example.com', port: 8443 }],
        ['api', 'tls', { host: 'api.example.com' }],
        ['v6', 'tls', { host: '::1', port: 9443 }],
      ]),
    );
  });
});

describe('tls check in the agent', () => {
  it('in /health: the check warns (status warn, the group 200), the days left are entries of their own', async () => {
    const yaml = `server: { exposeDetails: true }\nchecks:\n  site: { type: tls, host: 127.0.0.1, port: ${port.intermediate}, tls: { caFile: "${root.cert}" } }\n`;
    const config = parseConfig(yaml, { kinds, env: {} });
    const agent = createAgent(config, { kinds, log: createLogger({ level: 'error', write: () => undefined }), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('a result', () => agent.state.get('site')?.last !== undefined);
      const response = await agent.app.request('/health/ready');
      expect(response.status).toBe(200);
      const body = (await response.json()) as { status: string; checks: Record<string, [{ status: string; output?: string; observation: Record<string, unknown> }]> };
      expect(body.status).toBe('warn');
      const [entry] = body.checks['site:responseTime']!;
      expect(entry.status).toBe('warn');
      expect(entry.output).toMatch(/the intermediate CA "CN=intermediate-10d" expires in \S+ days, at \S+Z, within warnBefore \(14d\)$/);
      expect(body.checks['site:tlsChainDaysLeft']![0]).toMatchObject({ componentId: 'site', observedUnit: 'days', status: 'pass' });
      expect(body.checks['site:tlsChainDaysLeft']![0]!).toHaveProperty('observedValue', entry.observation.tlsChainDaysLeft);
      expect(body.checks['site:tlsLeafDaysLeft']![0]!).toHaveProperty('observedValue', entry.observation.tlsLeafDaysLeft);
      expect(entry.observation).toMatchObject({ tlsFirstToExpire: 'CN=intermediate-10d', tlsLeafDaysLeft: expect.any(Number), tlsChainDaysLeft: expect.any(Number) });
    } finally {
      await agent.stop();
    }
  });
});
