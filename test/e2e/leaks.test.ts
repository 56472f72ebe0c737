// Thousands of attempts per type across pass, fail (refused) and timeout (blackhole): the agent's
// open file descriptors, its PostgreSQL backends, its Redis clients and its live heap (measured
// after a full collection) stay flat. Only this agent's connections are counted (those that came
// through its fault proxies), so other clients of the shared servers do not disturb the count.
import { readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWithGc, tempConfig, type ServedWithGc } from '../helpers/cli.js';
import { startFaultProxy, type FaultMode, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const PHASE_MS = 6000;
const pgUrl = new URL(PG_URL);
const redisUrl = new URL(REDIS_URL);
let upstream: Upstream;
let proxies: Record<'postgres' | 'redis' | 'http' | 'tcp', FaultProxy>;
let agent: ServedWithGc;
let admin: pg.Client;
let redisAdmin: Redis;

const fds = () => readdirSync(`/proc/${agent.child.pid}/fd`).length;
async function backends(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'vigil' AND client_port = ANY($1)", [proxies.postgres.upstreamPorts()]);
  return Number(rows[0]!.n);
}
async function redisClients(): Promise<number> {
  const ports = new Set(proxies.redis.upstreamPorts().map(String));
  return ((await redisAdmin.client('LIST')) as string).split('\n').filter((line) => / name=vigil /.test(line) && ports.has(/ addr=\S+:(\d+) /.exec(line)?.[1] ?? '')).length;
}
async function attemptsByType(): Promise<Record<string, number>> {
  const text = await (await fetch(`${agent.url}/metrics`)).text();
  const totals: Record<string, number> = {};
  for (const m of text.matchAll(/^vigil_check_runs_total\{check="[^"]+",type="(\w+)",result="\w+"\} (\d+)/gm)) totals[m[1]!] = (totals[m[1]!] ?? 0) + Number(m[2]);
  return totals;
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  redisAdmin = new Redis(REDIS_URL);
  upstream = await startUpstream((_req, res) => res.end('ok'));
  proxies = {
    postgres: await startFaultProxy(pgUrl.hostname, Number(pgUrl.port || 5432)),
    redis: await startFaultProxy(redisUrl.hostname, Number(redisUrl.port || 6379)),
    http: await startFaultProxy('127.0.0.1', upstream.port),
    tcp: await startFaultProxy('127.0.0.1', upstream.port),
  };
  const via = (url: URL, port: number) => Object.assign(new URL(url.href), { port: String(port) }).href;
  const lines: string[] = [];
  // PostgreSQL forks a backend per connection: a lower rate keeps the database from dominating the machine.
  for (let i = 0; i < 10; i++) lines.push(`  db${i}: { type: postgres, url: "${via(pgUrl, proxies.postgres.port)}", interval: 150ms, timeout: 100ms }`);
  for (let i = 0; i < 20; i++) {
    lines.push(`  cache${i}: { type: redis, url: "${via(redisUrl, proxies.redis.port)}", interval: 100ms, timeout: 80ms }`);
    lines.push(`  api${i}: { type: http, url: "http://127.0.0.1:${proxies.http.port}/", interval: 100ms, timeout: 80ms }`);
    lines.push(`  port${i}: { type: tcp, host: 127.0.0.1, port: ${proxies.tcp.port}, interval: 100ms, timeout: 80ms }`);
  }
  agent = await serveWithGc(['--config', tempConfig(`checks:\n${lines.join('\n')}\n`)], await freePort(), { VIGIL_LOG_LEVEL: 'error' });
}, 60_000);

afterAll(async () => {
  agent?.kill();
  for (const proxy of Object.values(proxies ?? {})) await proxy.close();
  await upstream?.close();
  await admin?.end();
  redisAdmin?.disconnect();
});

async function phase(mode: FaultMode) {
  for (const proxy of Object.values(proxies)) await proxy.set(mode);
  await new Promise((resolve) => setTimeout(resolve, PHASE_MS));
}

const MiB = 1024 * 1024;

describe('leaks', () => {
  it('keeps file descriptors, PostgreSQL backends, Redis clients and the live heap flat over thousands of attempts (tcp checks leak ~3 KB per attempt)', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500)); // warm up: every check has run
    const fdsBefore = fds();
    const heapBefore = await agent.liveHeap();
    const attemptsBefore = await attemptsByType();
    const samples: { fds: number; backends: number; clients: number; heap: number }[] = [];
    for (const mode of ['pass', 'refuse', 'blackhole', 'pass'] as const) {
      await phase(mode);
      samples.push({ fds: fds(), backends: await backends(), clients: await redisClients(), heap: await agent.liveHeap() });
    }
    const attempts = await attemptsByType();
    for (const type of Object.keys(proxies)) expect(attempts[type]! - attemptsBefore[type]!, type).toBeGreaterThanOrEqual(1000);
    // At most one attempt in flight per check at any moment: never more than that open.
    for (const sample of samples) {
      expect(sample.fds).toBeLessThanOrEqual(fdsBefore + 70);
      expect(sample.backends).toBeLessThanOrEqual(10);
      expect(sample.clients).toBeLessThanOrEqual(20);
    }
    expect(samples.at(-1)!.fds).toBeLessThanOrEqual(fdsBefore + 70);
    // A few KB kept per attempt would be tens of MiB here; what the agent legitimately keeps (series,
    // last results, rendered bodies) was allocated during the warm-up.
    const growth = samples.at(-1)!.heap - heapBefore;
    expect(growth, `live heap ${(heapBefore / MiB).toFixed(1)} -> ${samples.map((s) => (s.heap / MiB).toFixed(1)).join(', ')} MiB`).toBeLessThan(4 * MiB);

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    await waitFor('no vigil backend', async () => (await backends()) === 0, 3000);
    await waitFor('no vigil redis client', async () => (await redisClients()) === 0, 3000);
    const total = Object.fromEntries(Object.entries(attempts).map(([type, n]) => [type, n - (attemptsBefore[type] ?? 0)]));
    console.log(
      `leak check: ${JSON.stringify(total)} attempts; fds before ${fdsBefore}, after each phase ${samples.map((s) => s.fds).join(', ')}; ` +
        `live heap ${(heapBefore / MiB).toFixed(2)} MiB before, ${samples.map((s) => (s.heap / MiB).toFixed(2)).join(', ')} MiB after each phase`,
    );
  }, 90_000);
});
