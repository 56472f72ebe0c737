import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const { start, upstreams } = agentsForEachTest(afterEach);

describe('vigil serve (built CLI)', () => {
  it('goes from 503 pending to 200, to 503 when a dependency goes away and back when it returns', async () => {
    let delayMs = 1500;
    const port = await freePort();
    let upstream = await startUpstream((_req, res) => void setTimeout(() => res.end('ok'), delayMs), port);
    upstreams.push(upstream);
    const agent = await start(`
checks:
  db: { type: postgres, url: "${PG_URL}", interval: 500ms, timeout: 400ms }
  cache: { type: redis, url: "${REDIS_URL}", interval: 500ms, timeout: 400ms }
  api: { type: http, url: "http://127.0.0.1:${port}/health", interval: 3s, timeout: 2s }
`);
    const pending = await getJson(`${agent.url}/health/ready`);
    expect(pending.status).toBe(503);
    expect(pending.body.checks['api:responseTime'][0]).toMatchObject({ status: 'fail', reason: 'pending' });
    expect(pending.headers.get('content-type')).toBe('application/health+json');

    await waitFor('ready', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
    const ready = await getJson(`${agent.url}/health/ready`);
    // One entry per check, and one per numeric observation besides latency (the status code, Redis's clients).
    expect(Object.keys(ready.body.checks).sort()).toEqual(['api:responseTime', 'api:statusCode', 'cache:connectedClients', 'cache:responseTime', 'db:responseTime']);

    await upstream.close();
    // An attempt in flight when the upstream closes sees its connection reset (protocol); the next
    // one finds nothing listening.
    const down = await waitFor('not ready: connection refused', async () => {
      const r = await getJson(`${agent.url}/health/ready`);
      return r.status === 503 && r.body.checks['api:responseTime'][0].reason === 'connect_refused' ? r : undefined;
    }, 15_000);
    expect(down.body.checks['api:responseTime'][0]).toMatchObject({ status: 'fail', reason: 'connect_refused' });
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);

    delayMs = 0;
    upstream = await startUpstream((_req, res) => res.end('ok'), port);
    upstreams.push(upstream);
    await waitFor('ready again', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
  });

  it('reports every type pointed at a hung server failing at its timeout, with liveness still 200', async () => {
    const { startBlackhole } = await import('../helpers/net.js');
    const hole = await startBlackhole();
    const agent = await start(`
defaults: { interval: 5s, timeout: 500ms }
checks:
  db: { type: postgres, url: "postgres://u@127.0.0.1:${hole.port}/x" }
  cache: { type: redis, url: "redis://127.0.0.1:${hole.port}" }
  api: { type: http, url: "http://127.0.0.1:${hole.port}/" }
`);
    const body = await waitFor('all three to fail', async () => {
      const r = await getJson(`${agent.url}/health/ready`);
      const entries = Object.values(r.body.checks).map((e: any) => e[0]);
      return entries.every((e: any) => e.reason === 'timeout') ? r.body : undefined;
    });
    for (const entry of Object.values(body.checks).map((e: any) => e[0])) {
      expect(entry.observedValue).toBeGreaterThanOrEqual(450);
      expect(entry.observedValue).toBeLessThan(1500);
    }
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    await waitFor('sockets released', () => hole.openSockets() === 0);
    await hole.close();
  });

  it('runs 60 HTTP checks concurrently: all pass about one upstream latency after start', async () => {
    const upstream = await startUpstream((_req, res) => void setTimeout(() => res.end('ok'), 400));
    upstreams.push(upstream);
    const checks = Array.from({ length: 60 }, (_, i) => `  api${i}: { type: http, url: "${upstream.url}/${i}", interval: 30s, timeout: 2s }`).join('\n');
    const agent = await start(`checks:\n${checks}\n`);
    const ready = await waitFor('ready', async () => {
      const r = await getJson(`${agent.url}/health/ready`);
      return r.status === 200 ? r.body : undefined;
    });
    const entries = Object.values(ready.checks).map((e: any) => e[0]);
    const starts = entries.map((e: any) => Date.parse(e.time));
    const ends = entries.map((e: any) => Date.parse(e.time) + e.observedValue);
    // Sequential polling would take 60 x 400 ms = 24 s; concurrent takes one latency plus overhead.
    expect(Math.max(...ends) - Math.min(...starts)).toBeLessThan(1500);
    expect(upstream.requests()).toBe(60);
  });

  it('drains on SIGTERM: ready 503 at once, live and metrics 200, exit 0 after drainDelay', async () => {
    const agent = await start(`
server: { drainDelay: 1s }
checks:
  cache: { type: redis, url: "${REDIS_URL}" }
`);
    await waitFor('ready', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
    const signalledAt = Date.now();
    agent.child.kill('SIGTERM');
    const ready = await waitFor('draining', async () => {
      const r = await getJson(`${agent.url}/health/ready`);
      return r.status === 503 ? r : undefined;
    });
    expect(Date.now() - signalledAt).toBeLessThan(500);
    expect(ready.body).toMatchObject({ status: 'fail', reason: 'draining' });
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${agent.url}/metrics`)).status).toBe(200);
    expect(await agent.exited()).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1000);
    for (const line of agent.output().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('serves /metrics that promtool accepts', async () => {
    const agent = await start(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    await waitFor('a result', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
    const text = await (await fetch(`${agent.url}/metrics`)).text();
    expect(text).toContain('vigil_check_up{check="cache",type="redis"} 1');
    const { spawnSync } = await import('node:child_process');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });
});
