import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig, type Served } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { REDIS_URL } from '../helpers/services.js';

const { start, upstreams } = agentsForEachTest(afterEach);

const logLines = (agent: Served) => agent.output().trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));

describe('production behaviour (built CLI)', () => {
  it('answers 200 warn when a non-critical dependency is down, 503 when a critical one is', async () => {
    const closed = await freePort();
    const agent = await start(`
checks:
  cache: { type: redis, url: "${REDIS_URL}" }
  search: { type: tcp, host: 127.0.0.1, port: ${closed}, critical: false }
`);
    const warn = await waitFor('warn', async () => {
      const r = await getJson(`${agent.url}/health/ready`);
      return r.body.status === 'warn' ? r : undefined;
    });
    expect(warn.status).toBe(200);
    const critical = await start(`checks:\n  search: { type: tcp, host: 127.0.0.1, port: ${closed} }\n`);
    const fail = await waitFor('fail', async () => {
      const r = await getJson(`${critical.url}/health/ready`);
      return r.body.checks['search:responseTime'][0].reason === 'connect_refused' ? r : undefined;
    });
    expect(fail.status).toBe(503);
    expect(fail.body.status).toBe('fail');
  });

  it('holds its status through a flapping dependency with thresholds, logging a handful of lines', async () => {
    // Alternates 200 and 500 request by request: never two equal answers in a row, however the
    // attempts are spaced on a busy machine.
    let requests = 0;
    const upstream = await startUpstream((_req, res) => res.writeHead(requests++ % 2 ? 500 : 200).end());
    upstreams.push(upstream);
    const agent = await start(`
checks:
  api: { type: http, url: "${upstream.url}/", interval: 150ms, timeout: 140ms, failureThreshold: 3, successThreshold: 3 }
`);
    await waitFor('20 attempts', () => requests >= 20, 20_000);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    const attempts = [...metrics.matchAll(/vigil_check_runs_total\{check="api",type="http",result="\w+"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(attempts).toBeGreaterThanOrEqual(19); // the 20th may still be in flight
    const transitions = logLines(agent).filter((l) => l.check === 'api' && l.from !== undefined);
    expect(transitions.length).toBeGreaterThanOrEqual(1);
    // No three equal answers in a row: only the first decision (pending -> pass or fail) is a
    // transition, and at most one more if attempts time out on a very busy machine.
    expect(transitions.length).toBeLessThanOrEqual(2);
    for (const line of transitions) {
      expect(line).toMatchObject({ check: 'api', type: 'http', level: expect.any(String), msg: expect.any(String), time: expect.any(String) });
      if (line.to === 'fail') expect(['status_code', 'timeout']).toContain(line.reason);
    }
    const body = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
    expect(body.consecutiveSuccesses + body.consecutiveFailures).toBeGreaterThanOrEqual(1);
  });

  it('shows per-check details to loopback callers even when exposeDetails is false', async () => {
    const agent = await start(`server: { exposeDetails: false }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const body = (await getJson(`${agent.url}/health/ready`)).body;
    expect(body.checks).toHaveProperty('cache:responseTime');
  });

  it('exits at once on a second signal', async () => {
    const agent = await start(`server: { drainDelay: 30s }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    agent.child.kill('SIGTERM');
    await waitFor('draining', async () => (await getJson(`${agent.url}/health/ready`)).status === 503);
    const second = Date.now();
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(143);
    expect(Date.now() - second).toBeLessThan(2000);
  });

  it('logs start, transitions and shutdown as JSON lines, and attempts only at debug', async () => {
    // A timeout with room to spare: on a busy machine a first attempt may take longer than 100 ms.
    const agent = await start(`server: { drainDelay: 0s }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 500ms, timeout: 450ms }\n`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    const msgs = logLines(agent).map((l) => l.msg);
    expect(msgs).toEqual(['vigil started', 'check cache passes', expect.stringMatching(/^draining/), 'vigil stopped']);

    const debug = await start(`checks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 500ms, timeout: 450ms }\n`, { VIGIL_LOG_LEVEL: 'debug' });
    await waitFor('attempt lines', () => logLines(debug).filter((l) => l.msg === 'attempt').length >= 2);
  });
});

describe('vigil check --wait and validate warnings', () => {
  it('waits until a dependency comes up, printing progress, then exits 0', async () => {
    const port = await freePort();
    setTimeout(() => void startUpstream((_req, res) => res.end('ok'), port).then((u) => upstreams.push(u)), 1500);
    const run = await runCli(['check', '--wait', '20s', '--config', tempConfig(`checks:\n  api: { type: http, url: "http://127.0.0.1:${port}/" }\n`)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/waiting for api \(connect_refused\)/);
    expect(run.ms).toBeGreaterThanOrEqual(1500);
    expect(run.ms).toBeLessThan(10_000);
  });

  it('gives up with exit 1 when the time is up', async () => {
    const run = await runCli(['check', '--wait', '1500ms', '--config', tempConfig(`checks:\n  api: { type: tcp, host: 127.0.0.1, port: ${await freePort()} }\n`)]);
    expect(run.code).toBe(1);
    expect(run.ms).toBeGreaterThanOrEqual(1400);
    expect(run.ms).toBeLessThan(6000);
  });

  it('validate warns when a check joins the live group', async () => {
    const run = await runCli(['validate', '--config', tempConfig(`checks:\n  disk: { type: tcp, host: 127.0.0.1, port: 1, groups: [live] }\n`)]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/warning: checks.disk joins the live group/);
  });
});
