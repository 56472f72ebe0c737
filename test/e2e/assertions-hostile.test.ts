// What a hostile or broken dependency can make the http check's conditions cost the agent, through
// the built CLI: a condition on a body must never stall the event loop (probes and scrapes go on
// being answered), as bodyMatches already guarantees for regular expressions.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { startUpstream, waitFor } from '../helpers/net.js';

const agents = agentsForEachTest(afterEach);

describe('http conditions against hostile bodies (built CLI)', () => {
  it('a deeply nested JSON body (well under 64 KiB) with a descendant path: /health/live keeps answering fast, and the attempt keeps to its timeout', async () => {
    // 16000 levels of arrays: 32 KB, valid JSON, half the body limit.
    const depth = 16_000;
    // A good answer until the agent is up, then the nested one.
    let isHostile = false;
    const api = await startUpstream((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(isHostile ? `${'['.repeat(depth)}${']'.repeat(depth)}` : '{"status":"UP"}'),
    );
    agents.upstreams.push(api);
    const agent = await agents.start(`checks:\n  api:\n    type: http\n    url: ${api.url}/\n    interval: 2s\n    timeout: 1s\n    expect:\n      json: ['$..status == "UP"']\n`);
    isHostile = true;
    let slowest = 0;
    const statuses = new Set<number>();
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const started = Date.now();
      const res = await fetch(`${agent.url}/health/live`);
      statuses.add(res.status);
      await res.arrayBuffer();
      slowest = Math.max(slowest, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const entry = await waitFor('a result', async () => {
      const current = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
      return current.reason === 'pending' ? undefined : current;
    });
    console.log(`deep JSON body: slowest /health/live ${slowest} ms, statuses ${[...statuses].join(',')}, attempt latency ${entry.observedValue} ms`);
    expect(entry.status).toBe('fail');
    // Liveness stays 200: the agent is not wedged, a dependency answers badly.
    expect([...statuses]).toEqual([200]);
    // The same generous bound as for a backtracking pattern: judging a 32 KB body takes no event-loop second.
    expect(slowest).toBeLessThan(250);
    // A 1 s timeout bounds the attempt's latency.
    expect(entry.observedValue).toBeLessThan(2000);
  }, 60_000);

  it('a body within the depth bound that is costly to search (63 levels, 32 thousand values at the bottom) is judged off the event loop', async () => {
    // On the event loop, $..status over this body took ~100 ms per attempt (measured).
    const depth = 63;
    const values = Array.from({ length: 32_000 }, () => '0').join(',');
    const hostile = `${'['.repeat(depth)}${values}${']'.repeat(depth)}`;
    let isHostile = false;
    const api = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(isHostile ? hostile : '{"status":"UP"}'));
    agents.upstreams.push(api);
    const agent = await agents.start(`checks:\n  api:\n    type: http\n    url: ${api.url}/\n    interval: 3s\n    timeout: 3s\n    expect:\n      json: ['$..status == "UP"']\n`);
    isHostile = true;
    // The agent's own event-loop lag, which it measures: no attempt may stall the loop.
    const until = Date.now() + 4000;
    let slowest = 0;
    while (Date.now() < until) {
      const started = Date.now();
      await (await fetch(`${agent.url}/health/live`)).arrayBuffer();
      slowest = Math.max(slowest, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const entry = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
    console.log(`63-deep wide body: slowest /health/live ${slowest} ms; ${entry.status} ${entry.output}`);
    expect(entry).toMatchObject({ status: 'fail', reason: 'assertion' });
    // Judged (slowly: ~0.5 s of the worker on a busy machine) or ended at the 1 s limit: either way on its own thread.
    expect(entry.output).toMatch(/\$\.\.status == "UP" fails: the path found nothing|by expect\.json took longer than 1000 ms/);
    expect(slowest).toBeLessThan(250);
  }, 60_000);

  it('thirty checks whose body trivially matches bodyMatches all pass their first attempt together (no false "took longer than 1000 ms")', async () => {
    const api = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"UP"}'));
    agents.upstreams.push(api);
    const count = 30;
    let yaml = 'checks:\n';
    for (let i = 0; i < count; i++) yaml += `  api${i}:\n    type: http\n    url: ${api.url}/\n    interval: 60s\n    expect:\n      bodyMatches: 'UP'\n`;
    const agent = await agents.start(yaml);
    const entries = await waitFor(
      'every first result',
      async () => {
        // One entry per check: its latency (a passing http check also reports its status code).
        const all = (await getJson(`${agent.url}/health`)).body.checks as Record<string, { status: string; reason?: string; output?: string }[]>;
        const checks = Object.entries(all)
          .filter(([key]) => key.endsWith(':responseTime'))
          .map(([, entry]) => entry[0]!);
        return checks.length === count && checks.every((entry) => entry.reason !== 'pending') ? checks : undefined;
      },
      20_000,
    );
    const status = readFileSync(`/proc/${agent.child.pid}/status`, 'utf8');
    const failed = entries.filter((entry) => entry.status !== 'pass');
    console.log(`${count} bodyMatches checks at start: ${failed.length} failed (${failed[0]?.reason}: ${failed[0]?.output}); peak RSS ${/VmHWM:\s+(\d+ kB)/.exec(status)?.[1]}`);
    // A 15-byte body matched by /UP/: nothing here is slow, and nothing may fail.
    expect(failed).toEqual([]);
  }, 60_000);

  it('a deeply nested JSON body that a condition quotes fails with reason assertion, not unknown "Maximum call stack size exceeded"', async () => {
    const depth = 32_000;
    const api = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${'['.repeat(depth)}${']'.repeat(depth)}`));
    agents.upstreams.push(api);
    const config = tempConfig(`checks:\n  api:\n    type: http\n    url: ${api.url}/\n    expect:\n      json: ['$[0] == 1']\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    expect(result.code).toBe(1);
    const [entry] = JSON.parse(result.stdout).checks;
    // The dependency answered; its answer fails the condition.
    expect(entry).toMatchObject({ status: 'fail', reason: 'assertion' });
    // Refused before parsing (a linear scan): quoting it would overflow the stack, judging it stall the loop.
    expect(entry.output).toMatch(/^GET \S+ answered 200 but its body nests arrays and objects more than 64 levels deep/);
  }, 30_000);

  it('a body nested within the depth bound is judged, and the value the condition quotes is shown', async () => {
    const depth = 60;
    const api = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${'['.repeat(depth)}${']'.repeat(depth)}`));
    agents.upstreams.push(api);
    const config = tempConfig(`checks:\n  api:\n    type: http\n    url: ${api.url}/\n    expect:\n      json: ['$[0] == 1']\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    expect(result.code).toBe(1);
    const [entry] = JSON.parse(result.stdout).checks;
    expect(entry).toMatchObject({ status: 'fail', reason: 'assertion' });
    expect(entry.output).toMatch(/^GET \S+ answered 200 but \$\[0\] == 1 fails: \$\[0\] is \[\[\[/);
  }, 30_000);
});
