// vigil probe without a URL finds the agent where serve listens: the config file (flag or
// VIGIL_CONFIG), VIGIL_PORT, the file's server.port and server.host, over IPv4 or IPv6.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, runCli, tempConfig } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { killAll, spawnCli } from '../helpers/process.js';
import { REDIS_URL } from '../helpers/services.js';

afterEach(killAll);

const CHECKS = `checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`;

async function serveOn(path: string, args: string[] = [], env: Record<string, string> = {}): Promise<void> {
  const agent = spawnCli(['serve', '--config', path, ...args], env);
  await waitFor(`vigil to start (output: ${agent.output()})`, () => {
    if (agent.child.exitCode !== null) throw new Error(`exited with ${agent.child.exitCode}: ${agent.output()}`);
    return agent.output().includes('vigil started');
  });
}

describe('vigil probe must ask the port and host vigil serves on', () => {
  it('vigil probe: server.port in the config file, given by --config or VIGIL_CONFIG', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { port: ${port}, host: 127.0.0.1 }\n${CHECKS}`);
    await serveOn(path);
    const byFlag = await runCli(['probe', '--config', path]);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    const byEnv = await runCli(['probe'], { VIGIL_CONFIG: path });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    // VIGIL_PORT outranks the file, as for serve.
    const wrong = await runCli(['probe', '-c', path], { VIGIL_PORT: String(await freePort()) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/ECONNREFUSED/);
  });

  it('vigil probe PATH asks that path of the local agent, wherever it listens', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { port: ${port}, host: 127.0.0.1 }\n${CHECKS}`);
    await serveOn(path);
    expect(await runCli(['probe', '/health/startup', '-c', path])).toMatchObject({ code: 0 });
    const missing = await runCli(['probe', '/health/no-such-group', '-c', path]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`http://127.0.0.1:${port}/health/no-such-group: HTTP 404`);
  });

  it('vigil probe: a listener on :: or 0.0.0.0 is reached over loopback; an IPv6 address is dialled in brackets', async () => {
    for (const host of ['::', '0.0.0.0', '::1']) {
      const port = await freePort();
      const path = tempConfig(`server: { port: ${port}, host: "${host}" }\n${CHECKS}`);
      await serveOn(path);
      const run = await runCli(['probe', '-c', path]);
      expect(run.code, `${host}: ${run.stderr}`).toBe(0);
    }
  });

  it('vigil probe: with host unset or :: it tries 127.0.0.1, then ::1 (an agent that listens on IPv6 loopback only)', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { port: ${port} }\n${CHECKS}`);
    await serveOn(path, ['--host', '::1']);
    const run = await runCli(['probe', '-c', path]);
    expect(run.code, run.stderr).toBe(0);
  });

  it('vigil probe: a problem elsewhere in the config does not make a running agent unhealthy', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { port: ${port}, host: 127.0.0.1 }\n${CHECKS}`);
    await serveOn(path);
    // A later edit the agent refused to reload: the port is still known, so the probe still asks it.
    writeFileSync(path, `server: { port: ${port}, host: 127.0.0.1, drainDelay: soon }\nchecks:\n  x: { type: nope }\n`);
    const run = await runCli(['probe', '-c', path]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
  });

  it('vigil probe: a port of 0 cannot be probed without a URL (exit 2, saying why)', async () => {
    const run = await runCli(['probe', '-c', tempConfig(`server: { port: 0 }\n${CHECKS}`)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('server.port is 0');
  });

  it('vigil probe asks the agent that is PID 1 (a container) for `serve --port N` and `serve --config FILE`, which only its command line holds', async () => {
    // A PID namespace of its own, as a container has: the agent is its PID 1, and the probe runs in it
    // with no flag and no environment, as the image's HEALTHCHECK does.
    for (const flags of [(port: number) => ['--port', String(port)], (port: number) => ['--config', tempConfig(`server: { port: ${port} }\n${CHECKS}`)]]) {
      const port = await freePort();
      const args = flags(port);
      const config = args[0] === '--config' ? [] : ['--config', tempConfig(CHECKS)];
      // --kill-child: the agent dies with unshare, whatever ends the test.
      const init = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, CLI, 'serve', '--host', '127.0.0.1', ...config, ...args], { env: cleanEnv(), stdio: 'ignore' });
      try {
        await waitFor(`the agent in its own PID namespace on ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok);
        // unshare forks the agent: its child is the namespace's PID 1.
        const pid = readFileSync(`/proc/${init.pid}/task/${init.pid}/children`, 'utf8').trim();
        const probe = await run('nsenter', ['--target', pid, '--pid', '--mount', process.execPath, CLI, 'probe']);
        expect(probe, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
      } finally {
        // SIGKILL to unshare: with --kill-child the kernel kills the agent with it.
        const exited = new Promise((resolve) => init.once('exit', resolve));
        init.kill('SIGKILL');
        await exited;
      }
    }
  });
});

function run(command: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}
