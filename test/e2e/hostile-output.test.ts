// A peer controls much of a failure's output (an error line, a server message). However long or
// strange it is, what reaches the health body, the log and `vigil check` is one bounded line.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';

const { start } = agentsForEachTest(afterAll);
let peer: Server;
let port: number;
// A Redis error line of 300,000 characters, with terminal escapes, NUL bytes and a bell in it.
const HUGE_ERROR = `-ERR ${'\u001b[31mred\u001b[0m \u0000\u0007'.repeat(20_000)}${'x'.repeat(100_000)}\r\n`;

beforeAll(async () => {
  peer = createServer((socket) => {
    socket.on('error', () => undefined);
    // Answer every command the client sends (HELLO, PING, ...) with the huge error.
    socket.on('data', (chunk) => {
      for (const _ of chunk.toString('latin1').matchAll(/\*\d+\r\n\$/g)) socket.write(HUGE_ERROR);
    });
  });
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  port = (peer.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => peer.close(resolve));
});

const config = () => tempConfig(`checks:\n  cache: { type: redis, url: "redis://127.0.0.1:${port}/0", interval: 1s, timeout: 800ms }\n`);
// Printable one-line text: no C0/C1 controls, no DEL.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('output is unbounded (a 50 MB error line became a 100 MB health body)', () => {
  it('bounds a hostile peer\'s error to one printable line of at most 1 KiB in the health body and the log', async () => {
    const agent = await start(`checks:\n  cache: { type: redis, url: "redis://127.0.0.1:${port}/0", interval: 1s, timeout: 800ms }\n`);
    const { body } = await waitFor('the cache entry to fail', async () => {
      const res = await getJson(`${agent.url}/health`);
      const reason = res.body.checks?.['cache:responseTime']?.[0]?.reason;
      return reason && reason !== 'pending' ? res : undefined;
    });
    const entry = body.checks['cache:responseTime'][0];
    expect(entry.output).toMatch(/^redis 127\.0\.0\.1:\d+\/0 /);
    expect(entry.output.length).toBeLessThanOrEqual(1024);
    expect(entry.output).not.toMatch(CONTROL);
    expect(entry.output).toMatch(/more characters\)$/);
    await waitFor('the failure to be logged', () => agent.output().includes('check cache fails'));
    const lines = agent.output().trim().split('\n');
    for (const line of lines) expect(line.length).toBeLessThan(4096);
  });

  it('bounds it in `vigil check` output, as a table and as JSON', async () => {
    const path = config();
    const table = await runCli(['check', '--config', path]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/cache +redis +FAIL .* redis 127\.0\.0\.1:\d+\/0 /);
    expect(table.stdout.length).toBeLessThan(2048);
    expect(table.stdout.replace(/\n/g, '')).not.toMatch(CONTROL);
    const json = await runCli(['check', '--config', path, '--json']);
    const output = JSON.parse(json.stdout).checks[0].output as string;
    expect(output).toMatch(/^redis 127\.0\.0\.1:\d+\/0 /);
    expect(output.length).toBeLessThanOrEqual(1024);
    expect(output).not.toMatch(CONTROL);
  });
});
