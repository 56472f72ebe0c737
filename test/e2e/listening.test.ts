// Load balancers and address families against the built CLI: HAProxy's HTTP/1.0 health check
// without a Host header, and IPv4 and IPv6 callers on the dual-stack default.
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, waitFor, type Upstream } from '../helpers/net.js';
import { agentsAsGiven } from '../helpers/serve-as-given.js';

const serve = agentsAsGiven(afterEach);
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const upstream of upstreams.splice(0)) await upstream.close();
});

async function upstream(): Promise<Upstream> {
  const started = await startUpstream((_req, res) => res.end('ok'));
  upstreams.push(started);
  return started;
}

/** Sends exactly these bytes; resolves with everything received until the agent closes. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('end', () => resolve(answer));
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close within 5 s; received ${JSON.stringify(answer)}`)));
    socket.write(bytes);
  });
}

describe('load balancers and address families (built CLI)', () => {
  it('HTTP/1.0 without a Host header (what HAProxy option httpchk sends) is answered like any other request', async () => {
    const api = await upstream();
    const agent = await serve(`checks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '127.0.0.1']);
    await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${agent.port}/health/ready`)).status === 200);
    // HAProxy 2.6's `option httpchk GET /health/ready`, byte for byte.
    const ready = await raw(agent.port, 'GET /health/ready HTTP/1.0\r\n\r\n');
    expect(ready).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(ready).toMatch(/\r\ncontent-type: application\/health\+json\r\n/i);
    expect(JSON.parse(ready.slice(ready.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 'pass' });
    expect(await raw(agent.port, 'GET /health/live HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const metrics = await raw(agent.port, 'GET /metrics HTTP/1.0\r\n\r\n');
    expect(metrics).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(metrics).toContain('vigil_check_up{check="api",type="http"} 1');
  });

  it('listens dual-stack by default: IPv4 and IPv6 loopback callers both get an answer', async () => {
    // This machine has IPv6 loopback; without it this test cannot say anything.
    expect(execFileSync('ip', ['-6', 'addr', 'show', 'lo'], { encoding: 'utf8' })).toContain('::1/128');
    const api = await upstream();
    const agent = await serve(`checks:\n  api: { type: http, url: "${api.url}/" }\n`);
    expect(agent.logLines().find((l) => l.msg === 'vigil started')).toMatchObject({ host: '::' });
    for (const host of ['127.0.0.1', '[::1]']) {
      const res = await fetch(`http://${host}:${agent.port}/health/live`);
      expect(res.status, host).toBe(200);
    }
    // An explicit host is used as given.
    const only4 = await serve(`checks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '127.0.0.1']);
    await expect(fetch(`http://[::1]:${only4.port}/health/live`)).rejects.toThrow();
  });
});
