// Faults produced against a running agent (the built CLI), through a fault proxy in front of the
// real PostgreSQL, Redis and an HTTP server: each shows in /health with the right reason within
// the check's timeout, disappears when the fault is removed, and leaves no socket behind.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, serve, tempConfig, type Served } from '../helpers/cli.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort, openSocketCount, startUpstream, waitFor, type Upstream } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const TIMEOUT_MS = 800;
const pg = new URL(PG_URL);
const redis = new URL(REDIS_URL);

let upstream: Upstream;
let proxies: Record<'db' | 'cache' | 'api' | 'port', FaultProxy>;
let agent: Served;

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
  proxies = {
    db: await startFaultProxy(pg.hostname, Number(pg.port || 5432)),
    cache: await startFaultProxy(redis.hostname, Number(redis.port || 6379)),
    api: await startFaultProxy('127.0.0.1', upstream.port),
    port: await startFaultProxy('127.0.0.1', upstream.port),
  };
  const viaProxy = (url: URL, port: number) => {
    const copy = new URL(url.href);
    copy.port = String(port);
    return copy.href;
  };
  agent = await serve(
    [
      '--config',
      tempConfig(`
defaults: { interval: 1s, timeout: ${TIMEOUT_MS}ms }
checks:
  db: { type: postgres, url: "${viaProxy(pg, proxies.db.port)}" }
  cache: { type: redis, url: "${viaProxy(redis, proxies.cache.port)}" }
  api: { type: http, url: "http://127.0.0.1:${proxies.api.port}/" }
  port: { type: tcp, host: 127.0.0.1, port: ${proxies.port.port} }
`),
    ],
    await freePort(),
  );
  await waitFor('all passing', async () => (await getJson(`${agent.url}/health`)).status === 200);
});

afterAll(async () => {
  agent?.kill();
  for (const proxy of Object.values(proxies ?? {})) await proxy.close();
  await upstream?.close();
});

type Entry = { status: string; reason?: string; observedValue: number; time: string };

async function setAll(mode: FaultMode, delayMs?: number, only?: (keyof typeof proxies)[]) {
  for (const [name, proxy] of Object.entries(proxies)) if (!only || only.includes(name as keyof typeof proxies)) await proxy.set(mode, { delayMs });
  return Date.now();
}

/** Waits until every named check has a result observed after `since` that satisfies `accept`. */
async function observed(since: number, accept: Record<string, (entry: Entry) => boolean>, timeoutMs = 6000) {
  let last: unknown;
  return waitFor(
    `checks ${Object.keys(accept).join(', ')} after the fault`,
    async () => {
      const body = (await getJson(`${agent.url}/health`)).body;
      last = body.checks;
      const entries: Record<string, Entry> = {};
      for (const name of Object.keys(accept)) {
        const entry = body.checks[`${name}:responseTime`][0] as Entry;
        if (Date.parse(entry.time) < since || !accept[name]!(entry)) return undefined;
        entries[name] = entry;
      }
      return entries;
    },
    timeoutMs,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: ${JSON.stringify(last)}`);
  });
}

/** One line per fault with what each check showed: the figures of docs/reliability.md. */
function report(fault: string, entries: Record<string, Entry>) {
  const shown = Object.entries(entries).map(([name, e]) => `${name} ${e.status}${e.reason ? `/${e.reason}` : ''} ${e.observedValue} ms`);
  console.log(`fault ${fault} (timeout ${TIMEOUT_MS} ms): ${shown.join(', ')}`);
}

const failsWith = (reason: string) => (e: Entry) => e.status === 'fail' && e.reason === reason;
const passes = (e: Entry) => e.status === 'pass';

describe('faults against a running agent', () => {
  it('blackhole: postgres, redis and http fail at the timeout (within 150 ms), then recover; no socket left', async () => {
    const agentSockets = await openSocketCount(agent.child.pid!);
    const since = await setAll('blackhole');
    const entries = await observed(since, { db: failsWith('timeout'), cache: failsWith('timeout'), api: failsWith('timeout'), port: passes });
    report('blackhole', entries);
    for (const name of ['db', 'cache', 'api']) {
      expect(entries[name]!.observedValue, name).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(entries[name]!.observedValue, name).toBeLessThan(TIMEOUT_MS + 150);
    }
    // Each aborted attempt closed its connection: at most the one in flight is open.
    for (const name of ['db', 'cache', 'api'] as const) expect(proxies[name].openConnections(), name).toBeLessThanOrEqual(1);
    const recovered = await setAll('pass');
    await observed(recovered, { db: passes, cache: passes, api: passes, port: passes });
    await waitFor('the proxies to drain', () => Object.values(proxies).every((p) => p.openConnections() === 0), 5000);
    expect(await openSocketCount(agent.child.pid!)).toBeLessThanOrEqual(agentSockets + 2);
  });

  it('reset: every protocol check fails fast; a tcp connect usually still succeeds', async () => {
    const since = await setAll('reset');
    // The handshake completes before the proxy resets: the tcp check passes, unless the reset
    // reaches the agent before it saw the connection complete.
    const tcpOutcome = (e: Entry) => passes(e) || failsWith('protocol')(e);
    const entries = await observed(since, { db: failsWith('protocol'), cache: failsWith('protocol'), api: failsWith('protocol'), port: tcpOutcome });
    report('reset', entries);
    for (const name of ['db', 'cache', 'api']) expect(entries[name]!.observedValue, name).toBeLessThan(TIMEOUT_MS / 2);
    await observed(await setAll('pass'), { db: passes, cache: passes, api: passes, port: passes });
  });

  it('refused: every check fails fast with connect_refused', async () => {
    const since = await setAll('refuse');
    const entries = await observed(since, { db: failsWith('connect_refused'), cache: failsWith('connect_refused'), api: failsWith('connect_refused'), port: failsWith('connect_refused') });
    report('refused', entries);
    for (const entry of Object.values(entries)) expect(entry.observedValue).toBeLessThan(TIMEOUT_MS / 2);
    await observed(await setAll('pass'), { db: passes, cache: passes, api: passes, port: passes });
  });

  it('latency under the timeout: passing, the latency visible as observedValue', async () => {
    const since = await setAll('latency', 50);
    const entries = await observed(since, { db: passes, cache: passes, api: passes });
    report('latency 50 ms each way', entries);
    // At least one round trip through the proxy: 2 x 50 ms.
    for (const name of ['db', 'cache', 'api']) expect(entries[name]!.observedValue, name).toBeGreaterThanOrEqual(100);
    await observed(await setAll('pass'), { db: passes, cache: passes, api: passes });
  });

  it('a dependency that drips its answer fails at the timeout', async () => {
    const since = await setAll('drip', 100, ['api', 'db']);
    const entries = await observed(since, { api: failsWith('timeout'), db: failsWith('timeout') });
    report('drip (a byte every 100 ms)', entries);
    expect(entries.api!.observedValue).toBeLessThan(TIMEOUT_MS + 150);
    await observed(await setAll('pass'), { db: passes, api: passes });
  });

  it('connections cut and the proxy to PostgreSQL down then restored: failing, then passing, same agent process', async () => {
    const pid = agent.child.pid;
    proxies.db.cut();
    const down = await setAll('refuse', undefined, ['db']);
    await observed(down, { db: failsWith('connect_refused') });
    expect((await getJson(`${agent.url}/health/ready`)).status).toBe(503);
    await observed(await setAll('pass', undefined, ['db']), { db: passes });
    expect((await getJson(`${agent.url}/health/ready`)).status).toBe(200);
    expect(agent.child.pid).toBe(pid);
    expect(agent.child.exitCode).toBeNull();
  });
});

describe('a redis-server that is killed and restarted', () => {
  it('fails while it is down and passes again once it is back, without an agent restart', async () => {
    const port = await freePort();
    const startRedis = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    let server = startRedis();
    const own = await serve(['--config', tempConfig(`checks:\n  cache: { type: redis, url: "redis://127.0.0.1:${port}", interval: 300ms, timeout: 250ms }\n`)], await freePort());
    try {
      const state = async () => (await getJson(`${own.url}/health/ready`)).body.checks['cache:responseTime'][0];
      await waitFor('passing', async () => (await state()).status === 'pass');
      server.kill('SIGKILL');
      await waitFor('failing', async () => (await state()).reason === 'connect_refused');
      server = startRedis();
      await waitFor('passing again', async () => (await state()).status === 'pass');
      expect(own.child.exitCode).toBeNull();
    } finally {
      own.kill();
      server.kill('SIGKILL');
    }
  });
});
