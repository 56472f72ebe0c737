// The mysql check as a user runs it, with the built CLI: from the environment alone against the
// real server, and where the network itself fails (a network namespace of the test's own, with no
// route anywhere: nothing leaves the machine).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI, cleanEnv, runCli, tempConfig } from '../helpers/cli.js';
import { MYSQL_URL } from '../helpers/services.js';

describe('mysql check with the built CLI', () => {
  it('environment-only mode: VIGIL_CHECK_ORDERS=mysql://… is checked against the real server, and passes', async () => {
    const run = await runCli(['check', '--json'], { VIGIL_CHECK_ORDERS: MYSQL_URL });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).checks).toEqual([expect.objectContaining({ name: 'orders', type: 'mysql', status: 'pass' })]);
  });

  it('an unreachable network (no route, in an empty network namespace) fails with connect_timeout', async () => {
    const config = tempConfig('checks:\n  db: { type: mysql, url: "mysql://root@10.255.255.1:3306/test", timeout: 1s, interval: 5s }\n');
    const child = spawn('unshare', ['--net', process.execPath, CLI, 'check', '--json', '--config', config], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(JSON.parse(stdout).checks[0]).toMatchObject({ reason: 'connect_timeout', output: expect.stringMatching(/^cannot reach mysql 10\.255\.255\.1:3306\/test: connect ENETUNREACH/) });
  });
});
