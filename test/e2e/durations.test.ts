// Durations through the built CLI: a duration a timer cannot hold is a config error (it used to
// become a 1 ms hot loop), and a timeout may equal its interval.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, serve, tempConfig, type Served, readable } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';

const running: Served[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) agent.kill();
  for (const upstream of upstreams.splice(0)) await upstream.close();
});

async function start(path: string, env: Record<string, string> = {}): Promise<Served> {
  const agent = await serve(['--config', path], await freePort(), env);
  running.push(agent);
  return agent;
}

async function upstream(): Promise<Upstream> {
  const up = await startUpstream((_req, res) => res.end('ok'));
  upstreams.push(up);
  return up;
}

describe("durations above Node's timer limit (2^31-1 ms) become 1 ms hot loops (built CLI)", () => {
  it('interval: 600h exits 2 naming the key, for validate and serve', async () => {
    const up = await upstream();
    const path = tempConfig(`checks:\n  api: { type: http, url: "${up.url}/", interval: 600h }\n`);
    const validate = await runCli(['validate', '--config', path]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(`${path}:2:`);
    expect(validate.stderr).toContain('checks.api.interval: "600h" is longer than the longest wait a timer can hold (596h31m23.647s)');
    const served = await runCli(['serve', '--port', String(await freePort()), '--config', path]);
    expect(served.code).toBe(2);
    expect(readable(served.stderr)).toContain('checks.api.interval');
    expect(up.requests()).toBe(0);
  });

  it('the hot loop is gone: an interval past the limit never starts, the longest accepted one waits', async () => {
    const up = await upstream();
    // 2000h: every wait overflows, so the loop ran every millisecond (over a thousand requests in 3 s).
    const past = await runCli(['serve', '--port', String(await freePort()), '--config', tempConfig(`checks:\n  api: { type: http, url: "${up.url}/", interval: 2000h }\n`)], {}, 10_000);
    expect(past.code).toBe(2);
    expect(readable(past.stderr)).toContain('checks.api.interval: "2000h" is longer than the longest wait a timer can hold');
    expect(up.requests()).toBe(0);

    const agent = await start(tempConfig(`checks:\n  api: { type: http, url: "${up.url}/", interval: 596h31m23.647s, timeout: 1s }\n`));
    await waitFor('the first attempt', () => up.requests() >= 1);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(up.requests()).toBe(1);
    expect(agent.output()).not.toContain('TimeoutOverflowWarning');
  });

  it('timeout: 0ms and 0.5ms are refused with a clear message', async () => {
    const run = await runCli(['validate', '--config', tempConfig('checks:\n  a: { type: tcp, host: h, port: 1, timeout: 0ms }\n  b: { type: tcp, host: h, port: 1, interval: 1ms, timeout: 0.5ms }\n')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('checks.a.timeout: "0ms" must be at least 1ms');
    expect(run.stderr).toContain('checks.b.timeout: "0.5ms" is not a whole number of milliseconds');
    expect(run.stderr).not.toContain('must be shorter than');
  });

  it('the CLI flags --wait and --timeout hold the same limits', async () => {
    const wait = await runCli(['check', '--wait', '600h', '--config', tempConfig('checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1 }\n')]);
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('--wait 600h is longer than the longest wait a timer can hold');
    const timeout = await runCli(['probe', '--timeout', '0ms', `http://127.0.0.1:${await freePort()}/`]);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout 0ms must be at least 1ms');
    const tooLong = await runCli(['probe', '--timeout', '30d']);
    expect(tooLong.code).toBe(2);
  });
});

describe('timeout may equal interval (built CLI)', () => {
  it('is valid for a check and for the defaults; only a longer timeout is refused', async () => {
    const equal = await runCli(['validate', '--config', tempConfig('defaults: { interval: 2s, timeout: 2s }\nchecks:\n  a: { type: tcp, host: h, port: 1, interval: 1s, timeout: 1s }\n')]);
    expect(equal.code).toBe(0);
    expect(equal.stderr).toBe('');
    const longer = await runCli(['validate', '--config', tempConfig('checks:\n  a: { type: tcp, host: h, port: 1, interval: 1s, timeout: 1500ms }\n')]);
    expect(longer.code).toBe(2);
    expect(longer.stderr).toContain('checks.a.timeout: 1500ms must not be longer than interval (1s)');
  });
});
