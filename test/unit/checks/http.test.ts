import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, MAX_BODY_BYTES } from '../../../checks/http.js';
import { freePort, startBlackhole, startUpstream, waitFor, type Upstream } from '../../helpers/net.js';
import { runOnce } from '../../helpers/run.js';

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
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
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
