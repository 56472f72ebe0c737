// dependsOn does not depend on the order checks are written in: a dependent declared before the
// check it depends on is held back from its first attempt just the same (built CLI, real sockets).
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { agentsForEachTest, getJson, serve, tempConfig } from '../helpers/cli.js';
import { jsonLines } from '../helpers/process.js';
import { freePort, startBlackhole, waitFor } from '../helpers/net.js';

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

  it('a reload that points a dependent (written above) at a new, hung dependency does not attempt it', async () => {
    const root = await startBlackhole();
    const apiTarget = await startBlackhole();
    agents.upstreams.push(root, apiTarget);
    const yaml = (dependency: string) =>
      [
        'defaults: { interval: 1s, timeout: 500ms }',
        'checks:',
        `  api: { type: tcp, host: 127.0.0.1, port: ${apiTarget.port}, dependsOn: [${dependency}] }`,
        `  ${dependency}: { type: http, url: "http://127.0.0.1:${root.port}/" }`,
        '',
      ].join('\n');
    const path = tempConfig(yaml('root'));
    const agent = await serve(['--config', path], await freePort());
    try {
      await waitFor('api to report dependency_failed', async () => (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0].reason === 'dependency_failed');
      // The dependency renamed: api's definition changes (its loop starts over) and the new name is added.
      writeFileSync(path, yaml('root2'));
      agent.child.kill('SIGHUP');
      await waitFor('the reload', () => jsonLines(agent.output()).some((line) => line.msg === 'configuration reloaded'));
      await waitFor('api to report dependency_failed on root2', async () => {
        const current = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
        return current.output === 'not attempted: root2 fails (timeout)';
      });
      expect(apiTarget.accepted()).toBe(0);
    } finally {
      agent.kill();
    }
  }, 30_000);
});
