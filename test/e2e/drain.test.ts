// After SIGTERM (the built CLI): which groups fail, how long the agent stays, and a config with no
// checks at all.
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, tempConfig } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { jsonLines, killAll, spawnCli } from '../helpers/process.js';
import { REDIS_URL } from '../helpers/services.js';

afterEach(killAll);

async function serve(yaml: string): Promise<{ url: string; agent: ReturnType<typeof spawnCli>; path: string }> {
  const port = await freePort();
  const path = tempConfig(yaml);
  const agent = spawnCli(['serve', '--config', path, '--port', String(port), '--host', '127.0.0.1']);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`live (output: ${agent.output()})`, async () => {
    if (agent.child.exitCode !== null) throw new Error(`exited with ${agent.child.exitCode}: ${agent.output()}`);
    return (await fetch(`${url}/health/live`).catch(() => undefined))?.ok;
  });
  return { url, agent, path };
}

describe('drain: while draining, every group except live fails', () => {
  it('drain: after SIGTERM ready, startup and custom groups answer 503 draining; live and metrics 200', async () => {
    const { url, agent } = await serve(`server: { drainDelay: 5s }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}", groups: [ready, batch] }\n`);
    await waitFor('ready', async () => (await getJson(`${url}/health/batch`)).status === 200);
    expect((await getJson(`${url}/health/startup`)).status).toBe(200);
    agent.child.kill('SIGTERM');
    await waitFor('draining', async () => (await getJson(`${url}/health/ready`)).status === 503);
    for (const group of ['ready', 'startup', 'batch']) {
      const { status, body } = await getJson(`${url}/health/${group}`);
      expect([group, status, body.reason]).toEqual([group, 503, 'draining']);
    }
    expect((await getJson(`${url}/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('drain: drainMode requests exits as soon as no request is in flight, long before drainDelay', async () => {
    const { agent } = await serve(`server: { drainDelay: 60s, drainMode: requests }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const signalledAt = Date.now();
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    const msgs = jsonLines(agent.output()).map((l) => l.msg);
    expect(msgs.slice(-2)).toEqual([expect.stringMatching(/^draining/), 'vigil stopped']);
  });

  it('drain: drainMode delay (the default) keeps answering for drainDelay', async () => {
    const { agent, url } = await serve(`server: { drainDelay: 1500ms }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const signalledAt = Date.now();
    agent.child.kill('SIGTERM');
    await waitFor('draining', async () => (await getJson(`${url}/health/ready`)).status === 503);
    expect(await agent.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1500);
  });
});

describe('an empty config (no checks)', () => {
  it('empty config: valid with a warning on every start and reload; /health/ready says so in its output, with 200', async () => {
    const { url, agent } = await serve('checks: {}\n');
    const ready = await getJson(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'pass', output: 'no checks are configured' });
    agent.child.kill('SIGHUP');
    await waitFor('the reload', () => agent.output().includes('configuration reloaded'), 20_000);
    const warnings = jsonLines(agent.output()).filter((l) => l.level === 'warn' && l.msg.startsWith('no checks are configured'));
    expect(warnings).toHaveLength(2);
  });
});
