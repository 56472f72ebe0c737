// The grpc check against real gRPC servers (@grpc/grpc-js with the standard health service, each in
// a process of its own): every reason it reports, its metadata (a token the server requires, from
// the config and from a rotated file, never shown), TLS with generated certificates, its options.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeResponse, encodeRequest, grpc } from '../../checks/grpc.js';
import { kinds } from '../../checks/index.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { makeCertificates, type CertFiles } from '../helpers/certs.js';
import { SERVING_STATUS, startGrpcHealthServer, type GrpcHealthServer } from '../helpers/grpc-health-server.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';

const run = promisify(execFile);
const TOKEN = 'Bearer tok-3e8a-Secret';

describe('grpc check against a real gRPC health server', () => {
  let server: GrpcHealthServer;
  let target: string;

  beforeAll(async () => {
    server = await startGrpcHealthServer({
      statuses: {
        '': SERVING_STATUS.SERVING,
        'orders.v1.Orders': SERVING_STATUS.SERVING,
        'billing.v1.Billing': SERVING_STATUS.NOT_SERVING,
        'warming.v1.Warming': SERVING_STATUS.UNKNOWN,
        'legacy.v1.Legacy': SERVING_STATUS.SERVICE_UNKNOWN,
      },
    });
    target = `127.0.0.1:${server.port}`;
  });
  afterAll(() => server?.stop());

  it('SERVING passes, for the server as a whole and for a named service, which the request carries', async () => {
    expect(await runOnce(grpc, { target })).toMatchObject({ ok: true, observation: { servingStatus: 'SERVING' } });
    expect(await runOnce(grpc, { target: `grpc://${target}`, service: 'orders.v1.Orders' })).toMatchObject({ ok: true });
    expect((await server.calls()).slice(-2).map((call) => call.service)).toEqual(['', 'orders.v1.Orders']);
  });

  it('NOT_SERVING fails with not_serving, naming the service; UNKNOWN (no status yet) too', async () => {
    const notServing = await runOnce(grpc, { target, service: 'billing.v1.Billing' });
    expect(notServing).toMatchObject({ ok: false, reason: 'not_serving' });
    expect(notServing.message).toContain('"billing.v1.Billing" is NOT_SERVING');
    expect(await runOnce(grpc, { target, service: 'warming.v1.Warming' })).toMatchObject({ ok: false, reason: 'not_serving' });
  });

  it('a service the server does not know (status NOT_FOUND) fails with not_found; SERVICE_UNKNOWN too', async () => {
    const unknown = await runOnce(grpc, { target, service: 'nosuch.v1.Service' });
    expect(unknown).toMatchObject({ ok: false, reason: 'not_found' });
    expect(unknown.message).toContain('does not know service "nosuch.v1.Service" (NOT_FOUND');
    expect(await runOnce(grpc, { target, service: 'legacy.v1.Legacy' })).toMatchObject({ ok: false, reason: 'not_found' });
  });

  it('a service turning NOT_SERVING and back is seen at the next attempt (a fresh channel each time)', async () => {
    await server.setStatus('orders.v1.Orders', SERVING_STATUS.NOT_SERVING);
    expect(await runOnce(grpc, { target, service: 'orders.v1.Orders' })).toMatchObject({ ok: false, reason: 'not_serving' });
    await server.setStatus('orders.v1.Orders', SERVING_STATUS.SERVING);
    expect(await runOnce(grpc, { target, service: 'orders.v1.Orders' })).toMatchObject({ ok: true });
  });

  it('environment-only mode through the built CLI: VIGIL_CHECK_<NAME>=grpc://host:port checks the server as a whole', async () => {
    const cli = join(import.meta.dirname, '../../dist/src/cli.js');
    const { stdout } = await run(process.execPath, [cli, 'check', '--json'], { env: { ...process.env, VIGIL_CHECK_ORDERS_API: `grpc://${target}` }, encoding: 'utf8' });
    expect((JSON.parse(stdout) as { checks: unknown[] }).checks).toEqual([expect.objectContaining({ name: 'orders_api', type: 'grpc', status: 'pass' })]);
  });

  it('leaves no connection open on the server once an attempt ends', async () => {
    for (let i = 0; i < 5; i++) await runOnce(grpc, { target });
    await waitFor('the server to hold no session', async () => (await server.openPorts()).length === 0, 2000);
  });
});

describe('grpc check: servers that fail it', () => {
  it('a server without the health service (UNIMPLEMENTED) fails with protocol, saying so', async () => {
    const bare = await startGrpcHealthServer({ withoutHealth: true });
    try {
      const result = await runOnce(grpc, { target: `127.0.0.1:${bare.port}` });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toContain('has no gRPC health service');
      expect(result.message).toContain('UNIMPLEMENTED');
    } finally {
      await bare.stop();
    }
  });

  it('a response that is no HealthCheckResponse, or larger than 1 KiB, fails with protocol', async () => {
    for (const rawResponse of [Buffer.from([0x0a, 0x02, 0x68, 0x69]), Buffer.from([0x08]), Buffer.alloc(2048, 0x08)]) {
      const odd = await startGrpcHealthServer({ rawResponse });
      try {
        const result = await runOnce(grpc, { target: `127.0.0.1:${odd.port}` });
        expect(result, result.message).toMatchObject({ ok: false, reason: 'protocol' });
      } finally {
        await odd.stop();
      }
    }
  });

  it('a peer sending more than 1 MiB (HTTP/2 frames an endpoint must ignore) fails with protocol at the guard', async () => {
    // A SETTINGS frame, then frames of an unknown type, which HTTP/2 says to ignore: only a byte bound ends them.
    const frame = (type: number, payload: Buffer) => Buffer.concat([Buffer.from([payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff, type, 0, 0, 0, 0, 0]), payload]);
    const flooding = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume();
      socket.write(frame(0x4, Buffer.alloc(0)));
      const chunk = frame(0xfe, Buffer.alloc(16_384));
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', pump);
      pump();
    });
    await new Promise<void>((resolve) => flooding.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runOnce(grpc, { target: `127.0.0.1:${(flooding.address() as { port: number }).port}` }, 2000);
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toContain('sent more than 1 MiB');
    } finally {
      await new Promise((resolve) => flooding.close(resolve));
    }
  });

  it('an HTTP/1 server fails with protocol', async () => {
    const upstream = await startUpstream((_req, res) => res.end('ok'));
    try {
      expect(await runOnce(grpc, { target: `127.0.0.1:${upstream.port}` })).toMatchObject({ ok: false, reason: 'protocol' });
    } finally {
      await upstream.close();
    }
  });

  it('a closed port fails with connect_refused, a name that does not resolve with dns', async () => {
    const refused = await runOnce(grpc, { target: `127.0.0.1:${await freePort()}` });
    expect(refused).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(refused.message).toMatch(/^connection to grpc 127\.0\.0\.1:\d+ refused/);
    expect(await runOnce(grpc, { target: 'no-such-host.invalid:50051' })).toMatchObject({ ok: false, reason: 'dns' });
  });

  it('no connection after the attempt: grpc-js would reconnect once its backoff ends, after the channel closed', async () => {
    let accepted = 0;
    const dropping = createNetServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    try {
      const result = await runOnce(grpc, { target: `127.0.0.1:${(dropping.address() as { port: number }).port}` });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(accepted).toBe(1);
      // grpc-js's own backoff is 1 s (jittered); the check's is 10 ms: either would have reconnected by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(accepted).toBe(1);
    } finally {
      await new Promise((resolve) => dropping.close(resolve));
    }
  });

  it('a server that accepts and never answers fails with timeout at the deadline, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(grpc, (port) => ({ target: `127.0.0.1:${port}` }));
  });
});

describe('grpc check: metadata a server requires', () => {
  let server: GrpcHealthServer;
  let target: string;
  let dir: string;

  beforeAll(async () => {
    server = await startGrpcHealthServer({ requiredAuthorization: TOKEN });
    target = `127.0.0.1:${server.port}`;
    dir = mkdtempSync(join(tmpdir(), 'vigil-grpc-metadata-'));
  });
  afterAll(() => server?.stop());

  it('the right token passes; a wrong one fails with auth, neither token shown though the server quotes it back', async () => {
    expect(await runOnce(grpc, { target, metadata: { authorization: TOKEN } })).toMatchObject({ ok: true });
    const wrong = await runOnce(grpc, { target, metadata: { authorization: 'Bearer wrong-Secret-77' } });
    expect(wrong).toMatchObject({ ok: false, reason: 'auth' });
    expect(wrong.message).toContain('UNAUTHENTICATED');
    expect(wrong.message).toContain('***');
    expect(wrong.message).not.toContain('wrong-Secret-77');
    const none = await runOnce(grpc, { target });
    expect(none).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('metadataFiles: read at every attempt (a rotated token applies at the next), a missing file fails with auth', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    expect(await runOnce(grpc, { target, metadataFiles: { authorization: file } })).toMatchObject({ ok: true });
    writeFileSync(file, 'Bearer rotated-Secret-91\n');
    const rotated = await runOnce(grpc, { target, metadataFiles: { authorization: file } });
    expect(rotated).toMatchObject({ ok: false, reason: 'auth' });
    expect(rotated.message).not.toContain('rotated-Secret-91');
    writeFileSync(file, TOKEN);
    expect(await runOnce(grpc, { target, metadataFiles: { authorization: file } })).toMatchObject({ ok: true });
    const missing = await runOnce(grpc, { target, metadataFiles: { authorization: join(dir, 'nothing') } });
    expect(missing).toMatchObject({ ok: false, reason: 'auth' });
    expect(missing.message).toContain('cannot read metadata file');
  });

  it('through the built CLI: the token from a config value and from a file, never in its output', async () => {
    const file = join(dir, 'cli-token');
    writeFileSync(file, 'Bearer cli-wrong-Secret-5\n');
    const config = join(dir, 'vigil.yaml');
    writeFileSync(
      config,
      [
        'checks:',
        `  inline: { type: grpc, target: "${target}", metadata: { authorization: "\${GRPC_TOKEN}", x-tenant: "tenant-Secret-8" } }`,
        `  fromfile: { type: grpc, target: "grpc://${target}", metadataFiles: { authorization: "${file}" } }`,
        '',
      ].join('\n'),
    );
    const cli = join(import.meta.dirname, '../../dist/src/cli.js');
    const outcome = await run(process.execPath, [cli, 'check', '--config', config, '--json'], { env: { ...process.env, GRPC_TOKEN: TOKEN }, encoding: 'utf8' }).then(
      (done) => ({ code: 0, ...done }),
      (failed: { code: number; stdout: string; stderr: string }) => failed,
    );
    expect(outcome.code).toBe(1);
    const report = JSON.parse(outcome.stdout) as { checks: { name: string; status: string; reason?: string }[] };
    expect(report.checks.map((c) => [c.name, c.status, c.reason])).toEqual([
      ['inline', 'pass', undefined],
      ['fromfile', 'fail', 'auth'],
    ]);
    for (const secret of ['tok-3e8a-Secret', 'cli-wrong-Secret-5', 'tenant-Secret-8']) expect(outcome.stdout + outcome.stderr).not.toContain(secret);
  });
});

describe('grpc check over TLS (generated certificates)', () => {
  let certs: CertFiles;
  let server: GrpcHealthServer;
  let plain: GrpcHealthServer;

  beforeAll(async () => {
    certs = makeCertificates(mkdtempSync(join(tmpdir(), 'vigil-grpc-tls-')));
    server = await startGrpcHealthServer({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey } });
    plain = await startGrpcHealthServer();
  });
  afterAll(async () => {
    await server?.stop();
    await plain?.stop();
  });

  it('grpcs:// or a tls block passes with the right CA; serverName is the SNI, the checked name and the :authority', async () => {
    expect(await runOnce(grpc, { target: `grpcs://127.0.0.1:${server.port}`, tls: { caFile: certs.ca } })).toMatchObject({ ok: true });
    expect(await runOnce(grpc, { target: `localhost:${server.port}`, tls: { caFile: certs.ca } })).toMatchObject({ ok: true });
    expect(await runOnce(grpc, { target: `127.0.0.1:${server.port}`, tls: { caFile: certs.ca, serverName: 'localhost' } })).toMatchObject({ ok: true });
    expect((await server.calls()).at(-1)?.authority).toBe(`localhost:${server.port}`);
  });

  it('an untrusted certificate, or one not naming the server, fails with tls', async () => {
    const system = await runOnce(grpc, { target: `grpcs://127.0.0.1:${server.port}` });
    expect(system).toMatchObject({ ok: false, reason: 'tls' });
    expect(system.message).toContain('TLS handshake with grpc 127.0.0.1');
    expect(await runOnce(grpc, { target: `127.0.0.1:${server.port}`, tls: { caFile: certs.otherCa } })).toMatchObject({ ok: false, reason: 'tls' });
    expect(await runOnce(grpc, { target: `127.0.0.1:${server.port}`, tls: { caFile: certs.ca, serverName: 'orders.example.com' } })).toMatchObject({ ok: false, reason: 'tls' });
    expect(await runOnce(grpc, { target: `127.0.0.1:${server.port}`, tls: { caFile: join(certs.ca, 'nothing') } })).toMatchObject({ ok: false, reason: 'tls' });
  });

  it('TLS against a plaintext server fails with tls; plaintext against a TLS server with protocol', async () => {
    expect(await runOnce(grpc, { target: `grpcs://127.0.0.1:${plain.port}`, tls: { caFile: certs.ca } })).toMatchObject({ ok: false, reason: 'tls' });
    expect(await runOnce(grpc, { target: `127.0.0.1:${server.port}` })).toMatchObject({ ok: false, reason: 'protocol' });
  });
});

describe('grpc options', () => {
  const problems = (block: Record<string, unknown>) => {
    try {
      parseConfig(`checks:\n  api: ${JSON.stringify({ type: 'grpc', ...block })}\n`, { kinds, env: {} });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    }
  };

  it('target: host:port or a grpc:// / grpcs:// URL of one server, with its port', () => {
    for (const ok of ['orders:50051', '10.0.0.5:443', '[::1]:50051', 'grpc://orders:50051', 'grpcs://orders.example.com:443', 'grpc://orders:50051/']) {
      expect(problems({ target: ok }), ok).toEqual([]);
    }
    expect(problems({ target: 'orders' })).toEqual([expect.stringContaining('with the port')]);
    expect(problems({ target: 'grpcs://orders.example.com' })).toEqual([expect.stringContaining('with the port')]);
    expect(problems({ target: 'orders:99999' })).toEqual([expect.stringContaining('1 to 65535')]);
    expect(problems({ target: 'http://orders:50051' })).toEqual([expect.stringContaining('grpc://')]);
    expect(problems({ target: 'grpc://user:pw@orders:50051' })).toEqual([expect.stringContaining('no user, path or query')]);
    expect(problems({ target: 'grpc://orders:50051/orders.v1' })).toEqual([expect.stringContaining('no user, path or query')]);
  });

  it('metadata: keys gRPC accepts and does not own, values it can carry, never quoted in an issue', () => {
    expect(problems({ target: 'api:1', metadata: { authorization: 'Bearer x', 'x-tenant': 'a' } })).toEqual([]);
    expect(problems({ target: 'api:1', metadata: { Authorization: 'Bearer Hidden-1' } })).toEqual([expect.stringContaining('lower-case')]);
    expect(problems({ target: 'api:1', metadata: { 'grpc-timeout': '1S' } })).toEqual([expect.stringContaining('gRPC itself sets')]);
    expect(problems({ target: 'api:1', metadata: { 'trace-bin': 'AAEC' } })).toEqual([expect.stringContaining('binary')]);
    const control = problems({ target: 'api:1', metadata: { authorization: 'Bearer Hidden-2\r\nx: y' } });
    expect(control).toEqual([expect.stringContaining('printable ASCII')]);
    expect(control.join()).not.toContain('Hidden-2');
    expect(problems({ target: 'api:1', metadata: { authorization: 'a' }, metadataFiles: { authorization: '/run/token' } })).toEqual([expect.stringContaining('also in metadata')]);
  });

  it('tls: not with a plaintext grpc:// URL', () => {
    expect(problems({ target: 'grpc://api:1', tls: { insecureSkipVerify: true } })).toEqual([expect.stringContaining('grpcs://')]);
    expect(problems({ target: 'grpcs://api:1', tls: { insecureSkipVerify: true } })).toEqual([]);
  });
});

describe('grpc messages, encoded by hand', () => {
  it('HealthCheckRequest: nothing for "", field 1 with a varint length otherwise', () => {
    expect(encodeRequest('')).toEqual(Buffer.alloc(0));
    expect(encodeRequest('ab')).toEqual(Buffer.from([0x0a, 0x02, 0x61, 0x62]));
    const long = encodeRequest('x'.repeat(300));
    expect([...long.subarray(0, 3)]).toEqual([0x0a, 0xac, 0x02]);
    expect(long.length).toBe(303);
  });

  it('HealthCheckResponse: field 1, unknown fields skipped, and what is no such message said, never thrown', () => {
    expect(decodeResponse(Buffer.from([0x08, 0x01]))).toEqual({ status: 1 });
    expect(decodeResponse(Buffer.alloc(0))).toEqual({ status: 0 });
    // An unknown string field 2 and fixed32 field 3 before the status.
    expect(decodeResponse(Buffer.from([0x12, 0x01, 0x61, 0x1d, 1, 2, 3, 4, 0x08, 0x02]))).toEqual({ status: 2 });
    expect(decodeResponse(Buffer.from([0x08]))).toMatchObject({ problem: expect.stringContaining('cut short') });
    expect(decodeResponse(Buffer.from([0x0a, 0x01, 0x61]))).toMatchObject({ problem: expect.stringContaining('not a number') });
    expect(decodeResponse(Buffer.from([0x0b]))).toMatchObject({ problem: expect.stringContaining('wire type 3') });
    expect(decodeResponse(Buffer.alloc(12, 0xff))).toMatchObject({ problem: expect.any(String) });
  });
});

describe('grpc driver loading', () => {
  it('@grpc/grpc-js is loaded only once a grpc check is prepared, never by the registry alone', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((path) => path.includes('/node_modules/@grpc/grpc-js/'));
      const protobuf = () => Object.keys(cache).some((path) => /node_modules\\/(protobufjs|@grpc\\/proto-loader)\\//.test(path));
      const { kinds } = await import('./dist/checks/index.js');
      const before = loaded();
      await kinds.find((kind) => kind.type === 'grpc').prepare();
      console.log(JSON.stringify({ before, after: loaded(), protobuf: protobuf() }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' });
    expect(JSON.parse(stdout)).toEqual({ before: false, after: true, protobuf: false });
  });
});
