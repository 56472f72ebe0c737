// An MQTT broker that answers with hostility, played by a hand-made server on a free port, against
// the built CLI: a packet declaring 256 MB, bytes that are not MQTT, fail that check's attempt with
// `protocol` while the process stays up, quiet and small. And MQTT.js's debug output, which prints
// the CONNECT packet, password and all, when DEBUG asks for it, never appears.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, CLI, runCli, tempConfig } from '../helpers/cli.js';
import { packet, startFakeMqtt, type Answer, type FakeMqtt, type PacketName } from '../helpers/fake-mqtt.js';
import { waitFor } from '../helpers/net.js';

const fakes: FakeMqtt[] = [];
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});
const { start } = agentsForEachTest(afterEach);

async function fake(answers: Partial<Record<PacketName, Answer>>): Promise<FakeMqtt> {
  const server = await startFakeMqtt(answers);
  fakes.push(server);
  return server;
}

const config = (url: string, timeout = '2s') => tempConfig(`checks:\n  broker: { type: mqtt, url: "${url}", roundTripTopic: vigil/probe, critical: false, timeout: ${timeout}, interval: 5s }\n`);

/** Writes `head`, then as many bytes of `fill` as the client will take. */
const endless = (head: Buffer, fill: Buffer) => (socket: Socket) => {
  socket.write(head);
  const pump = () => {
    while (!socket.destroyed && socket.write(fill));
    if (!socket.destroyed) socket.once('drain', pump);
  };
  pump();
};
const SUBACK = packet(9, 0, Buffer.from([0, 1, 0]));
/** A PUBLISH header declaring the largest remaining length MQTT can say, 268435455 bytes. */
const HUGE_PUBLISH = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]);

/** Runs `vigil check --json` and reports its peak resident memory (VmHWM) as it exits. */
async function checkWithPeakRss(configPath: string): Promise<{ report: any; stderr: string; peakKiB: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rss-'));
  const preload = join(dir, 'peak.cjs');
  const out = join(dir, 'peak.txt');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, /VmHWM:\\s*(\\d+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]));\n`);
  const child = spawn(process.execPath, ['--require', preload, CLI, 'check', '--json', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise((resolve) => child.on('exit', resolve));
  return { report: JSON.parse(stdout), stderr, peakKiB: Number(readFileSync(out, 'utf8')) };
}

describe('a hostile MQTT broker never reaches the process', () => {
  it('a PUBLISH declaring 256 MB, then bytes without end: protocol at its header, in bounded memory, nothing on stderr', async () => {
    const healthy = await checkWithPeakRss(config((await fake({})).url));
    expect(healthy.report.checks[0]).toMatchObject({ status: 'pass' });

    const hostile = await checkWithPeakRss(config((await fake({ subscribe: endless(Buffer.concat([SUBACK, HUGE_PUBLISH]), Buffer.alloc(65536, 0x61)) })).url));
    const entry = hostile.report.checks[0];
    expect(entry).toMatchObject({ status: 'warn', reason: 'protocol' });
    expect(entry.output).toMatch(/declared a 268435455-byte PUBLISH, more than the 1 MiB one attempt reads$/);
    expect(entry.durationMs).toBeLessThan(2000);
    expect(hostile.stderr).toBe('');
    // The peak stays near a healthy run's: the declared size is refused, never buffered.
    expect(hostile.peakKiB - healthy.peakKiB).toBeLessThan(32 * 1024);
  });

  it('garbage instead of a CONNACK: vigil check --json prints its JSON with protocol, and nothing on stderr', async () => {
    const server = await fake({ connect: Buffer.from('\u0000\u00ff\u00fe garbage \u0001\u0002 not a protocol \r\n', 'latin1') });
    const run = await runCli(['check', '--json', '--config', config(server.url)]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ name: 'broker', status: 'warn', reason: 'protocol' });
  });

  it('the agent stays up and live while every attempt against such a broker fails with protocol', async () => {
    const server = await fake({ subscribe: endless(Buffer.concat([SUBACK, HUGE_PUBLISH]), Buffer.alloc(65536, 0x61)) });
    const agent = await start(`checks:\n  broker: { type: mqtt, url: "${server.url}", roundTripTopic: vigil/probe, critical: false, interval: 200ms, timeout: 150ms }\n`);
    const failures = async () => {
      const text = await (await fetch(`${agent.url}/metrics`)).text();
      return Number(/vigil_check_failures_total\{check="broker",type="mqtt",reason="protocol"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    await waitFor('five protocol failures', async () => (await failures()) >= 5);
    expect(agent.child.exitCode).toBeNull();
    expect((await fetch(`${agent.url}/health/live`)).status).toBe(200);
    expect(agent.output()).not.toMatch(/TypeError|RangeError|uncaught/i);
  });
});

describe('MQTT.js debug output', () => {
  it('with DEBUG=* in the environment, the password of an mqtt:// URL appears nowhere in the output', async () => {
    const password = 'Mqtt-Secret-4b1d';
    const server = await fake({});
    const run = await runCli(['check', '--json', '--config', config(server.url.replace('mqtt://', `mqtt://vigil:${password}@`))], { DEBUG: '*' });
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ status: 'pass' });
    expect(run.stdout + run.stderr).not.toContain(password);
    expect(run.stderr).not.toMatch(/mqttjs/);
  });
});
