// A Redis that answers wrongly, played by a hand-made server on a free port, against the built CLI:
// a reply the driver cannot handle or a reply too large to read fails that check's attempt with
// `protocol`; the process stays up, and its memory stays bounded.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, CLI, runCli, tempConfig } from '../helpers/cli.js';
import { startFakeRedis, type Answer, type FakeRedis } from '../helpers/fake-redis.js';
import { waitFor } from '../helpers/net.js';
import { selfSignedCertificate } from '../helpers/tls.js';

const servers: FakeRedis[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});
const { start } = agentsForEachTest(afterEach);

async function fake(answers: Record<string, Answer>): Promise<FakeRedis> {
  const server = await startFakeRedis(answers);
  servers.push(server);
  return server;
}

const config = (url: string, timeout = '1s') => tempConfig(`checks:\n  cache: { type: redis, url: "${url}", critical: false, timeout: ${timeout}, interval: 5s }\n`);

/** Replies ioredis 6 rethrows outside any caller's reach, each sent in answer to PING. */
const MALFORMED: Record<string, string> = {
  'two nulls to one command': '$-1\r\n$-1\r\n',
  'two RESP3 nulls': '_\r\n_\r\n',
  'a RESP3 map of nulls, then a null': '%1\r\n_\r\n_\r\n_\r\n',
  'two null arrays': '*-1\r\n*-1\r\n',
  'a push message holding a null': '>1\r\n_\r\n',
};

describe('a malformed Redis reply kills the whole agent, even for a critical: false check', () => {
  it('answers the real handshake like Redis, so the fake passes when PING is answered right', async () => {
    const healthy = await fake({});
    const run = await runCli(['check', '--json', '--config', config(healthy.url)]);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ status: 'pass' });
  });

  for (const [name, reply] of Object.entries(MALFORMED)) {
    it(`vigil check --json prints its JSON and reports protocol for ${name} (${JSON.stringify(reply)})`, async () => {
      const server = await fake({ ping: reply });
      const run = await runCli(['check', '--json', '--config', config(server.url)]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const entry = JSON.parse(run.stdout).checks[0];
      expect(entry).toMatchObject({ name: 'cache', status: 'warn', reason: 'protocol' });
      expect(entry.output).toMatch(/^redis 127\.0\.0\.1:\d+ violated its protocol: /);
    });
  }

  it('the agent stays up and live while every attempt against such a server fails with protocol', async () => {
    const server = await fake({ ping: MALFORMED['two nulls to one command']! });
    const agent = await start(`checks:\n  cache: { type: redis, url: "${server.url}", critical: false, interval: 200ms, timeout: 150ms }\n`);
    const failures = async () => {
      const text = await (await fetch(`${agent.url}/metrics`)).text();
      return Number(/vigil_check_failures_total\{check="cache",type="redis",reason="protocol"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    await waitFor('five protocol failures', async () => (await failures()) >= 5);
    expect(agent.child.exitCode).toBeNull();
    expect((await fetch(`${agent.url}/health/live`)).status).toBe(200);
    expect(agent.output()).not.toMatch(/TypeError|uncaught/i);
  });
});

/** Runs `vigil check --json` and reports its peak resident memory (VmHWM) as it exits. */
async function checkWithPeakRss(configPath: string): Promise<{ report: any; peakKiB: number; ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rss-'));
  const preload = join(dir, 'peak.cjs');
  const out = join(dir, 'peak.txt');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, /VmHWM:\\s*(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]));\n`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--require', preload, CLI, 'check', '--json', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.resume();
  await new Promise((resolve) => child.on('exit', resolve));
  return { report: JSON.parse(stdout), peakKiB: Number(readFileSync(out, 'utf8')), ms: Date.now() - started };
}

/** Answers PING with `head` and then as many bytes as the client will take. */
function endless(head: string, fill: string): Answer {
  return (socket: Socket) => {
    socket.write(head);
    const chunk = Buffer.alloc(64 * 1024, fill);
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  };
}

describe('redis attempts are bounded in time but not in memory', () => {
  it('a $2000000000 bulk reply fails with protocol naming the limit, before the deadline, in bounded memory', async () => {
    const healthy = await checkWithPeakRss(config((await fake({})).url, '2s'));
    expect(healthy.report.checks[0]).toMatchObject({ status: 'pass' });

    const server = await fake({ ping: endless('$2000000000\r\n', 'x') });
    const hostile = await checkWithPeakRss(config(server.url, '2s'));
    const entry = hostile.report.checks[0];
    expect(entry).toMatchObject({ status: 'warn', reason: 'protocol' });
    expect(entry.output).toMatch(/2000000000-byte string; an attempt reads at most 1 MiB$/);
    expect(entry.durationMs).toBeLessThanOrEqual(2000);
    // Whatever the peer sends, an attempt holds at most 1 MiB of it: the peak stays near a healthy run's.
    expect(hostile.peakKiB - healthy.peakKiB).toBeLessThan(32 * 1024);
  });

  it('an endless line fails with protocol once the attempt has received 1 MiB', async () => {
    const server = await fake({ ping: endless('+', 'x') });
    const run = await checkWithPeakRss(config(server.url, '2s'));
    expect(run.report.checks[0]).toMatchObject({ status: 'warn', reason: 'protocol' });
    expect(run.report.checks[0].output).toMatch(/sent more than 1 MiB, the most one attempt reads/);
    expect(run.report.checks[0].durationMs).toBeLessThanOrEqual(2000);
  });
});

describe('a malformed or oversized reply over rediss:// (TLS) fails the same way', () => {
  const certificate = selfSignedCertificate();
  const trust = { NODE_EXTRA_CA_CERTS: certificate.certPath };
  const tlsFake = async (answers: Record<string, Answer>) => {
    const server = await startFakeRedis(answers, certificate);
    servers.push(server);
    return server;
  };

  it('passes against the TLS fake when PING is answered right', async () => {
    const run = await runCli(['check', '--json', '--config', config((await tlsFake({})).url)], trust);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ status: 'pass' });
  });

  it('reports protocol for two nulls to one command, and the process prints its JSON', async () => {
    const run = await runCli(['check', '--json', '--config', config((await tlsFake({ ping: MALFORMED['two nulls to one command']! })).url)], trust);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ status: 'warn', reason: 'protocol' });
  });

  it('reports protocol for an endless reply once 1 MiB has arrived', async () => {
    const run = await runCli(['check', '--json', '--config', config((await tlsFake({ ping: endless('+', 'x') })).url, '2s')], trust);
    const entry = JSON.parse(run.stdout).checks[0];
    expect(entry).toMatchObject({ status: 'warn', reason: 'protocol' });
    expect(entry.output).toMatch(/sent more than 1 MiB/);
  });
});
