// dependsOn and intervalWhenFailing with the built CLI and real servers: while the root of a chain
// hangs, its dependents are never attempted (counted at their targets) and report
// dependency_failed naming the root; a dependent polled every 30 s while passing is seen to recover
// within seconds of its dependency coming back, through intervalWhenFailing.
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { freePort, startBlackhole, startUpstream, waitFor } from '../helpers/net.js';

const agents = agentsForEachTest(afterEach);

const entry = async (url: string, check: string) => (await getJson(`${url}/health`)).body.checks[`${check}:responseTime`]?.[0];

describe('dependsOn', () => {
  it('while the root hangs, dependents (direct and indirect) report dependency_failed naming the root, and no attempt reaches their targets', async () => {
    const root = await startBlackhole();
    const apiTarget = await startBlackhole();
    const workerTarget = await startBlackhole();
    agents.upstreams.push(root, apiTarget, workerTarget);
    const agent = await agents.start(
      [
        'defaults: { interval: 1s, timeout: 500ms }',
        'checks:',
        `  root: { type: http, url: "http://127.0.0.1:${root.port}/" }`,
        `  api: { type: tcp, host: 127.0.0.1, port: ${apiTarget.port}, dependsOn: [root] }`,
        `  worker: { type: tcp, host: 127.0.0.1, port: ${workerTarget.port}, dependsOn: [api] }`,
        '',
      ].join('\n'),
    );
    await waitFor('the root to time out and both dependents to report dependency_failed twice', async () => {
      const metrics = await (await fetch(`${agent.url}/metrics`)).text();
      const count = (check: string) => Number(new RegExp(`^vigil_check_failures_total\\{check="${check}",type="tcp",reason="dependency_failed"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
      return count('api') >= 2 && count('worker') >= 2;
    }, 10_000, 100);
    // The root was really attempted; the dependents never reached their targets.
    expect(root.accepted()).toBeGreaterThan(0);
    expect({ api: apiTarget.accepted(), worker: workerTarget.accepted() }).toEqual({ api: 0, worker: 0 });
    expect(await entry(agent.url, 'root')).toMatchObject({ status: 'fail', reason: 'timeout' });
    for (const check of ['api', 'worker']) {
      expect(await entry(agent.url, check)).toMatchObject({ status: 'fail', reason: 'dependency_failed', output: 'not attempted: root fails (timeout)' });
    }
    // One root failure is one reason of its own in metrics; the rest is dependency_failed.
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    const reasons = [...metrics.matchAll(/^vigil_check_failures_total\{check="(\w+)",type="\w+",reason="(\w+)"\} [1-9]/gm)].map((m) => `${m[1]}:${m[2]}`).sort();
    expect(reasons).toEqual(['api:dependency_failed', 'root:timeout', 'worker:dependency_failed']);
    // Not attempted, so no latency: the dependents' duration histograms stay empty; the root's has its timeouts.
    const durations = (check: string) => Number(new RegExp(`^vigil_check_duration_seconds_count\\{check="${check}",type="\\w+"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect({ api: durations('api'), worker: durations('worker') }).toEqual({ api: 0, worker: 0 });
    expect(durations('root')).toBeGreaterThan(0);
    // The dependents are still not attempted.
    expect({ api: apiTarget.accepted(), worker: workerTarget.accepted() }).toEqual({ api: 0, worker: 0 });
  }, 30_000);

  it('with interval 30s and intervalWhenFailing 1s, a dependent recovers within seconds of its dependency coming back', async () => {
    const rootPort = await freePort();
    const target = await startBlackhole();
    agents.upstreams.push(target);
    const agent = await agents.start(
      [
        'checks:',
        `  root: { type: http, url: "http://127.0.0.1:${rootPort}/", interval: 1s, timeout: 500ms }`,
        `  api: { type: tcp, host: 127.0.0.1, port: ${target.port}, interval: 30s, intervalWhenFailing: 1s, timeout: 500ms, dependsOn: [root] }`,
        '',
      ].join('\n'),
    );
    await waitFor('api to report dependency_failed', async () => (await entry(agent.url, 'api'))?.reason === 'dependency_failed', 10_000, 100);
    expect(await entry(agent.url, 'root')).toMatchObject({ reason: 'connect_refused' });
    expect(target.accepted()).toBe(0);
    // The dependency comes back.
    const upstream = await startUpstream((_req, res) => res.end('ok'), rootPort);
    agents.upstreams.push(upstream);
    const back = Date.now();
    await waitFor('api to pass', async () => (await entry(agent.url, 'api'))?.status === 'pass', 10_000, 50);
    const recoveredMs = Date.now() - back;
    // At most one root interval, then one intervalWhenFailing: about 2 s; never the 30 s interval.
    expect(recoveredMs).toBeLessThan(5000);
    expect(target.accepted()).toBeGreaterThanOrEqual(1);
    console.log(`dependent recovered ${recoveredMs} ms after its dependency came back (interval 30s, intervalWhenFailing 1s)`);
  }, 30_000);
});

describe('vigil check and dependsOn', () => {
  it('does not attempt a check whose dependency fails, naming the root; a dependency that passes lets it run', async () => {
    const root = await startBlackhole();
    const target = await startBlackhole();
    const fine = await startBlackhole();
    agents.upstreams.push(root, target, fine);
    const path = tempConfig(
      [
        'checks:',
        `  root: { type: http, url: "http://127.0.0.1:${root.port}/", timeout: 500ms }`,
        `  api: { type: tcp, host: 127.0.0.1, port: ${target.port}, dependsOn: [root] }`,
        `  worker: { type: tcp, host: 127.0.0.1, port: ${target.port}, dependsOn: [api] }`,
        `  base: { type: tcp, host: 127.0.0.1, port: ${fine.port} }`,
        `  other: { type: tcp, host: 127.0.0.1, port: ${fine.port}, dependsOn: [base] }`,
        '',
      ].join('\n'),
    );
    const { code, stdout } = await runCli(['check', '--config', path, '--json']);
    expect(code).toBe(1);
    const rows = Object.fromEntries(JSON.parse(stdout).checks.map((c: { name: string }) => [c.name, c]));
    expect(rows.root).toMatchObject({ status: 'fail', reason: 'timeout' });
    for (const name of ['api', 'worker']) expect(rows[name]).toMatchObject({ status: 'fail', reason: 'dependency_failed', output: 'not attempted: root fails (timeout)' });
    expect(rows.other).toMatchObject({ status: 'pass' });
    expect(target.accepted()).toBe(0);
    expect(fine.accepted()).toBe(2);
  });
});

describe('vigil validate on the new keys', () => {
  it('names each problem of dependsOn, intervalWhenFailing and heartbeat checks with its line and column, exit 2', async () => {
    const path = tempConfig(
      [
        'defaults: { intervalWhenFailing: 1m }',
        'checks:',
        '  a: { type: tcp, host: h, port: 1, dependsOn: [b] }',
        '  b: { type: tcp, host: h, port: 1, dependsOn: [a, ghost] }',
        '  c: { type: tcp, host: h, port: 1, interval: 5s, intervalWhenFailing: 10s }',
        '  d: { type: heartbeat, ttl: 3s, interval: 1s }',
        '  e: { type: heartbeat }',
        '',
      ].join('\n'),
    );
    const { code, stderr } = await runCli(['validate', '--config', path]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${path}:1:34: defaults.intervalWhenFailing: 1m must not be longer than defaults.interval (10s)`);
    expect(stderr).toContain(`${path}:3:48: checks.a.dependsOn: a cycle of dependencies: a → b → a`);
    expect(stderr).toContain(`${path}:4:52: checks.b.dependsOn.1: "ghost" is not a declared check`);
    expect(stderr).toContain(`${path}:5:72: checks.c.intervalWhenFailing: 10s must not be longer than interval (5s)`);
    expect(stderr).toContain(`${path}:6:34: checks.d.interval: does not apply to a heartbeat check: it is not polled, its results are pushed to the agent`);
    expect(stderr).toContain(`${path}:7:6: checks.e.ttl: is required (string)`);
  });

  it('when a dependency turns fail its dependents (and theirs) report dependency_failed at once, not at their next attempt 30 s later; when it passes again they are attempted at once', async () => {
    let isHung = false;
    // Answers while not hung; hung, it accepts and never answers.
    const root = await startUpstream((_req, res) => {
      if (!isHung) res.end('ok');
    });
    const ordersTarget = await startBlackhole();
    const reportingTarget = await startBlackhole();
    agents.upstreams.push(root, ordersTarget, reportingTarget);
    const agent = await agents.start(
      [
        'checks:',
        `  db: { type: http, url: "${root.url}/", interval: 1s, timeout: 500ms }`,
        `  orders: { type: tcp, host: 127.0.0.1, port: ${ordersTarget.port}, interval: 30s, timeout: 500ms, dependsOn: [db] }`,
        `  reporting: { type: tcp, host: 127.0.0.1, port: ${reportingTarget.port}, interval: 30s, timeout: 500ms, dependsOn: [orders] }`,
        '',
      ].join('\n'),
    );
    const statuses = async () => {
      const checks = (await getJson(`${agent.url}/health`)).body.checks;
      return Object.fromEntries(['db', 'orders', 'reporting'].map((name) => [name, checks[`${name}:responseTime`][0]]));
    };
    await waitFor('every check to pass', async () => Object.values(await statuses()).every((entry: any) => entry.status === 'pass'), 10_000, 100);
    const attempted = { orders: ordersTarget.accepted(), reporting: reportingTarget.accepted() };
    expect(attempted).toEqual({ orders: 1, reporting: 1 });

    isHung = true;
    const seen: Record<string, number> = {};
    await waitFor('db to fail and both dependents to report dependency_failed', async () => {
      const now = Date.now();
      const current = await statuses();
      if (current.db.status === 'fail') seen.db ??= now;
      for (const name of ['orders', 'reporting']) if (current[name].reason === 'dependency_failed') seen[name] ??= now;
      return seen.db !== undefined && seen.orders !== undefined && seen.reporting !== undefined ? current : undefined;
    }, 15_000, 50);
    // Within a second of the root's failure (the next attempt would be ~30 s away), and not attempted.
    expect(seen.orders! - seen.db!).toBeLessThan(1000);
    expect(seen.reporting! - seen.db!).toBeLessThan(1000);
    expect((await statuses()).reporting).toMatchObject({ status: 'fail', reason: 'dependency_failed', output: 'not attempted: db fails (timeout)' });
    expect({ orders: ordersTarget.accepted(), reporting: reportingTarget.accepted() }).toEqual(attempted);

    // Back: the dependents are attempted at once, not 30 s later.
    isHung = false;
    const back = Date.now();
    await waitFor('both dependents to pass again', async () => Object.values(await statuses()).every((entry: any) => entry.status === 'pass'), 10_000, 50);
    expect(Date.now() - back).toBeLessThan(5000);
    expect({ orders: ordersTarget.accepted(), reporting: reportingTarget.accepted() }).toEqual({ orders: 2, reporting: 2 });
  }, 40_000);
});
