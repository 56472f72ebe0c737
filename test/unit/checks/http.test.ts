import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, MAX_BODY_BYTES } from '../../../checks/http.js';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';
import { freePort, startBlackhole, startUpstream, waitFor, type Upstream } from '../../helpers/net.js';
import { runOnce } from '../../helpers/run.js';
import { selfSignedCertificate } from '../../helpers/tls.js';

let upstream: Upstream;
let bytesSent = 0;
beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const path = req.url ?? '/';
    if (path === '/ok') return void res.end('{"status":"UP"}');
    if (path === '/500') return void res.writeHead(500).end('broken');
    if (path === '/204') return void res.writeHead(204).end();
    if (path === '/redirect') return void res.writeHead(302, { location: '/ok' }).end();
    if (path === '/loop') return void res.writeHead(302, { location: '/loop' }).end();
    if (path === '/slow-body') {
      res.writeHead(200);
      res.write('{"sta');
      return; // the rest never comes
    }
    if (path === '/endless') {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) bytesSent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => undefined);
      return pump();
    }
    if (path === '/echo-method') return void res.end(req.method);
    res.writeHead(404).end();
  });
});
afterAll(async () => upstream.close());

describe('http check', () => {
  it('passes on a 2xx and reports the status code', async () => {
    expect(await runOnce(http, { url: `${upstream.url}/ok` })).toMatchObject({ ok: true, observation: { statusCode: 200 } });
  });

  it('fails with status_code on an unexpected status, naming expected and actual', async () => {
    const result = await runOnce(http, { url: `${upstream.url}/500` });
    expect(result).toMatchObject({ ok: false, reason: 'status_code' });
    expect(result.message).toBe(`GET ${upstream.url}/500 answered 500, expected 200-399`);
  });

  it('accepts codes and ranges in expect.status', async () => {
    expect(await runOnce(http, { url: `${upstream.url}/204`, expect: { status: [200, '204-204'] } })).toMatchObject({ ok: true });
    expect(await runOnce(http, { url: `${upstream.url}/500`, expect: { status: ['500-599'] } })).toMatchObject({ ok: true });
  });

  it('checks expect.bodyContains against the body', async () => {
    expect(await runOnce(http, { url: `${upstream.url}/ok`, expect: { bodyContains: '"UP"' } })).toMatchObject({ ok: true });
    const miss = await runOnce(http, { url: `${upstream.url}/ok`, expect: { bodyContains: '"DOWN"' } });
    expect(miss).toMatchObject({ ok: false, reason: 'body' });
  });

  it('does not follow redirects unless told to', async () => {
    expect(await runOnce(http, { url: `${upstream.url}/redirect`, expect: { status: [200] } })).toMatchObject({ ok: false, reason: 'status_code' });
    expect(await runOnce(http, { url: `${upstream.url}/redirect`, expect: { status: [200] }, followRedirects: true })).toMatchObject({ ok: true });
    const loop = await runOnce(http, { url: `${upstream.url}/loop`, followRedirects: true });
    expect(loop).toMatchObject({ ok: false, reason: 'status_code' });
    expect(loop.message).toMatch(/more than 5 redirects/);
  });

  it('fails at the timeout when the body never completes', async () => {
    const started = Date.now();
    const result = await runOnce(http, { url: `${upstream.url}/slow-body`, expect: { bodyContains: 'UP' } }, 300);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reads at most 64 KiB of an endless body', async () => {
    bytesSent = 0;
    const result = await runOnce(http, { url: `${upstream.url}/endless` }, 2000);
    expect(result).toMatchObject({ ok: true });
    // The server may have buffered more into the socket, but nowhere near an unbounded download.
    expect(bytesSent).toBeLessThan(MAX_BODY_BYTES * 64);
  });

  it('sends the configured method and headers', async () => {
    const seen: Record<string, unknown> = {};
    const echo = await startUpstream((req, res) => {
      seen.method = req.method;
      seen.auth = req.headers.authorization;
      res.end();
    });
    await runOnce(http, { url: echo.url, method: 'HEAD', headers: { Authorization: 'Bearer t0k3n' } });
    expect(seen).toEqual({ method: 'HEAD', auth: 'Bearer t0k3n' });
    await echo.close();
  });

  it('fails with connect_refused, dns and timeout for the matching faults', async () => {
    expect(await runOnce(http, { url: `http://127.0.0.1:${await freePort()}/` })).toMatchObject({ reason: 'connect_refused' });
    expect(await runOnce(http, { url: 'http://no-such-host.invalid/' }, 3000)).toMatchObject({ reason: 'dns' });
    const blackhole = await startBlackhole();
    const started = Date.now();
    expect(await runOnce(http, { url: `http://127.0.0.1:${blackhole.port}/` }, 300)).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor('the socket to close', () => blackhole.openSockets() === 0);
    await blackhole.close();
  });

  describe('TLS', () => {
    let url = '';
    let close = () => undefined as void;
    beforeAll(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '30', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `https://localhost:${(server.address() as { port: number }).port}/`;
      close = () => void server.close();
    });
    afterAll(() => close());

    it('fails with tls on a self-signed certificate', async () => {
      const result = await runOnce(http, { url });
      expect(result).toMatchObject({ ok: false, reason: 'tls' });
      expect(result.message).toMatch(/self.signed/i);
    });

    it('passes with tls.insecureSkipVerify', async () => {
      expect(await runOnce(http, { url, tls: { insecureSkipVerify: true } })).toMatchObject({ ok: true });
    });
  });
});

/** A TCP peer that is no HTTP server: it writes `bytes` (on connect, or once the request arrives). */
async function nonHttpPeer(bytes: string | Buffer, when: 'connect' | 'request'): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (when === 'connect') socket.write(bytes);
    else socket.once('data', () => socket.write(bytes));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/health`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('reasons: an HTTP check against a non-HTTP peer is protocol', () => {
  it.each([
    ['an SSH server (its banner)', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', 'connect'],
    ['random bytes', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 97 + 13) % 256)), 'request'],
    ['a Redis server (an error line)', "-ERR unknown command 'GET', with args beginning with: '/health'\r\n", 'request'],
    ['a broken chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n', 'request'],
  ] as const)('%s', async (_name, bytes, when) => {
    const peer = await nonHttpPeer(bytes, when);
    const result = await runOnce(http, { url: peer.url });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/did not answer in HTTP: Parse Error/);
    await peer.close();
  });
});

/** An HTTP server on its own port (its own origin) that records the headers of every request. */
async function recording(handler: (path: string, res: ServerResponse) => void) {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server = await startUpstream((req, res) => {
    seen.push({ path: req.url ?? '/', headers: req.headers });
    handler(req.url ?? '/', res);
  });
  return Object.assign(server, { seen });
}

const CREDENTIALS = { Authorization: 'Bearer t0k3n', 'Proxy-Authorization': 'Basic cHJveHk6cHc=', Cookie: 'session=s3cr3t', 'X-Trace': 'abc' };

describe('redirects carry credentials to another origin (followRedirects)', () => {
  let other: Awaited<ReturnType<typeof recording>>;
  let origin: Awaited<ReturnType<typeof recording>>;
  beforeAll(async () => {
    other = await recording((path, res) => {
      if (path === '/back') return void res.writeHead(302, { location: `${origin.url}/landing` }).end();
      res.end('ok');
    });
    origin = await recording((path, res) => {
      if (path === '/to-other') return void res.writeHead(302, { location: `${other.url}/landing` }).end();
      if (path === '/to-other-and-back') return void res.writeHead(302, { location: `${other.url}/back` }).end();
      if (path === '/same') return void res.writeHead(301, { location: '/landing' }).end();
      res.end('ok');
    });
  });
  afterAll(async () => {
    await other.close();
    await origin.close();
  });
  const reset = () => {
    other.seen.length = 0;
    origin.seen.length = 0;
  };

  it('drops Authorization, Proxy-Authorization and Cookie when the origin changes (another port), keeps other headers', async () => {
    reset();
    expect(await runOnce(http, { url: `${origin.url}/to-other`, headers: CREDENTIALS, followRedirects: true })).toMatchObject({ ok: true });
    expect(origin.seen[0]!.headers).toMatchObject({ authorization: 'Bearer t0k3n', 'proxy-authorization': 'Basic cHJveHk6cHc=', cookie: 'session=s3cr3t' });
    expect(other.seen).toHaveLength(1);
    expect(other.seen[0]!.headers['x-trace']).toBe('abc');
    expect(other.seen[0]!.headers).not.toHaveProperty('authorization');
    expect(other.seen[0]!.headers).not.toHaveProperty('proxy-authorization');
    expect(other.seen[0]!.headers).not.toHaveProperty('cookie');
  });

  it('keeps them on a redirect within the origin, and sends them again when a redirect leads back to it', async () => {
    reset();
    expect(await runOnce(http, { url: `${origin.url}/same`, headers: CREDENTIALS, followRedirects: true })).toMatchObject({ ok: true });
    expect(origin.seen.map((s) => [s.path, s.headers.authorization])).toEqual([
      ['/same', 'Bearer t0k3n'],
      ['/landing', 'Bearer t0k3n'],
    ]);
    reset();
    expect(await runOnce(http, { url: `${origin.url}/to-other-and-back`, headers: CREDENTIALS, followRedirects: true })).toMatchObject({ ok: true });
    expect(other.seen.map((s) => s.headers.authorization)).toEqual([undefined]);
    expect(origin.seen.map((s) => s.headers.authorization)).toEqual(['Bearer t0k3n', 'Bearer t0k3n']);
  });

  it('never sends the URL userinfo to another origin', async () => {
    reset();
    const withUser = origin.url.replace('http://', 'http://monitor:pa55@');
    expect(await runOnce(http, { url: `${withUser}/to-other`, followRedirects: true })).toMatchObject({ ok: true });
    expect(origin.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('monitor:pa55').toString('base64')}`);
    expect(other.seen[0]!.headers).not.toHaveProperty('authorization');
  });

  describe('from https', () => {
    let secure: { url: string; close(): void };
    beforeAll(async () => {
      const certificate = selfSignedCertificate();
      const server = createHttpsServer({ key: certificate.key, cert: certificate.cert }, (_req, res) => res.writeHead(302, { location: `${other.url}/landing` }).end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      secure = { url: `https://localhost:${(server.address() as { port: number }).port}/`, close: () => void server.close() };
    });
    afterAll(() => secure.close());

    it('refuses a downgrade to http with tls, unless allowInsecureRedirects; credentials never follow', async () => {
      reset();
      const refused = await runOnce(http, { url: secure.url, headers: CREDENTIALS, followRedirects: true, tls: { insecureSkipVerify: true } });
      expect(refused).toMatchObject({ ok: false, reason: 'tls' });
      expect(refused.message).toMatch(/a redirect from https to plain http \(http:\/\/127\.0\.0\.1:\d+\/landing\); set allowInsecureRedirects: true/);
      expect(other.seen).toHaveLength(0);

      const allowed = await runOnce(http, { url: secure.url, headers: CREDENTIALS, followRedirects: true, allowInsecureRedirects: true, tls: { insecureSkipVerify: true } });
      expect(allowed).toMatchObject({ ok: true });
      expect(other.seen).toHaveLength(1);
      expect(other.seen[0]!.headers).not.toHaveProperty('authorization');
      expect(other.seen[0]!.headers).not.toHaveProperty('cookie');
    });
  });
});

describe('output is unbounded: what an http check quotes from its peer is cut short', () => {
  it('a URL from an 8 KB Location is quoted at most 200 characters long', async () => {
    const peer = await startUpstream((req, res) => (req.url === '/' ? res.writeHead(302, { location: `/${'x'.repeat(8000)}` }).end() : res.writeHead(404).end()));
    const result = await runOnce(http, { url: `${peer.url}/`, followRedirects: true });
    await peer.close();
    expect(result).toMatchObject({ ok: false, reason: 'status_code' });
    expect(result.message!.length).toBeLessThan(600);
  });
});

describe('validate refuses what can never pass (http)', () => {
  const issues = (block: string) => {
    try {
      parseConfig(`checks:\n  api: ${block}\n`, { kinds, env: {} });
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
      throw error;
    }
    return [];
  };

  it('an invalid URL', () => {
    expect(issues('{ type: http, url: "http://a b/" }')).toEqual(['checks.api.url: "http://a b/" is not a valid URL']);
    expect(issues('{ type: http, url: "http://host:99999/" }')).toEqual(['checks.api.url: "http://host:99999/" is not a valid URL']);
  });

  it('a reversed status range', () => {
    expect(issues('{ type: http, url: "http://x/", expect: { status: ["500-200"] } }')).toEqual(['checks.api.expect.status.0: "500-200" is a reversed range: write the lower code first']);
    expect(issues('{ type: http, url: "http://x/", expect: { status: ["200-200", "200-500"] } }')).toEqual([]);
  });

  it('header names and values a request cannot carry (CR, LF, other control characters; no token)', () => {
    expect(issues('{ type: http, url: "http://x/", headers: { X-Id: "a\\r\\nX-Injected: 1" } }')).toEqual([
      'checks.api.headers.X-Id: "X-Id" has a value with CR, LF or another control character, which no header can carry',
    ]);
    expect(issues('{ type: http, url: "http://x/", headers: { "Bad Name": a, "X:Y": b } }')).toHaveLength(2);
    expect(issues('{ type: http, url: "http://x/", headers: { X-Ok: "tab\\tand spaces" } }')).toEqual([]);
  });

  it('method HEAD with bodyContains, and allowInsecureRedirects without followRedirects', () => {
    expect(issues('{ type: http, url: "http://x/", method: HEAD, expect: { bodyContains: UP } }')).toEqual(['checks.api.expect.bodyContains: "UP" can never match: a HEAD response has no body']);
    expect(issues('{ type: http, url: "http://x/", allowInsecureRedirects: true }')).toEqual(['checks.api.allowInsecureRedirects: true has no effect without followRedirects: true']);
  });

  it('never quotes a header value, which may be a secret', () => {
    expect(issues('{ type: http, url: "http://x/", headers: { Authorization: "Bearer s3cr3t\\n" } }').join('\n')).not.toContain('s3cr3t');
  });
});
