import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createAgent } from '../../src/agent.js';
import type { AgentConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { createState } from '../../src/state.js';
import { agentConfig, checkConfig, downIsRefused } from '../helpers/fixtures.js';

const silent = createLogger({ write: () => undefined });

function config(): AgentConfig {
  return agentConfig([checkConfig('up', { intervalMs: 60_000 }), checkConfig('down', { intervalMs: 60_000, critical: false })]);
}

async function scrape() {
  const agent = createAgent(config(), { kinds: [downIsRefused], log: silent, version: '9.9.9' });
  await agent.start({ listen: false });
  await new Promise((resolve) => setTimeout(resolve, 30));
  const res = await agent.app.request('/metrics');
  const text = await res.text();
  await agent.stop();
  return { res, text };
}

describe('/metrics', () => {
  it('exposes every family of the interface with the check and type labels', async () => {
    const { res, text } = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    expect(text).toContain('vigil_check_up{check="up",type="fake"} 1');
    expect(text).toContain('vigil_check_up{check="down",type="fake"} 0');
    expect(text).toContain('vigil_check_duration_seconds_count{check="up",type="fake"} 1');
    expect(text).toContain('vigil_check_runs_total{check="up",type="fake",result="pass"} 1');
    expect(text).toContain('vigil_check_runs_total{check="down",type="fake",result="fail"} 1');
    expect(text).toContain('vigil_check_failures_total{check="down",type="fake",reason="connect_refused"} 1');
    expect(text).toMatch(/vigil_check_last_success_timestamp_seconds\{check="up",type="fake"\} \d{10}/);
    expect(text).toContain('vigil_health_status{group="ready",status="warn"} 1');
    expect(text).toContain('vigil_health_status{group="ready",status="fail"} 0');
    expect(text).toContain('vigil_health_status{group="live",status="pass"} 1');
    expect(text).toContain('vigil_config_reloads_total{result="failure"} 0');
    expect(text).toMatch(/vigil_config_last_reload_success_timestamp_seconds \d{10}/);
    expect(text).toContain(`vigil_build_info{version="9.9.9",node="${process.version}"} 1`);
    expect(text).toContain('vigil_process_cpu_seconds_total');
    // Every family is the agent's own.
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    expect(names.filter((n) => !n.startsWith('vigil_'))).toEqual([]);
  });

  it('serves fresh series after a change, though it caches the rendered text', async () => {
    const agent = createAgent(config(), { kinds: [downIsRefused], log: silent, version: '9.9.9' });
    await agent.start({ listen: false });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const first = await (await agent.app.request('/metrics')).text();
    expect(await (await agent.app.request('/metrics')).text()).toContain('vigil_check_up{check="up",type="fake"} 1');
    await agent.reload({ ...config(), checks: [...config().checks, checkConfig('added', { intervalMs: 60_000 })] });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const second = await (await agent.app.request('/metrics')).text();
    expect(first).not.toContain('check="added"');
    expect(second).toContain('vigil_check_up{check="added",type="fake"} 1');
    expect(second).toContain('vigil_config_reloads_total{result="success"} 1');
    await agent.stop();
  });

  it('vigil_health_status{group="live"} counts the agent\'s own entries, as /health/live does, at once when they change', async () => {
    const state = createState();
    let stalled = false;
    const self = () => [{ key: 'vigil:eventLoopDelay', observedValue: stalled ? 3000 : 1, observedUnit: 'ms', status: stalled ? ('fail' as const) : ('pass' as const) }];
    const metrics = createMetrics(new Registry(), new Registry(), { version: '0', state, self });
    const text = async () => Buffer.from(await metrics.render()).toString();
    expect(await text()).toContain('vigil_health_status{group="live",status="pass"} 1');
    stalled = true;
    const during = await text();
    expect(during).toContain('vigil_health_status{group="live",status="fail"} 1');
    expect(during).toContain('vigil_health_status{group="ready",status="fail"} 0');
    stalled = false;
    expect(await text()).toContain('vigil_health_status{group="live",status="pass"} 1');
  });

  it('vigil_config_last_reload_successful is 0 from a refused reload until one succeeds', async () => {
    const agent = createAgent(config(), { kinds: [downIsRefused], log: silent, version: '9.9.9' });
    await agent.start({ listen: false });
    const gauge = async () => Number(/^vigil_config_last_reload_successful (\d)$/m.exec(await (await agent.app.request('/metrics')).text())?.[1]);
    expect(await gauge()).toBe(1);
    agent.metrics.configReloaded(false, Date.now());
    expect(await gauge()).toBe(0);
    await agent.reload(config());
    expect(await gauge()).toBe(1);
    await agent.stop();
  });

  it('passes promtool check metrics', async () => {
    const { text } = await scrape();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error, 'promtool (Debian package prometheus) must be installed').toBeUndefined();
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });
});
