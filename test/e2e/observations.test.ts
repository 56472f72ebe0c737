// Observations and thresholds through the built CLI: a slow node:http upstream crossing a latency
// warnIf (the entry warns, the group answers 200 with status warn, the transition is logged once,
// /metrics shows vigil_check_observation and promtool accepts it), an https upstream whose
// certificate expires in 5 days (warns by default, its days left are entries of their own), and the
// details policy unchanged for the new entries.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { chainOf, datedCertificates, daysFromNow, type Authority, type Issued } from '../helpers/dated-certs.js';
import { startUpstream, waitFor } from '../helpers/net.js';
import { jsonLines } from '../helpers/process.js';

const { start, upstreams } = agentsForEachTest(afterEach);

let dir: string;
let root: Authority;
let fiveDays: Issued;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-e2e-observations-'));
  const certs = datedCertificates(dir);
  root = certs.root('e2e-root', { notAfter: daysFromNow(3650) });
  fiveDays = root.issue('expires-in-5d', { notAfter: daysFromNow(5) });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const slowUpstream = async (delayMs: number) => {
  const upstream = await startUpstream((_req, res) => void setTimeout(() => res.end('ok'), delayMs));
  upstreams.push(upstream);
  return upstream;
};

describe('a latency warnIf crossed by a slow upstream', () => {
  it('the entry warns naming the observation, value and threshold; the group answers 200 with status warn; the transition is logged once', async () => {
    const upstream = await slowUpstream(300);
    const agent = await start(
      `server: { exposeDetails: true }\nchecks:\n  slow: { type: http, url: "${upstream.url}/health", interval: 1s, timeout: 900ms, warnIf: { latency: "> 100ms" }, failIf: { latency: "> 1.5s" } }\n`,
    );
    const ready = await waitFor('the check to warn', async () => {
      const answer = await getJson(`${agent.url}/health/ready`);
      return answer.body.status === 'warn' ? answer : undefined;
    });
    expect(ready.status).toBe(200);
    const [entry] = ready.body.checks['slow:responseTime'];
    expect(entry).toMatchObject({ componentId: 'slow', status: 'warn', observedUnit: 'ms' });
    expect(entry.observedValue).toBeGreaterThan(250);
    expect(entry.output).toMatch(/^warnIf latency > 100ms: observed \d+(\.\d+)? ms$/);
    expect(entry).not.toHaveProperty('reason');
    expect(ready.body.checks['slow:statusCode'][0]).toMatchObject({ observedValue: 200, observedUnit: 'code', status: 'pass' });

    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_check_observation\{check="slow",type="http",name="latency"\} \d+(\.\d+)?$/m);
    expect(metrics).toContain('vigil_check_observation{check="slow",type="http",name="statusCode"} 200\n');
    expect(metrics).toContain('vigil_check_up{check="slow",type="http"} 1\n');
    expect(metrics).toContain('vigil_health_status{group="ready",status="warn"} 1\n');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);

    // Three more attempts, all warning: one transition line, not one per attempt.
    await new Promise((resolve) => setTimeout(resolve, 3200));
    const transitions = jsonLines(agent.output()).filter((line) => line.check === 'slow' && line.to !== undefined);
    expect(transitions.map((line) => `${line.msg} ${line.from}->${line.to}`)).toEqual(['check slow passes with a warning pending->warn']);
    expect(transitions[0]!.output).toMatch(/^warnIf latency > 100ms: observed/);
  }, 20_000);

  it('vigil check: a warnIf crossed reports warn with the warning and exits 0; a failIf crossed exits 1 with reason threshold', async () => {
    const upstream = await slowUpstream(300);
    const warned = await runCli(['check', '--json', '--config', tempConfig(`checks:\n  slow: { type: http, url: "${upstream.url}/", warnIf: { latency: "> 100ms" } }\n`)]);
    expect(warned.code, warned.stderr).toBe(0);
    const report = JSON.parse(warned.stdout);
    expect(report.status).toBe('warn');
    expect(report.checks[0]).toMatchObject({ name: 'slow', status: 'warn', output: expect.stringMatching(/^warnIf latency > 100ms: observed \d+(\.\d+)? ms$/) });
    const failed = await runCli(['check', '--config', tempConfig(`checks:\n  slow: { type: http, url: "${upstream.url}/", failIf: { latency: "> 100ms" } }\n`)]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^slow +http +FAIL +\d+(\.\d+)? ms +threshold: failIf latency > 100ms: observed \d+(\.\d+)? ms$/m);
  });

  it('a failIf crossed fails the attempt with reason threshold: 503, and vigil_check_failures_total says so', async () => {
    const upstream = await slowUpstream(300);
    const agent = await start(`server: { exposeDetails: true }\nchecks:\n  slow: { type: http, url: "${upstream.url}/", timeout: 2s, failIf: { latency: "> 100ms" } }\n`);
    const ready = await waitFor('the check to fail', async () => {
      const answer = await getJson(`${agent.url}/health/ready`);
      return answer.status === 503 && answer.body.checks['slow:responseTime'][0].reason === 'threshold' ? answer : undefined;
    });
    expect(ready.body.checks['slow:responseTime'][0].output).toMatch(/^failIf latency > 100ms: observed \d+(\.\d+)? ms$/);
    expect(await (await fetch(`${agent.url}/metrics`)).text()).toContain('vigil_check_failures_total{check="slow",type="http",reason="threshold"} 1\n');
  });

  it('without details the new entries are withheld like every other (exposeDetails false, loopback not trusted)', async () => {
    const upstream = await slowUpstream(150);
    const agent = await start(`server: { exposeDetails: false, trustLoopback: false }\nchecks:\n  slow: { type: http, url: "${upstream.url}/", warnIf: { latency: "> 50ms" } }\n`);
    const ready = await waitFor('the check to warn', async () => {
      const answer = await getJson(`${agent.url}/health/ready`);
      return answer.body.status === 'warn' ? answer : undefined;
    });
    expect(ready.status).toBe(200);
    expect(ready.body).not.toHaveProperty('checks');
    expect(JSON.stringify(ready.body)).not.toContain('latency');
  });
});

describe('certificate expiry through the agent', () => {
  it('an https upstream whose certificate expires in 5 days: warn by default, with the days left as entries and gauges', async () => {
    const server = createHttpsServer({ cert: chainOf(fiveDays), key: readFileSync(fiveDays.key) }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    upstreams.push({ close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) });
    const port = (server.address() as { port: number }).port;
    const agent = await start(`server: { exposeDetails: true }\nchecks:\n  api: { type: http, url: "https://localhost:${port}/", tls: { caFile: "${root.cert}" } }\n`);
    const ready = await waitFor('the check to warn', async () => {
      const answer = await getJson(`${agent.url}/health/ready`);
      return answer.body.status === 'warn' ? answer : undefined;
    });
    expect(ready.status).toBe(200);
    expect(ready.body.checks['api:responseTime'][0].output).toMatch(/the leaf certificate "CN=expires-in-5d" expires in (4\.9\d|5) days, at \S+Z, within warnBefore \(14d\)$/);
    for (const name of ['tlsLeafDaysLeft', 'tlsChainDaysLeft']) {
      const [entry] = ready.body.checks[`api:${name}`];
      expect(entry).toMatchObject({ componentId: 'api', observedUnit: 'days' });
      expect(entry.observedValue).toBeCloseTo(5, 0);
    }
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_check_observation\{check="api",type="http",name="tlsLeafDaysLeft"\} (4\.9\d+|5)$/m);
  });
});
