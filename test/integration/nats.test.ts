// The nats check against the local NATS server (JetStream on) and throw-away nats-servers with their
// own settings (authorization, accounts, nkeys, operator JWTs, limits, TLS): every reason it reports,
// its credentials from files, and that it leaves no connection on the server.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import { nkeys } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nats } from '../../checks/nats.js';
import { makeCertificates } from '../helpers/certs.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { NATS_URL } from '../helpers/services.js';

const servers: NatsServer[] = [];
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-nats-test-'));
});
afterAll(async () => {
  for (const server of servers.splice(0)) await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function server(options: Parameters<typeof startNatsServer>[0] = {}): Promise<NatsServer> {
  const started = await startNatsServer(options);
  servers.push(started);
  return started;
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const base64url = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** A JWT as nsc writes them: claims signed by the issuer's nkey. */
function jwt(issuer: ReturnType<typeof nkeys.createOperator>, subject: string, nats: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = base64url(JSON.stringify({ jti: `T${Date.now()}${Math.random()}`, iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name: subject.slice(0, 8), sub: subject, nats: { ...nats, version: 2 } }));
  return `${header}.${claims}.${base64url(issuer.sign(Buffer.from(`${header}.${claims}`)))}`;
}

function credsFile(userJwt: string, seed: Uint8Array): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    text(seed),
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}

describe('nats check against a real server', () => {
  it('passes on the local server: connect, flush; and with jetstream: true, JetStream answers', async () => {
    expect(await runOnce(nats, { url: NATS_URL })).toMatchObject({ ok: true });
    expect(await runOnce(nats, { url: NATS_URL, jetstream: true })).toMatchObject({ ok: true });
  });

  it('reasons: connect_refused on a closed port', async () => {
    const result = await runOnce(nats, { url: `nats://127.0.0.1:${await freePort()}` });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/^connection to nats 127\.0\.0\.1:\d+ refused/);
  });

  it('reasons: dns for a host that does not resolve', async () => {
    expect(await runOnce(nats, { url: 'nats://no-such-host.invalid:4222' })).toMatchObject({ ok: false, reason: 'dns' });
  });

  it('reasons: timeout at its deadline against a server that never answers, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(nats, (port) => ({ url: `nats://127.0.0.1:${port}`, jetstream: true }));
  });

  it('reasons: protocol when pointed at a server that greets in another protocol (SSH); timeout at an HTTP server, which waits for a request', async () => {
    const ssh = createServer((socket) => socket.on('error', () => undefined).end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
    await new Promise<void>((resolve) => ssh.listen(0, '127.0.0.1', resolve));
    const web = await startUpstream((_req, res) => res.writeHead(400).end('bad request'));
    try {
      const result = await runOnce(nats, { url: `nats://127.0.0.1:${(ssh.address() as { port: number }).port}` });
      expect(result, result.message).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toMatch(/"SSH-2\.0-OpenSSH_9\.2p1 [^"]*" starts no NATS operation/);
      expect(await runOnce(nats, { url: `nats://127.0.0.1:${web.port}` }, 300)).toMatchObject({ ok: false, reason: 'timeout' });
    } finally {
      await web.close();
      await new Promise((resolve) => ssh.close(resolve));
    }
  });

  it('reasons: auth for a missing or wrong password; the right one passes', async () => {
    const secured = await server({ config: 'authorization { user: app, password: "pa55-word" }' });
    const at = `127.0.0.1:${secured.port}`;
    for (const url of [`nats://${at}`, `nats://app:wrong@${at}`, `nats://other:pa55-word@${at}`]) {
      const result = await runOnce(nats, { url });
      expect(result, url).toMatchObject({ ok: false, reason: 'auth' });
      expect(result.message).toMatch(/refused the login: Authorization Violation/);
      expect(result.message).not.toMatch(/pa55|wrong/);
    }
    expect(await runOnce(nats, { url: `nats://app:pa55-word@${at}` })).toMatchObject({ ok: true });
  });

  it('a URL password is percent-decoded, and a % that starts no escape is sent as written', async () => {
    const secured = await server({ config: 'authorization { users: [{ user: app, password: "p@ss" }, { user: raw, password: "50%zz" }] }' });
    expect(await runOnce(nats, { url: `nats://app:p%40ss@127.0.0.1:${secured.port}` })).toMatchObject({ ok: true });
    expect(await runOnce(nats, { url: `nats://raw:50%zz@127.0.0.1:${secured.port}` })).toMatchObject({ ok: true });
  });

  it('a lone user name in the URL is a token: the right token passes, a wrong one fails with auth', async () => {
    const secured = await server({ config: 'authorization { token: "t0ken-s3cret" }' });
    expect(await runOnce(nats, { url: `nats://t0ken-s3cret@127.0.0.1:${secured.port}` })).toMatchObject({ ok: true });
    expect(await runOnce(nats, { url: `nats://wrong@127.0.0.1:${secured.port}` })).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('reasons: not_serving with jetstream: true on a server without JetStream (no responder); without jetstream it passes', async () => {
    const plain = await server({ jetstream: false });
    const result = await runOnce(nats, { url: plain.url, jetstream: true });
    expect(result).toMatchObject({ ok: false, reason: 'not_serving' });
    expect(result.message).toMatch(/does not serve JetStream: nothing answers \$JS\.API\.INFO/);
    expect(await runOnce(nats, { url: plain.url })).toMatchObject({ ok: true });
  });

  it('reasons: not_serving for an account without JetStream on a server with it (JetStream not enabled for account)', async () => {
    const accounts = await server({
      config: 'accounts { JS: { jetstream: enabled, users: [{ user: js, password: js }] }, PLAIN: { users: [{ user: plain, password: plain }] } }',
    });
    const result = await runOnce(nats, { url: `nats://plain:plain@127.0.0.1:${accounts.port}`, jetstream: true });
    expect(result).toMatchObject({ ok: false, reason: 'not_serving' });
    expect(result.message).toMatch(/JetStream not enabled for account \(code 503, error 10039\)/);
    expect(await runOnce(nats, { url: `nats://js:js@127.0.0.1:${accounts.port}`, jetstream: true })).toMatchObject({ ok: true });
  });

  it('reasons: auth, at once, for a user the server does not permit to ask JetStream', async () => {
    const limited = await server({ config: 'authorization { users: [{ user: app, password: app, permissions: { publish: { deny: ["$JS.API.>"] } } }] }' });
    const result = await runOnce(nats, { url: `nats://app:app@127.0.0.1:${limited.port}`, jetstream: true }, 5000);
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/Permissions Violation for Publish to "\$JS\.API\.INFO"/);
    expect(result.durationMs).toBeLessThan(2500);
  });

  it('reasons: body, quoting the server, for a server at its max_connections (or protocol when its close overtakes the -ERR)', async () => {
    const full = await server({ config: 'max_connections: 1' });
    const holder: Socket = connect({ host: '127.0.0.1', port: full.port });
    holder.on('error', () => undefined);
    try {
      await waitFor('the held connection to count', async () => (await full.connections()).length === 1);
      const result = await runOnce(nats, { url: full.url });
      // The server writes its -ERR and closes at once: when the close overtakes the -ERR (a reset
      // discards what was not read yet), all the check can say is that the server closed it.
      if (result.reason === 'protocol') expect(result.message).toMatch(/closed the connection/);
      else {
        expect(result).toMatchObject({ ok: false, reason: 'body' });
        expect(result.message).toMatch(/answered -ERR "maximum connections exceeded"/i);
      }
      expect(result.ok).toBe(false);
    } finally {
      holder.destroy();
    }
  });

  it('leaves no connection on the server after passes, failures and attempts aborted mid-handshake (the server\'s /connz)', async () => {
    const counted = await server({ config: 'accounts { JS: { jetstream: enabled, users: [{ user: js, password: js }] }, PLAIN: { users: [{ user: plain, password: plain }] } }' });
    const slow = await startFaultProxy(counted.host, counted.port);
    try {
      await slow.set('latency', { delayMs: 150 });
      const attempts = [
        ...Array.from({ length: 20 }, () => runOnce(nats, { url: `nats://js:js@127.0.0.1:${counted.port}`, jetstream: true })),
        ...Array.from({ length: 20 }, () => runOnce(nats, { url: `nats://plain:plain@127.0.0.1:${counted.port}`, jetstream: true })),
        ...Array.from({ length: 10 }, () => runOnce(nats, { url: `nats://js:wrong@127.0.0.1:${counted.port}` })),
        // Each chunk waits 150 ms both ways: the deadline ends these during the handshake.
        ...Array.from({ length: 10 }, () => runOnce(nats, { url: `nats://js:js@127.0.0.1:${slow.port}`, jetstream: true }, 400)),
      ];
      const outcomes = (await Promise.all(attempts)).map((r) => (r.ok ? 'pass' : r.reason));
      expect(outcomes.filter((o) => o === 'pass')).toHaveLength(20);
      expect(outcomes.filter((o) => o === 'not_serving')).toHaveLength(20);
      expect(outcomes.filter((o) => o === 'auth')).toHaveLength(10);
      expect(outcomes.filter((o) => o === 'timeout')).toHaveLength(10);
      await waitFor('the server to hold no connection of the check', async () => (await counted.connections()).filter((c) => c.name === 'vigil').length === 0 && slow.openConnections() === 0, 5000);
    } finally {
      await slow.close();
    }
  });
});

describe('nats over TLS (the tls block, or a server that requires TLS)', () => {
  let certs: ReturnType<typeof makeCertificates>;
  beforeAll(() => {
    certs = makeCertificates(mkdtempSync(join(dir, 'certs-')));
  });
  const tlsConfig = (extra = '') => `tls { cert_file: "${certs.serverCert}", key_file: "${certs.serverKey}"${extra} }`;

  it('tls: a server that requires TLS, its CA in the tls block: passes, JetStream included, encrypted in the server\'s own words', async () => {
    const secure = await server({ config: tlsConfig() });
    const slow = await startFaultProxy(secure.host, secure.port);
    try {
      expect(await runOnce(nats, { url: secure.url, jetstream: true, tls: { caFile: certs.ca } })).toMatchObject({ ok: true });
      // Held open by a slow proxy, the attempt's connection shows in connz with its TLS version.
      await slow.set('latency', { delayMs: 100 });
      const running = runOnce(nats, { url: `nats://localhost:${slow.port}`, tls: { caFile: certs.ca } }, 5000);
      const seen = await waitFor('the connection in connz', async () => (await secure.connections()).find((c) => c.name === 'vigil'));
      expect((seen as { tls_version?: string }).tls_version).toMatch(/^1\.[23]$/);
      expect(await running).toMatchObject({ ok: true });
    } finally {
      await slow.close();
    }
  });

  it('reasons: tls for a certificate the system CAs do not trust, for a serverName it does not name, and for a tls block against a server without TLS', async () => {
    const secure = await server({ config: tlsConfig() });
    const untrusted = await runOnce(nats, { url: secure.url });
    expect(untrusted, untrusted.message).toMatchObject({ ok: false, reason: 'tls' });
    expect(untrusted.message).toMatch(/TLS handshake with nats 127\.0\.0\.1:\d+ failed/);
    const misnamed = await runOnce(nats, { url: secure.url, tls: { caFile: certs.ca, serverName: 'bus.example' } });
    expect(misnamed, misnamed.message).toMatchObject({ ok: false, reason: 'tls' });
    expect(misnamed.message).toMatch(/bus\.example/);
    const otherCa = await runOnce(nats, { url: secure.url, tls: { caFile: certs.otherCa } });
    expect(otherCa).toMatchObject({ ok: false, reason: 'tls' });
    const plain = await runOnce(nats, { url: NATS_URL, tls: { caFile: certs.ca } });
    expect(plain).toMatchObject({ ok: false, reason: 'tls' });
    expect(plain.message).toMatch(/does not offer TLS, and the check's tls block requires it/);
    const missing = await runOnce(nats, { url: secure.url, tls: { caFile: join(dir, 'no-such-ca.pem') } });
    expect(missing).toMatchObject({ ok: false, reason: 'tls' });
    expect(missing.message).toMatch(/cannot read caFile .*no-such-ca\.pem/);
  });

  it('tls: insecureSkipVerify accepts a certificate of anyone; a server offering TLS optionally is spoken to in plain without the block, encrypted with it', async () => {
    const secure = await server({ config: tlsConfig() });
    expect(await runOnce(nats, { url: secure.url, tls: { insecureSkipVerify: true } })).toMatchObject({ ok: true });
    const optional = await server({ config: `${tlsConfig()}\nallow_non_tls: true` });
    expect(await runOnce(nats, { url: optional.url })).toMatchObject({ ok: true });
    expect(await runOnce(nats, { url: optional.url, tls: { caFile: certs.ca } })).toMatchObject({ ok: true });
    expect(await runOnce(nats, { url: optional.url, tls: { caFile: certs.otherCa } })).toMatchObject({ ok: false, reason: 'tls' });
  });

  it('tls: mutual TLS with the block\'s client certificate; without one the server refuses the connection', async () => {
    const mutual = await server({ jetstream: false, config: tlsConfig(`, ca_file: "${certs.ca}", verify: true`) });
    expect(await runOnce(nats, { url: mutual.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } })).toMatchObject({ ok: true });
    // Over TLS 1.3 the client's handshake is over before the server looks at its certificate: the
    // server's alert and its reset race each other, and whichever the client sees first must say tls.
    const refused = [];
    for (let i = 0; i < 40; i++) refused.push(await runOnce(nats, { url: mutual.url, tls: { caFile: certs.ca } }));
    const misreported = refused.filter((result) => result.ok || result.reason !== 'tls' || !/TLS handshake with nats 127\.0\.0\.1:\d+ failed: .*(alert|client certificate)/.test(result.message ?? ''));
    expect(misreported.map((result) => `${result.reason}: ${result.message}`), `${misreported.length} of 40 misreported`).toEqual([]);
  });
});

describe('nats credentials from files, read at every attempt', () => {
  it('nkeyFile: the seed signs the server\'s nonce; another seed fails with auth; a rotated file applies at the next attempt', async () => {
    const user = nkeys.createUser();
    const stranger = nkeys.createUser();
    const secured = await server({ config: `authorization { users: [{ nkey: ${user.getPublicKey()} }] }` });
    const seed = file('user.nk', `${text(user.getSeed())}\n`);
    expect(await runOnce(nats, { url: secured.url, nkeyFile: seed })).toMatchObject({ ok: true });
    writeFileSync(seed, text(stranger.getSeed()));
    const result = await runOnce(nats, { url: secured.url, nkeyFile: seed });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).not.toContain(text(stranger.getSeed()));
    writeFileSync(seed, text(user.getSeed()));
    expect(await runOnce(nats, { url: secured.url, nkeyFile: seed })).toMatchObject({ ok: true });
  });

  it('credsFile: a user JWT of an account the operator signed passes (JetStream too); one of an unknown account fails with auth', async () => {
    const operator = nkeys.createOperator();
    const system = nkeys.createAccount();
    const account = nkeys.createAccount();
    const unknown = nkeys.createAccount();
    const operatorJwt = jwt(operator, operator.getPublicKey(), { type: 'operator', system_account: system.getPublicKey() });
    const limits = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
    const systemJwt = jwt(operator, system.getPublicKey(), { type: 'account', limits });
    const accountJwt = jwt(operator, account.getPublicKey(), { type: 'account', limits: { ...limits, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } });
    const secured = await server({
      config: [
        `operator: ${operatorJwt}`,
        `system_account: ${system.getPublicKey()}`,
        'resolver: MEMORY',
        `resolver_preload: { ${system.getPublicKey()}: ${systemJwt}, ${account.getPublicKey()}: ${accountJwt} }`,
      ].join('\n'),
    });
    const userOf = (issuer: typeof account) => {
      const user = nkeys.createUser();
      return credsFile(jwt(issuer, user.getPublicKey(), { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 }), user.getSeed());
    };
    expect(await runOnce(nats, { url: secured.url, credsFile: file('app.creds', userOf(account)), jetstream: true })).toMatchObject({ ok: true });
    const refused = await runOnce(nats, { url: secured.url, credsFile: file('stranger.creds', userOf(unknown)) });
    expect(refused).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('reasons: auth naming the file for a file that is missing, not a regular file, or holds no seed, never quoting its content', async () => {
    const secured = await server({ config: `authorization { users: [{ nkey: ${nkeys.createUser().getPublicKey()} }] }` });
    const fifo = join(dir, 'pipe.nk');
    execFileSync('mkfifo', [fifo]);
    const unreadable = file('unreadable.nk', 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4');
    chmodSync(unreadable, 0o000);
    const cases = {
      [join(dir, 'missing.nk')]: /cannot read nkeyFile .*missing\.nk/,
      [fifo]: /cannot read nkeyFile .*pipe\.nk: .* is not a regular file/,
      [file('not-a-seed.nk', 'not-a-seed-Canary-c0ntent')]: /nkeyFile .*not-a-seed\.nk holds no usable nkey seed/,
    };
    for (const [path, message] of Object.entries(cases)) {
      const result = await runOnce(nats, { url: secured.url, nkeyFile: path });
      expect(result, path).toMatchObject({ ok: false, reason: 'auth' });
      expect(result.message).toMatch(message);
      expect(result.message).not.toContain('Canary-c0ntent');
    }
    const creds = await runOnce(nats, { url: secured.url, credsFile: file('bad.creds', 'Canary-c0ntent, no JWT, no seed') });
    expect(creds).toMatchObject({ ok: false, reason: 'auth' });
    expect(creds.message).toMatch(/credsFile .*bad\.creds holds no usable credentials/);
    expect(creds.message).not.toContain('Canary-c0ntent');
  });
});

describe('nats options', () => {
  const issues = (options: Record<string, unknown>) => {
    const parsed = nats.options.safeParse(options);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('refuses URLs no connection could use, and two ways to log in at once', () => {
    expect(issues({ url: 'http://bus:4222' })).toEqual(['url: must be a nats:// URL']);
    expect(issues({ url: 'nats://bus:99999' })[0]).toMatch(/port "99999"/);
    expect(issues({ url: 'nats://bus:4222/orders' })[0]).toMatch(/no path or query/);
    expect(issues({ url: 'nats://bus:4222,nats://other:4222' })[0]).toMatch(/^url: /);
    expect(issues({ url: 'nats://bus', credsFile: '/a.creds', nkeyFile: '/a.nk' })).toEqual(['nkeyFile: and credsFile are two ways to log in: give one']);
    expect(issues({ url: 'nats://u:p@bus', credsFile: '/a.creds' })).toEqual(['url: carries credentials, and so does credsFile: give one']);
    expect(issues({ url: 'nats://bus', jetstream: 'yes' })[0]).toMatch(/^jetstream: /);
    expect(issues({ url: 'nats://bus', stream: 'x' })[0]).toMatch(/stream/);
    expect(issues({ url: 'nats://bus:4222', jetstream: true, credsFile: '/a.creds' })).toEqual([]);
  });
});
