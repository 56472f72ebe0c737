// dependsOn does not depend on the order checks are written in: a dependent declared before the
// check it depends on is held back from its first attempt just the same (built CLI, real sockets).
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson } from '../helpers/cli.js';
import { startBlackhole, waitFor } from '../helpers/net.js';

const agents = agentsForEachTest(afterEach);

describe('dependsOn and declaration order', () => {
  it('a dependent written above its hung root is never attempted, at start included', async () => {
    const root = await startBlackhole();
    const apiTarget = await startBlackhole();
    agents.upstreams.push(root, apiTarget);
    const agent = await agents.start(
      [
        'defaults: { interval: 1s, timeout: 500ms }',
        'checks:',
        `  api: { type: tcp, host: 127.0.0.1, port: ${apiTarget.port}, dependsOn: [root] }`,
        `  root: { type: http, url: "http://127.0.0.1:${root.port}/" }`,
        '',
      ].join('\n'),
    );
    const entry = await waitFor('api to report dependency_failed', async () => {
      const current = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
      return current.reason === 'dependency_failed' ? current : undefined;
    });
    expect(entry.output).toBe('not attempted: root fails (timeout)');
    expect(root.accepted()).toBeGreaterThan(0);
    // Not one connection reached the dependent's target, the first attempt's included.
    expect(apiTarget.accepted()).toBe(0);
  }, 30_000);
});
