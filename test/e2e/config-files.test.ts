// Files the config names, through the built CLI: a config, VAR_FILE secret or details token that is a
// device, a FIFO or huge is refused at once with the reason, and never blocks or fills the agent.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { getJson, runCli, serve, type Served, tempConfig, readable } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';

const running: Served[] = [];
afterEach(() => {
  for (const agent of running.splice(0)) agent.kill();
});

async function start(path: string, env: Record<string, string> = {}): Promise<Served> {
  const agent = await serve(['--config', path], await freePort(), env);
  running.push(agent);
  return agent;
}

async function reloadFailures(agent: Served): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/vigil_config_reloads_total\{result="failure"\} (\d+)/.exec(text)?.[1] ?? 0);
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-hostile-'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const huge = join(dir, 'huge');
closeSync(openSync(huge, 'w'));
truncateSync(huge, 4 * 1024 ** 3);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('files read without limits: a config, *_FILE or detailsTokenFile that is /dev/zero, huge or a FIFO (built CLI)', () => {
  const secretConfig = tempConfig('checks:\n  db: { type: postgres, url: "postgres://app:${PW}@127.0.0.1:1/app" }\n');
  const tokenConfig = (file: string) => tempConfig(`server:\n  exposeDetails: false\n  detailsTokenFile: ${file}\nchecks:\n  a: { type: tcp, host: 127.0.0.1, port: 1 }\n`);

  it.each([
    ['/dev/zero', 'not a regular file but a device'],
    [fifo, 'not a regular file but a named pipe (FIFO)'],
    [huge, '4 GiB, more than the limit of 1 MiB'],
  ])('--config %s exits 2 at once with the reason', async (path, reason) => {
    for (const command of ['validate', 'serve']) {
      const run = await runCli([command, '--config', path, ...(command === 'serve' ? ['--port', String(await freePort())] : [])], {}, 10_000);
      expect(run.code, command).toBe(2);
      expect(run.stderr).toContain(`cannot read the config file: ${reason}`);
      expect(run.ms).toBeLessThan(5000);
    }
  });

  it.each([
    ['/dev/zero', 'not a regular file but a device'],
    [fifo, 'not a regular file but a named pipe (FIFO)'],
    [huge, '4 GiB, more than the limit of 64 KiB'],
  ])('PW_FILE=%s exits 2 at once naming the variable and the reason', async (file, reason) => {
    const run = await runCli(['validate', '--config', secretConfig], { PW_FILE: file }, 10_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot read PW_FILE (${file}): ${reason}`);
    expect(run.ms).toBeLessThan(5000);
  });

  it.each([
    ['/dev/zero', 'not a regular file but a device'],
    [fifo, 'not a regular file but a named pipe (FIFO)'],
    [huge, '4 GiB, more than the limit of 64 KiB'],
    [join(dir, 'missing-token'), 'no such file'],
  ])('server.detailsTokenFile: %s exits 2 naming the key and the reason', async (file, reason) => {
    for (const command of ['validate', 'serve']) {
      const run = await runCli([command, '--config', tokenConfig(file), ...(command === 'serve' ? ['--port', String(await freePort())] : [])], {}, 10_000);
      expect(run.code, command).toBe(2);
      expect(readable(run.stderr)).toContain(`server.detailsTokenFile: cannot read "${file}": ${reason}`);
    }
  });

  it('a config replaced by a FIFO while serving: liveness keeps answering, the reload fails and the running config stays', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'vigil-fifo-'));
    const path = join(folder, 'vigil.yaml');
    writeFileSync(path, 'checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n');
    const agent = await start(path);
    execFileSync('mkfifo', [join(folder, 'next')]);
    renameSync(join(folder, 'next'), path);
    await waitFor('the failed reload', async () => (await reloadFailures(agent)) >= 1, 10_000);
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    expect(agent.output()).toContain('not a regular file but a named pipe (FIFO)');
  });
});
