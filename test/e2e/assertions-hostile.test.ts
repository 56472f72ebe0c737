// What a hostile or broken dependency can make the http check's conditions cost the agent, through
// the built CLI: a condition on a body must never stall the event loop (probes and scrapes go on
// being answered), as bodyMatches already guarantees for regular expressions.
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson } from '../helpers/cli.js';
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
});
