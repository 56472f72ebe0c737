// node bench/hostile.mjs [CLI]: the agent's memory and liveness under hostile HTTP clients, one
// fresh agent per scenario: pipelined GET /metrics on connections that never read (1 and 50 of them,
// 3,000 requests each) and 10,000 slowloris connections. Prints one JSON line per scenario: RSS
// before, at its peak and after, /health/live answers (probed on a new connection every 250 ms),
// and how long the hostile connections stayed open. CLI defaults to the built dist/src/cli.js; point
// it at another build to compare.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, get } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './proc.mjs';

const CLI = process.argv[2] ?? new URL('../dist/src/cli.js', import.meta.url).pathname;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rssMiB = (pid) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
  } catch {
    return 0;
  }
};

function probe(url, timeoutMs = 3000) {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: error.code ?? error.message, ms: Date.now() - started }));
  });
}

async function startAgent(upstreamUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hostile-'));
  const config = join(dir, 'vigil.yaml');
  writeFileSync(config, `checks:\n  api: { type: http, url: "${upstreamUrl}/", interval: 1s, timeout: 500ms }\n`);
  const port = await freePort();
  const child = spawn(process.execPath, ['--single-threaded-gc', '--max-semi-space-size=2', CLI, 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && (await probe(`${url}/health/ready`)).status !== 200; i++) await sleep(100);
  // Warm up what the attacks use, so the baseline includes it.
  for (let i = 0; i < 20; i++) await probe(`${url}/metrics`);
  await sleep(1000);
  return { child, port, url };
}

/** Runs `attack` against a fresh agent for `seconds`, sampling RSS and liveness. */
async function scenario(name, seconds, attack) {
  const upstream = createHttpServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const agent = await startAgent(`http://127.0.0.1:${upstream.address().port}`);
  const before = rssMiB(agent.child.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(agent.child.pid))), 50);
  const hostile = await attack(agent.port);
  const probes = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    probes.push(await probe(`${agent.url}/health/live`));
    await sleep(250);
  }
  clearInterval(sampler);
  const after = rssMiB(agent.child.pid);
  const result = {
    scenario: name,
    rssBeforeMiB: before,
    rssPeakMiB: Math.max(peak, after),
    rssAfterMiB: after,
    liveProbes: probes.length,
    liveNot200: probes.filter((p) => p.status !== 200).length,
    slowestLiveMs: Math.max(...probes.map((p) => p.ms)),
    ...hostile.summary(),
  };
  hostile.stop();
  agent.child.kill('SIGKILL');
  upstream.close();
  console.log(JSON.stringify(result));
}

function pipelining(connections, requests) {
  return async (port) => {
    const sockets = [];
    for (let i = 0; i < connections; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.pause(); // never reads
      socket.write('GET /metrics HTTP/1.1\r\nHost: vigil\r\n\r\n'.repeat(requests));
      sockets.push(socket);
    }
    return { summary: () => ({}), stop: () => sockets.forEach((s) => s.destroy()) };
  };
}

function slowloris(connections) {
  return async (port) => {
    const openedAt = new Map();
    const lifetimes = [];
    const drip = setInterval(() => {
      for (const socket of openedAt.keys()) if (!socket.destroyed) socket.write('X-Slow: yes\r\n');
    }, 1000);
    for (let i = 0; i < connections; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume();
      socket.write('GET /health/ready HTTP/1.1\r\nHost: vigil\r\n');
      openedAt.set(socket, Date.now());
      socket.on('close', () => {
        lifetimes.push(Date.now() - openedAt.get(socket));
        openedAt.delete(socket);
      });
    }
    return {
      summary: () => {
        const sorted = [...lifetimes].sort((a, b) => a - b);
        return {
          closedByAgent: lifetimes.length,
          stillOpen: openedAt.size,
          medianOpenMs: sorted[Math.floor(sorted.length / 2)] ?? null,
          longestOpenMs: sorted.at(-1) ?? null,
        };
      },
      stop: () => {
        clearInterval(drip);
        for (const socket of openedAt.keys()) socket.destroy();
      },
    };
  };
}

await scenario('pipelined GET /metrics, 1 connection x 3000, never read', 5, pipelining(1, 3000));
await scenario('pipelined GET /metrics, 50 connections x 3000, never read', 5, pipelining(50, 3000));
await scenario('slowloris, 10000 connections', 35, slowloris(10_000));
process.exit(0);
