// What the environment and the command line say to the built CLI: Kubernetes' service links, log
// format and level, overrides named as such, ephemeral ports, npm start.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, runCli, tempConfig } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { jsonLines, killAll, spawnCli, startedPort } from '../helpers/process.js';
import { REDIS_URL } from '../helpers/services.js';

afterEach(killAll);

/** What Kubernetes injects into every pod of the namespace for a Service named `service`. */
function serviceLinks(service: string, ip: string, port: number): Record<string, string> {
  const name = service.toUpperCase().replaceAll('-', '_');
  return {
    [`${name}_SERVICE_HOST`]: ip,
    [`${name}_SERVICE_PORT`]: String(port),
    [`${name}_PORT`]: `tcp://${ip}:${port}`,
    [`${name}_PORT_${port}_TCP`]: `tcp://${ip}:${port}`,
    [`${name}_PORT_${port}_TCP_PROTO`]: 'tcp',
    [`${name}_PORT_${port}_TCP_PORT`]: String(port),
    [`${name}_PORT_${port}_TCP_ADDR`]: ip,
  };
}

describe('Kubernetes service links', () => {
  it('Kubernetes service links: with VIGIL_PORT=tcp://10.96.0.12:9898 injected, serve starts on its configured port with one warning line, and vigil probe finds it', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { port: ${port}, host: 127.0.0.1 }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const env = { ...serviceLinks('vigil', '10.96.0.12', 9898), ...serviceLinks('vigil-check', '10.96.0.13', 80), VIGIL_CONFIG: path };
    const agent = spawnCli(['serve'], env);
    await waitFor(`live (output: ${agent.output()})`, async () => {
      if (agent.child.exitCode !== null) throw new Error(`exited with ${agent.child.exitCode}: ${agent.output()}`);
      return (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok;
    });
    const warnings = jsonLines(agent.output()).filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^VIGIL_PORT=tcp:\/\/10\.96\.0\.12:9898 ignored: that is the Kubernetes service link of a Service named "vigil"/),
      expect.stringMatching(/^VIGIL_CHECK_PORT, .* ignored: Kubernetes service links of the Service "vigil-check", not checks$/),
    ]);
    const probe = await runCli(['probe'], env);
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.stderr).toBe('');
  });

  it('Kubernetes service links: an environment-only config validates with the links of a Service named vigil-check present', async () => {
    const run = await runCli(['validate'], { ...serviceLinks('vigil-check', '10.96.0.13', 80), VIGIL_CHECK_CACHE: REDIS_URL });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('environment: valid, 1 check (cache: redis)');
  });
});

describe('logs for the platforms people use', () => {
  it('logs for the platforms: serve takes --log-level and --log-format; every JSON line has severity', async () => {
    const port = await freePort();
    const path = tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 200ms, timeout: 150ms }\n`);
    const pretty = spawnCli(['serve', '-c', path, '-p', String(port), '--host', '127.0.0.1', '--log-level', 'debug', '--log-format', 'pretty']);
    await waitFor('attempt lines', () => (pretty.output().match(/ DEBUG attempt /g) ?? []).length >= 2);
    expect(pretty.output()).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  vigil started /);
    pretty.child.kill('SIGKILL');

    const warnOnly = spawnCli(['serve', '-c', path, '-p', String(await freePort()), '--host', '127.0.0.1', '--log-level', 'warn'], { VIGIL_LOG_FORMAT: 'pretty', VIGIL_LOG_LEVEL: 'debug' });
    const quiet = spawnCli(['serve', '-c', path, '-p', String(await freePort()), '--host', '127.0.0.1', '--log-format', 'json'], { VIGIL_LOG_FORMAT: 'pretty' });
    await waitFor('started', () => quiet.output().includes('vigil started'));
    expect(jsonLines(quiet.output())[0]).toMatchObject({ level: 'info', severity: 'INFO', msg: 'vigil started' });
    // --log-level warn outranks VIGIL_LOG_LEVEL=debug: nothing to say at warn.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(warnOnly.child.exitCode).toBeNull();
    expect(warnOnly.output()).toBe('');
  });

  it.each([
    ['VIGIL_LOG_FORMAT=xml serve', ['serve'], { VIGIL_LOG_FORMAT: 'xml' }, 'VIGIL_LOG_FORMAT: "xml" must be one of json, pretty'],
    ['VIGIL_LOG_FORMAT=xml check', ['check'], { VIGIL_LOG_FORMAT: 'xml' }, 'VIGIL_LOG_FORMAT: "xml" must be one of json, pretty'],
    ['VIGIL_LOG_FORMAT=xml validate', ['validate'], { VIGIL_LOG_FORMAT: 'xml' }, 'VIGIL_LOG_FORMAT: "xml" must be one of json, pretty'],
    ['serve --log-format xml', ['serve', '--log-format', 'xml'], {}, '--log-format xml: must be one of json, pretty'],
    ['serve --log-level trace', ['serve', '--log-level', 'trace'], {}, '--log-level trace: must be one of debug, info, warn, error'],
    ['check --log-level trace', ['check', '--log-level', 'trace'], {}, '--log-level trace: must be one of debug, info, warn, error'],
  ])('logs for the platforms: %s exits 2 naming it and the allowed values', async (_name, args, env, message) => {
    const path = tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const run = await runCli([...args, '--config', path, ...(args[0] === 'serve' ? ['--port', String(await freePort())] : [])], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});

describe('environment overrides are reported as coming from the environment', () => {
  it('environment overrides: VIGIL_LOG_LEVEL=trace is reported as "VIGIL_LOG_LEVEL: ...", not as small.yaml:1:1', async () => {
    const path = tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`, 'small.yaml');
    const run = await runCli(['validate', '--config', path], { VIGIL_LOG_LEVEL: 'trace' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('  - VIGIL_LOG_LEVEL: "trace" must be one of "debug", "info", "warn", "error"');
    expect(run.stderr).not.toContain('small.yaml:1:1');
    const serve = await runCli(['serve', '--config', path, '--port', String(await freePort())], { VIGIL_LOG_LEVEL: 'trace' });
    expect(serve.code).toBe(2);
    expect(jsonLines(serve.stderr)).toEqual([expect.objectContaining({ level: 'fatal', problems: ['VIGIL_LOG_LEVEL: "trace" must be one of "debug", "info", "warn", "error"'] })]);
  });

  it.each([
    ['VIGIL_PORT=0', [], { VIGIL_PORT: '0' }],
    ['--port 0', ['--port', '0'], {}],
  ])('environment overrides: %s means an ephemeral port, and the bound port is logged', async (_name, args, env) => {
    const agent = spawnCli(['serve', '--config', tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`), '--host', '127.0.0.1', ...args], env);
    const port = await waitFor(`the start line (output: ${agent.output()})`, () => {
      if (agent.child.exitCode !== null) throw new Error(`exited with ${agent.child.exitCode}: ${agent.output()}`);
      return startedPort(agent.output());
    });
    expect(port).toBeGreaterThan(0);
    expect((await getJson(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });
});

describe('npm start', () => {
  it('npm start -- --port N serves config.example.yaml on port N', async () => {
    const port = await freePort();
    // --ignore-scripts skips prestart (the build): the tests run on the build npm test made.
    const npm = spawn('npm', ['start', '--silent', '--ignore-scripts', '--', '--port', String(port), '--host', '127.0.0.1'], { detached: true, stdio: 'ignore' });
    try {
      await waitFor('the agent on that port', async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok, 20_000);
      expect((await getJson(`http://127.0.0.1:${port}/health`)).body.checks).toHaveProperty(['db:responseTime']);
    } finally {
      process.kill(-npm.pid!, 'SIGKILL');
    }
  });
});
