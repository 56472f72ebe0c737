// Hostile HTTP clients against the built CLI: pipelined requests on connections that never read,
// and slow-header (slowloris) connections. The agent's memory stays bounded, abusers are closed,
// and liveness and the checks keep answering while it happens.
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, type Served } from '../helpers/cli.js';
import { openSocketCount, waitFor } from '../helpers/net.js';
import { REDIS_URL } from '../helpers/services.js';

const { start } = agentsForEachTest(afterEach);
const hostile: Socket[] = [];
afterEach(() => {
  for (const socket of hostile.splice(0)) socket.destroy();
});

/** Resident memory of a process, MiB (0 once it is gone). */
const rssMiB = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0; // the process has exited: the test reports why
  }
};

/** A GET on a connection of its own, as the kubelet probes: the status code, or what went wrong. */
function probe(url: string, timeoutMs = 3000): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (error) => resolve(error.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
  });
}

/** An agent with one healthy check, against the real Redis: a process of its own, unlike this test's attackers. */
async function healthyAgent(): Promise<Served> {
  const agent = await start(`checks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 1s, timeout: 800ms }\n`);
  await waitFor('cache passing', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
  // Warm up the paths the attack uses, so the baseline includes them.
  for (let i = 0; i < 20; i++) await (await fetch(`${agent.url}/metrics`)).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return agent;
}

/**
 * While `during` runs, every 250 ms: /health/live on a new connection must answer 200 and the cache
 * check must pass with a result younger than 3 s (its interval is 1 s). Returns the problems seen
 * and the peak RSS.
 */
async function watchAgent(agent: Served, during: Promise<unknown>): Promise<{ problems: string[]; peakMiB: number }> {
  const problems: string[] = [];
  let peakMiB = 0;
  let done = false;
  void during.finally(() => (done = true));
  const rss = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiB(agent.child.pid!))), 50);
  try {
    while (!done) {
      const live = await probe(`${agent.url}/health/live`);
      if (live !== 200) problems.push(`/health/live: ${live}`);
      const health = await fetch(`${agent.url}/health`, { signal: AbortSignal.timeout(3000) })
        .then(async (res) => ({ status: res.status, body: (await res.json()) as any }))
        .catch((error: Error) => ({ status: error.message, body: undefined }));
      const cache = health.body?.checks?.['cache:responseTime']?.[0];
      if (!cache || cache.status !== 'pass' || Date.now() - Date.parse(cache.time) > 3000) problems.push(`/health: ${health.status} ${JSON.stringify(cache)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    clearInterval(rss);
  }
  return { problems, peakMiB: Math.max(peakMiB, rssMiB(agent.child.pid!)) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('hostile clients (built CLI)', () => {
  it('pipelined requests on a connection that never reads: memory stays bounded, abusers are closed, live stays 200 and a healthy check keeps passing', async () => {
    const agent = await healthyAgent();
    const baselineMiB = rssMiB(agent.child.pid!);
    // The agent's own sockets: a paused client would not notice being closed.
    const agentSockets = () => openSocketCount(agent.child.pid!);
    const baselineSockets = await agentSockets();
    const open = (requests: number) => {
      const socket = connect(agent.port, '127.0.0.1');
      hostile.push(socket);
      socket.pause(); // never reads an answer
      socket.on('error', () => undefined);
      socket.write('GET /metrics HTTP/1.1\r\nHost: vigil\r\n\r\n'.repeat(requests));
    };
    // 50 connections of 3,000 pipelined requests each (108 KB apiece), and 50 that pipeline a few.
    for (let i = 0; i < 50; i++) open(3000);
    for (let i = 0; i < 50; i++) open(8);
    const { problems, peakMiB } = await watchAgent(agent, sleep(4000));

    expect(problems).toEqual([]);
    const growthMiB = peakMiB - baselineMiB;
    expect(growthMiB, `RSS ${baselineMiB.toFixed(0)} -> ${peakMiB.toFixed(0)} MiB`).toBeLessThan(40);
    // The flooders were closed as soon as their pipeline got too deep (a few sockets of slack: the
    // cache check's connection, a probe on its way out).
    expect(await agentSockets()).toBeLessThanOrEqual(baselineSockets + 50 + 4);
    // Those that pipeline a few and never read are closed once their connection idles.
    await waitFor('every hostile connection to be closed', async () => (await agentSockets()) <= baselineSockets + 4, 20_000);
    expect(await probe(`${agent.url}/health/live`)).toBe(200);
  }, 60_000);

  it('slowloris: slow-header connections are closed within seconds, connections beyond maxConnections are closed, legitimate requests still succeed', async () => {
    const agent = await healthyAgent();
    const baselineMiB = rssMiB(agent.child.pid!);
    const openedAt = new Map<Socket, number>();
    let longestOpenMs = 0;
    let isAttacking = true;
    // 600 connections, well past the cap of 256. Half send a request line and one header, then a
    // header line a second, never the end; half send nothing at all. A closed one is opened again a
    // second later while the attack lasts.
    const open = (index: number) => {
      const socket = connect(agent.port, '127.0.0.1');
      hostile.push(socket);
      openedAt.set(socket, Date.now());
      socket.on('error', () => undefined);
      socket.resume(); // reads (and drops) the 408, so it sees the close
      if (index % 2 === 0) socket.write('GET /health/ready HTTP/1.1\r\nHost: vigil\r\n');
      const drip = setInterval(() => index % 2 === 0 && !socket.destroyed && socket.write('X-Slow: yes\r\n'), 1000);
      socket.on('close', () => {
        clearInterval(drip);
        longestOpenMs = Math.max(longestOpenMs, Date.now() - openedAt.get(socket)!);
        openedAt.delete(socket);
        if (isAttacking) setTimeout(() => isAttacking && open(index), 1000);
      });
    };
    for (let i = 0; i < 600; i++) open(i);

    let mostServerSockets = 0;
    const counting = setInterval(() => void openSocketCount(agent.child.pid!).then((n) => (mostServerSockets = Math.max(mostServerSockets, n))), 250);
    const flood = await watchAgent(agent, sleep(5000));
    clearInterval(counting);
    // The attack stops opening new connections; the ones still open keep dripping headers.
    isAttacking = false;
    const { problems, peakMiB } = await watchAgent(
      agent,
      waitFor('every slow connection to be closed by the agent', () => openedAt.size === 0, 15_000).catch((error: Error) => error.message),
    );

    expect(flood.problems).toEqual([]);
    expect(problems).toEqual([]);
    // 256 connections (the default) plus the listening socket and the cache check's connection.
    expect(mostServerSockets).toBeLessThanOrEqual(256 + 4);
    expect(openedAt.size).toBe(0);
    // Headers must be complete within 5 s; Node looks every second.
    expect(longestOpenMs).toBeLessThan(9000);
    const growthMiB = Math.max(flood.peakMiB, peakMiB) - baselineMiB;
    expect(growthMiB, `RSS ${baselineMiB.toFixed(0)} -> ${Math.max(flood.peakMiB, peakMiB).toFixed(0)} MiB`).toBeLessThan(40);
  }, 60_000);
});
