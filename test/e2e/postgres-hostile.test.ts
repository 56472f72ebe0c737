// The built CLI against hand-made hostile PostgreSQL servers: a malformed reply fails its check and
// nothing else (`vigil check --json` prints its JSON, `vigil serve` stays up), and an endless or
// gigantic reply costs bounded memory and ends at the attempt's deadline.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  authenticationOk,
  dataRow,
  flood,
  header,
  int16,
  int32,
  message,
  readyForQuery,
  rowDescription,
  startFakePostgres,
  type FakePostgres,
  type Script,
} from '../helpers/fake-postgres.js';
import { CLI, agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';

const servers: FakePostgres[] = [];
const agents = agentsForEachTest(afterEach);
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function fake(script: Script): Promise<FakePostgres> {
  const server = await startFakePostgres(script);
  servers.push(server);
  return server;
}

const afterLogin = (reply: (socket: import('node:net').Socket) => void): Script => ({
  onStartup: (socket) => socket.write(Buffer.concat([authenticationOk(), readyForQuery()])),
  onQuery: (socket) => reply(socket),
});

/** The three replies node-postgres used to throw on from inside its socket handler. */
async function malformedServers() {
  return {
    gss: await fake({ onStartup: (socket) => socket.write(message('R', int32(7))) }),
    empty: await fake({ onStartup: (socket) => socket.write(Buffer.concat([header('R', 0), int32(0), readyForQuery()])) }),
    wide: await fake(afterLogin((socket) => socket.write(Buffer.concat([rowDescription(), message('D', Buffer.concat([int16(65535), int32(1), Buffer.from('x')]))])))),
  };
}

describe('a malformed PostgreSQL reply kills the whole agent', () => {
  it('vigil check --json prints its JSON: GSS is auth, an R of length 0 and a DataRow of 65,535 fields are protocol', async () => {
    const { gss, empty, wide } = await malformedServers();
    const config = tempConfig(
      [
        'checks:',
        `  gss: { type: postgres, url: "${gss.url}", critical: false }`,
        `  empty: { type: postgres, url: "${empty.url}", critical: false }`,
        `  wide: { type: postgres, url: "${wide.url}", critical: false }`,
        '',
      ].join('\n'),
    );
    const run = await runCli(['check', '--config', config, '--json']);
    expect(run.stderr).toBe('');
    // Only non-critical checks fail: the run is healthy.
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { checks: { name: string; reason?: string; output?: string }[] };
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.gss).toMatchObject({ reason: 'auth' });
    expect(byName.gss!.output).toMatch(/asks for GSSAPI\/SSPI authentication, which vigil does not support/);
    expect(byName.empty).toMatchObject({ reason: 'protocol' });
    expect(byName.wide).toMatchObject({ reason: 'protocol' });
  });

  it('vigil serve stays up and live while its checks meet malformed replies again and again', async () => {
    const { gss, empty, wide } = await malformedServers();
    const agent = await agents.start(
      [
        'checks:',
        `  gss: { type: postgres, url: "${gss.url}", critical: false, interval: 200ms, timeout: 150ms }`,
        `  empty: { type: postgres, url: "${empty.url}", critical: false, interval: 200ms, timeout: 150ms }`,
        `  wide: { type: postgres, url: "${wide.url}", critical: false, interval: 200ms, timeout: 150ms }`,
        '',
      ].join('\n'),
    );
    await waitFor('five attempts against each server', () => [gss, empty, wide].every((s) => s.accepted() >= 5), 15_000);
    expect(agent.child.exitCode).toBeNull();
    expect((await fetch(`${agent.url}/health/live`)).status).toBe(200);
    const { body } = await getJson(`${agent.url}/health`);
    const reasons = Object.fromEntries(Object.values(body.checks as Record<string, { componentId: string; reason?: string }[]>).map(([c]) => [c!.componentId, c!.reason]));
    expect(reasons).toMatchObject({ gss: 'auth', empty: 'protocol', wide: 'protocol' });
  });
});

/** Runs `vigil check` under GNU time: the exit, the JSON report and the child's peak RSS in KiB. */
function checkWithPeakRss(config: string): Promise<{ code: number | null; stdout: string; maxRssKiB: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'vigil-max-rss-kib=%M', process.execPath, CLI, 'check', '--config', config, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('vigil check did not exit within 20 s'));
    }, 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rss = /vigil-max-rss-kib=(\d+)/.exec(stderr);
      if (!rss) return reject(new Error(`no peak RSS reported: ${stderr}`));
      resolve({ code, stdout, maxRssKiB: Number(rss[1]), ms: Date.now() - started });
    });
  });
}

describe('attempts are bounded in time but not in memory', () => {
  it('vigil check against a server declaring a 2 GB message and one sending rows forever: protocol, within the deadline, peak RSS far below 200 MiB', async () => {
    const huge = await fake(afterLogin((socket) => {
      socket.write(header('D', 0x7fffffff));
      flood(socket, Buffer.alloc(64 * 1024, 'x'));
    }));
    const rows = Buffer.concat(Array.from({ length: 64 }, () => dataRow('y'.repeat(1000))));
    const endless = await fake(afterLogin((socket) => {
      socket.write(rowDescription());
      flood(socket, rows);
    }));
    const config = tempConfig(
      [
        'checks:',
        `  huge: { type: postgres, url: "${huge.url}", timeout: 2s, critical: false }`,
        `  endless: { type: postgres, url: "${endless.url}", timeout: 2s, critical: false }`,
        '',
      ].join('\n'),
    );
    const run = await checkWithPeakRss(config);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { checks: { name: string; reason?: string; output?: string; durationMs: number }[] };
    for (const check of report.checks) {
      expect(check).toMatchObject({ reason: 'protocol' });
      expect(check.output).toMatch(/1 MiB/);
      expect(check.durationMs).toBeLessThanOrEqual(2000);
    }
    // A bare `vigil check` peaks near 70 MiB here; reading 2 GB took it past 1.1 GiB.
    expect(run.maxRssKiB).toBeLessThan(200 * 1024);
  });
});
