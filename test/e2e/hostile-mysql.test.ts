// A MySQL server that answers wrongly, played by a hand-made server, against the built CLI: the
// check reports protocol, and whatever the client library prints on the way (mysql2 logs a stack
// trace before it throws on a length it cannot read) reaches standard error as JSON lines only.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, tempConfig } from '../helpers/cli.js';
import { ok, packet, startFakeMySql, type FakeMySql } from '../helpers/fake-mysql.js';

let server: FakeMySql | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('a hostile MySQL peer against vigil check', () => {
  it('a column definition cut short: vigil check --json reports protocol, and stderr holds nothing but JSON lines', async () => {
    server = await startFakeMySql({ onCommand: (socket) => socket.write(Buffer.concat([packet(1, Buffer.from([2])), packet(2, Buffer.from([3, 0x64]))])) });
    const run = await runCli(['check', '--json', '--config', tempConfig(`checks:\n  db: { type: mysql, url: "${server.url}", timeout: 1s, interval: 5s }\n`)]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ name: 'db', status: 'fail', reason: 'protocol' });
    for (const line of run.stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
  });

  it('packets out of sequence: protocol, and nothing at all on stderr', async () => {
    server = await startFakeMySql({ onLogin: (socket) => socket.write(Buffer.concat([ok(5), ok(6)])) });
    const run = await runCli(['check', '--json', '--config', tempConfig(`checks:\n  db: { type: mysql, url: "${server.url}", timeout: 1s, interval: 5s }\n`)]);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ reason: 'protocol' });
    expect(run.stderr).toBe('');
  });
});
