import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, serve, type Served } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { REDIS_URL } from '../helpers/services.js';

const running: Served[] = [];
afterEach(() => {
  for (const agent of running.splice(0)) agent.kill();
});

const one = `checks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 300ms, timeout: 200ms }\n`;
const two = `${one}  cache2: { type: redis, url: "${REDIS_URL}", interval: 300ms, timeout: 200ms }\n`;

async function checkNames(agent: Served): Promise<string[]> {
  return Object.keys((await getJson(`${agent.url}/health`)).body.checks).filter((k) => k.endsWith(':responseTime')).map((k) => k.replace(/:responseTime$/, '')).sort();
}

async function startWith(path: string) {
  const agent = await serve(['--config', path], await freePort());
  running.push(agent);
  await waitFor('ready', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
  return agent;
}

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'vigil-reload-'));
}

describe('live reload (built CLI)', () => {
  it('reloads on SIGHUP, keeping unchanged checks and their series, removing the series of removed checks', async () => {
    const dir = tempDir();
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, two);
    const agent = await startWith(path);
    await waitFor('a few attempts', async () => (await getJson(`${agent.url}/health`)).body.checks['cache:responseTime'][0].consecutiveSuccesses >= 3);
    const before = (await getJson(`${agent.url}/health`)).body.checks['cache:responseTime'][0].consecutiveSuccesses;

    // The folder watcher sees this write too; SIGHUP makes the reload immediate either way.
    writeFileSync(path, one);
    agent.child.kill('SIGHUP');
    await waitFor('cache2 removed', async () => (await checkNames(agent)).join() === 'cache');
    const after = (await getJson(`${agent.url}/health`)).body.checks['cache:responseTime'][0].consecutiveSuccesses;
    expect(after).toBeGreaterThanOrEqual(before);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).not.toContain('check="cache2"');
    expect(metrics).toContain('vigil_check_up{check="cache",type="redis"} 1');
    expect(metrics).toMatch(/vigil_config_reloads_total\{result="success"\} [1-9]/);
  });

  it('reloads on an in-place write of the file', async () => {
    const path = join(tempDir(), 'vigil.yaml');
    writeFileSync(path, one);
    const agent = await startWith(path);
    writeFileSync(path, two);
    await waitFor('cache2 added', async () => (await checkNames(agent)).join() === 'cache,cache2', 5000);
  });

  it('reloads on an atomic rename over the file', async () => {
    const dir = tempDir();
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, one);
    const agent = await startWith(path);
    writeFileSync(join(dir, '.vigil.yaml.tmp'), two);
    renameSync(join(dir, '.vigil.yaml.tmp'), path);
    await waitFor('cache2 added', async () => (await checkNames(agent)).join() === 'cache,cache2', 5000);
  });

  it('reloads on a Kubernetes ConfigMap update (the ..data symlink swapped)', async () => {
    // The kubelet's layout: vigil.yaml -> ..data/vigil.yaml, ..data -> ..<timestamp>/
    const dir = tempDir();
    mkdirSync(join(dir, '..2026_01'));
    writeFileSync(join(dir, '..2026_01', 'vigil.yaml'), one);
    symlinkSync('..2026_01', join(dir, '..data'));
    symlinkSync('..data/vigil.yaml', join(dir, 'vigil.yaml'));
    const agent = await startWith(join(dir, 'vigil.yaml'));

    mkdirSync(join(dir, '..2026_02'));
    writeFileSync(join(dir, '..2026_02', 'vigil.yaml'), two);
    symlinkSync('..2026_02', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor('cache2 added', async () => (await checkNames(agent)).join() === 'cache,cache2', 5000);
  });

  it('keeps the running checks when the new config is invalid, and counts the failure', async () => {
    const path = join(tempDir(), 'vigil.yaml');
    writeFileSync(path, one);
    const agent = await startWith(path);
    writeFileSync(path, 'checks:\n  cache: { type: redis, url: "nope" }\n  other: { type: kafka }\n');
    await waitFor('the failed reload', async () => /vigil_config_reloads_total\{result="failure"\} 1/.test(await (await fetch(`${agent.url}/metrics`)).text()), 5000);
    expect(await checkNames(agent)).toEqual(['cache']);
    expect((await getJson(`${agent.url}/health/ready`)).status).toBe(200);
    const lines = agent.output().trim().split('\n').map((l) => JSON.parse(l));
    const failure = lines.find((l) => l.msg.startsWith('configuration reload failed'));
    // As at start: every problem a line of its own.
    expect(failure.problems).toEqual([expect.stringContaining('checks.cache.url'), expect.stringContaining('checks.other.type')]);
  });

  it('a reload must not blip readiness: a changed critical check keeps its result until the new definition answers', async () => {
    // The upstream answers after 600 ms: a changed check that restarted pending would fail ready that long.
    const upstream = await startUpstream((_req, res) => void setTimeout(() => res.end('ok'), 600));
    try {
      const path = join(tempDir(), 'vigil.yaml');
      const config = (timeout: string) => `defaults: { interval: 3s, timeout: ${timeout} }\nchecks:\n  api: { type: http, url: "${upstream.url}/" }\n`;
      writeFileSync(path, config('2s'));
      const agent = await startWith(path);
      writeFileSync(path, config('1500ms'));
      agent.child.kill('SIGHUP');
      const statuses: number[] = [];
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        statuses.push((await fetch(`${agent.url}/health/ready`)).status);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(agent.output()).toContain('configuration reloaded');
      expect(JSON.parse(agent.output().trim().split('\n').find((l) => l.includes('configuration reloaded'))!)).toMatchObject({ changed: 1 });
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(await (await fetch(`${agent.url}/metrics`)).text()).toMatch(/^vigil_check_up\{check="api",type="http"\} 1$/m);
    } finally {
      await upstream.close();
    }
  });
});
