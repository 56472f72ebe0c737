import { kinds } from '../../checks/index.js';
import { withBuiltins } from '../../src/kinds.js';
import { describe, expect, it } from 'vitest';
import { runCli, serve, tempConfig } from '../helpers/cli.js';
import { freePort, startBlackhole } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const healthy = `
checks:
  db: { type: postgres, url: "${PG_URL}" }
  cache: { type: redis, url: "${REDIS_URL}" }
`;

describe('vigil check', () => {
  it('exits 0 and prints a table when every critical check passes', async () => {
    const run = await runCli(['check', '--config', tempConfig(healthy)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^CHECK\s+TYPE\s+STATUS\s+LATENCY/);
    expect(run.stdout).toMatch(/db\s+postgres\s+PASS/);
    expect(run.stdout).toMatch(/cache\s+redis\s+PASS/);
  });

  it('prints JSON with --json', async () => {
    const run = await runCli(['check', '--json', '--config', tempConfig(healthy)]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.status).toBe('pass');
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(['db', 'cache']);
  });

  it('exits 1 promptly when a critical dependency hangs', async () => {
    const hole = await startBlackhole();
    const run = await runCli(['check', '--config', tempConfig(`checks:\n  db: { type: postgres, url: "postgres://u@127.0.0.1:${hole.port}/x", timeout: 500ms }\n`)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/db\s+postgres\s+FAIL.*timeout/);
    expect(run.ms).toBeLessThan(5000);
    await hole.close();
  });

  it('exits 0 when only a non-critical check fails, showing it as WARN', async () => {
    const run = await runCli(['check', '--config', tempConfig(`checks:\n  x: { type: tcp, host: 127.0.0.1, port: ${await freePort()}, critical: false }\n`)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/x\s+tcp\s+WARN\s+.*connect_refused/);
  });

  it('exits 2 on an invalid config', async () => {
    const run = await runCli(['check', '--config', tempConfig('checks:\n  x: { type: nope }\n')]);
    expect(run.code).toBe(2);
  });
});

describe('vigil validate', () => {
  it('exits 0 on a valid config', async () => {
    const run = await runCli(['validate', '--config', 'config.example.yaml']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('valid, 3 checks');
  });

  it('exits 2 with every problem and its line, and no stack trace', async () => {
    const path = tempConfig(['server:', '  prot: 9898', 'checks:', '  db:', '    type: postgress', '  api: { type: http, url: "http://x", timeout: 20s }', ''].join('\n'));
    const run = await runCli(['validate', '--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path}:2:3: server.prot: unknown key`);
    // The CLI knows the registry's types and the built-in ones (heartbeat).
    expect(run.stderr).toContain(`${path}:5:11: checks.db.type: "postgress" is not a known type (known: ${withBuiltins(kinds).map((k) => k.type).join(', ')})`);
    expect(run.stderr).toContain(`${path}:6:`);
    expect(run.stderr).toContain('checks.api.timeout: 20s must not be longer than interval (10s)');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 naming a missing file', async () => {
    const run = await runCli(['validate', '--config', '/nonexistent/vigil.yaml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('/nonexistent/vigil.yaml');
    expect(run.stderr).toContain('no such file');
  });

  it('reads the config path from VIGIL_CONFIG', async () => {
    const run = await runCli(['validate'], { VIGIL_CONFIG: 'config.example.yaml' });
    expect(run.code).toBe(0);
  });
});

describe('vigil probe, usage and version', () => {
  it('exits 0 against a live agent and 1 against nothing', async () => {
    const port = await freePort();
    const agent = await serve(['--config', tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`)], port);
    expect((await runCli(['probe', `${agent.url}/health/live`])).code).toBe(0);
    expect((await runCli(['probe'], { VIGIL_PORT: String(port) })).code).toBe(0);
    agent.kill();
    const down = await runCli(['probe', `http://127.0.0.1:${await freePort()}/health/live`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
  });

  it('prints help and version, and exits 2 on an unknown command or flag', async () => {
    expect((await runCli(['--help'])).stdout).toContain('vigil serve');
    expect((await runCli(['--version'])).stdout).toMatch(/^vigil \d+\.\d+\.\d+/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect((await runCli(['check', '--bogus'])).code).toBe(2);
  });
});
