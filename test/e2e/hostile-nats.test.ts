// NATS servers that answer what nats.js cannot read, played by hand-made servers, against the built
// CLI: each check fails with `protocol`, and the process prints its JSON report and nothing else
// (nats.js prints its parser's failures to stdout when they reach it).
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempConfig } from '../helpers/cli.js';
import { startFakeNats, type FakeNats, type FakeNatsScript } from '../helpers/fake-nats.js';

const servers: FakeNats[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** Answers the flush (the second PING; the first is CONNECT's) with `reply`. */
const onFlush = (reply: string): FakeNatsScript => ({ onPing: (socket, n) => socket.write(n === 1 ? 'PONG\r\n' : reply) });

const HOSTILE: Record<string, FakeNatsScript> = {
  noversion: { greeting: 'INFO {"server_id":"X","proto":1}\r\n' },
  laterinfo: onFlush('INFO {"version":\r\nPONG\r\n'),
  pub: onFlush('PUB x 0\r\n\r\nPONG\r\n'),
  sid: onFlush('MSG x sid 0\r\n\r\nPONG\r\n'),
  hmsg: onFlush('HMSG x 1 10 5\r\nNATS/1.0\r\n\r\nPONG\r\n'),
};

describe('a NATS server answering what nats.js cannot read', () => {
  it('vigil check --json reports protocol for each, within the timeout, and prints nothing but its JSON', async () => {
    const lines: string[] = [];
    for (const [name, script] of Object.entries(HOSTILE)) {
      const server = await startFakeNats(script);
      servers.push(server);
      lines.push(`  ${name}: { type: nats, url: "${server.url}", critical: false, timeout: 1s, interval: 5s }`);
    }
    const healthy = await startFakeNats();
    servers.push(healthy);
    lines.push(`  healthy: { type: nats, url: "${healthy.url}", timeout: 1s, interval: 5s }`);
    const run = await runCli(['check', '--json', '--config', tempConfig(`checks:\n${lines.join('\n')}\n`)]);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as { checks: { name: string; status: string; reason?: string; durationMs: number; output?: string }[] };
    expect(run.code).toBe(0);
    for (const entry of report.checks) {
      if (entry.name === 'healthy') expect(entry).toMatchObject({ status: 'pass' });
      else {
        expect(entry, entry.name).toMatchObject({ status: 'warn', reason: 'protocol' });
        expect(entry.output, entry.name).toMatch(/^nats 127\.0\.0\.1:\d+ violated its protocol: /);
        expect(entry.durationMs).toBeLessThan(1000);
      }
    }
  });
});
