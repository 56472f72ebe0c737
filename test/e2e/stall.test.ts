// A stalled agent, seen from outside: a stopped process is exactly a stall (nothing runs, the
// kernel still accepts connections). /health/live and /metrics must agree that live fails, and
// both must recover within one stall window after the stall ends.
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson } from '../helpers/cli.js';
import { startUpstream, waitFor } from '../helpers/net.js';

const { start, upstreams } = agentsForEachTest(afterEach);
/** Documented: a stall fails liveness for at most 10 s after it ends. */
const STALL_WINDOW_MS = 10_000;

const liveInMetrics = async (url: string): Promise<string | undefined> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^vigil_health_status\{group="live",status="(\w+)"\} 1$/m.exec(text)?.[1];
};

describe('self-health (built CLI)', () => {
  it('/metrics and /health/live after a stall: both say live fails, and both recover within one window', async () => {
    const upstream = await startUpstream((_req, res) => res.end('ok'));
    upstreams.push(upstream);
    const agent = await start(`checks:\n  api: { type: http, url: "${upstream.url}/", interval: 5s, timeout: 1s }\n`);
    await waitFor('ready', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    expect(await liveInMetrics(agent.url)).toBe('pass');

    // A 3 s stall: longer than the 2 s the event loop may lag.
    agent.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    agent.child.kill('SIGCONT');
    const resumedAt = Date.now();

    // The first request may be served before the agent's timers notice the stall.
    const failing = await waitFor('live to fail', async () => {
      const live = await getJson(`${agent.url}/health/live`);
      return live.status === 503 ? live : undefined;
    }, 3000, 50);
    expect(failing.body.checks['vigil:eventLoopDelay'][0]).toMatchObject({ status: 'fail', output: expect.stringMatching(/stalled/) });
    expect(await liveInMetrics(agent.url)).toBe('fail');

    await waitFor('live to pass again', async () => (await getJson(`${agent.url}/health/live`)).status === 200, STALL_WINDOW_MS + 5000, 100);
    const recoveredMs = Date.now() - resumedAt;
    expect(await liveInMetrics(agent.url)).toBe('pass');
    // Within one window of the stall's end (a little margin for a busy machine).
    expect(recoveredMs).toBeLessThan(STALL_WINDOW_MS + 1500);
  }, 40_000);
});
