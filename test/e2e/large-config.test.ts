// Very large configs through the built CLI: bounded in bytes and checks, and parsed off the event
// loop so that a reload never stalls the endpoints.
import { renameSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, runCli, serve, tempConfig, type Served } from '../helpers/cli.js';
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

/** Replaces a file's content at once (a watcher never sees half of it). */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.next`, text);
  renameSync(`${path}.next`, path);
}

async function reloadFailures(agent: Served): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  return Number(/vigil_config_reloads_total\{result="failure"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('very large configs stall the event loop: bounded, and parsed off the event loop (built CLI)', () => {
  it('a config over 1 MiB exits 2 at start; on reload the running config stays', async () => {
    const big = `checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n# ${'x'.repeat(1024 * 1024)}\n`;
    const run = await runCli(['serve', '--port', String(await freePort()), '--config', tempConfig(big)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot read the config file: ${Buffer.byteLength(big)} bytes, more than the limit of 1 MiB`);

    const path = tempConfig('checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n');
    const agent = await start(path);
    replace(path, big.replace('  a:', '  b:'));
    await waitFor('the failed reload', async () => (await reloadFailures(agent)) >= 1);
    expect(Object.keys((await getJson(`${agent.url}/health`)).body.checks)).toEqual(['a:responseTime']);
  });

  it('a reload of a huge config never stalls liveness, and too many checks keep the running config', async () => {
    const path = tempConfig('checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n');
    const agent = await start(path);
    // Just under 1 MiB of tiny values: parsing it on the event loop took seconds (and hundreds of MiB).
    const latencies: number[] = [];
    const statuses = new Set<number>();
    replace(path, `checks:\n  a: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\nx: [${'1,'.repeat(500_000)}1]\n`);
    const reloaded = waitFor('the failed reload', async () => (await reloadFailures(agent)) >= 1, 60_000, 200);
    let isDone = false;
    void reloaded.finally(() => (isDone = true));
    while (!isDone) {
      const started = Date.now();
      const res = await fetch(`${agent.url}/health/live`);
      await res.arrayBuffer();
      statuses.add(res.status);
      latencies.push(Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await reloaded;
    console.log(`liveness during the reload of a 1 MiB config: ${latencies.length} probes, slowest ${Math.max(...latencies)} ms`);
    expect([...statuses]).toEqual([200]);
    // The in-line parse answered nothing for seconds; off the event loop every probe is prompt.
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(agent.output()).toMatch(/configuration reload failed.*holds more than 40000 values|needs more than 64 MiB to parse/);

    const failures = await reloadFailures(agent);
    replace(path, `checks:\n${Array.from({ length: 2001 }, (_, i) => `  c${i}: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n`).join('')}`);
    await waitFor('the second failed reload', async () => (await reloadFailures(agent)) > failures, 30_000);
    expect(agent.output()).toContain('2001 checks, more than the limit of 2000 for one agent');
    expect(Object.keys((await getJson(`${agent.url}/health`)).body.checks)).toEqual(['a:responseTime']);
  });
});
