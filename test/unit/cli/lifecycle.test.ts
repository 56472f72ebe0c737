// The serve lifecycle around a real agent (over a fake kind, not listening): signals held until the
// agent runs, reloads one after another, SIGTERM's drain and the second signal that ends it at once.
// Signals are emitted on the process object (its listeners run, nothing is sent to the process).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgent, type Agent } from '../../../src/agent.js';
import type { CheckKind } from '../../../src/check.js';
import { holdSignals, supervise } from '../../../src/cli/lifecycle.js';
import type { AgentConfig } from '../../../src/config/types.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { watchConfig } from '../../../src/watch.js';
import { checkConfig } from '../../helpers/fixtures.js';
import { waitFor } from '../../helpers/net.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
const before = new Map(SIGNALS.map((name) => [name, process.listeners(name)]));
const agents: Agent[] = [];
afterEach(async () => {
  // The listeners holdSignals added: the test process must keep its own handling of real signals.
  for (const name of SIGNALS) for (const listener of process.listeners(name)) if (!before.get(name)!.includes(listener)) process.off(name, listener);
  for (const agent of agents.splice(0)) await agent.stop();
});

const fake: CheckKind = { type: 'fake', componentType: 'component', schemes: [], options: z.strictObject({}), run: async () => undefined };

function configWith(server: Partial<AgentConfig['server']> = {}): AgentConfig {
  return {
    server: { host: '127.0.0.1', port: 0, maxConnections: 256, drainDelayMs: 60_000, drainMode: 'delay', exposeDetails: true, trustLoopback: true, serviceId: 'x', description: '', logLevel: 'info', ...server },
    defaults: { intervalMs: 60_000, timeoutMs: 1000, failureThreshold: 1, successThreshold: 1, connection: 'fresh', reconnectEvery: 0 },
    checks: [checkConfig('a', { intervalMs: 60_000 })],
    secrets: [],
    warnings: [],
  };
}

async function started(config = configWith()) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  const agent = createAgent(config, { kinds: [fake], log, version: '0' });
  agents.push(agent);
  await agent.start({ listen: false });
  return { agent, log, msgs: () => lines.map((line) => line.msg as string), lines };
}

const emit = (signal: NodeJS.Signals) => process.emit(signal, signal);
const settled = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('lifecycle: signals during start-up are held until the agent runs', () => {
  it('held signals: those caught before the agent runs are handled once it does, several SIGHUPs as one reload', async () => {
    const signals = holdSignals();
    emit('SIGHUP');
    emit('SIGHUP');
    emit('SIGHUP');
    const delivered: [NodeJS.Signals, boolean][] = [];
    signals.deliver((signal, held) => delivered.push([signal, held]));
    emit('SIGHUP');
    expect(delivered).toEqual([
      ['SIGHUP', true],
      ['SIGHUP', false],
    ]);
  });

  it('held signals: a SIGTERM during start-up drains the agent once it runs, and the log says it was held', async () => {
    const signals = holdSignals();
    emit('SIGTERM');
    const { agent, log, msgs } = await started(configWith({ drainDelayMs: 10 }));
    expect(await supervise({ agent, log, signals, path: undefined, readConfig: async () => agent.config, watchConfig })).toBe(0);
    expect(msgs()).toEqual(expect.arrayContaining(['signal received during start-up: handled now', expect.stringMatching(/^draining/), 'vigil stopped']));
  });
});

describe('lifecycle: reloads run one after another', () => {
  it('serialised reloads: a SIGHUP during a reload waits its turn, and a failed one keeps the running config', async () => {
    const { agent, log, msgs, lines } = await started();
    const signals = holdSignals();
    let running = 0;
    let mostAtOnce = 0;
    const gates: (() => void)[] = [];
    const readConfig = async () => {
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await new Promise<void>((open) => gates.push(open));
      running--;
      if (gates.length === 2) throw new ConfigError([{ path: 'checks.a.interval', message: 'broken' }]);
      return configWith();
    };
    const exited = supervise({ agent, log, signals, path: undefined, readConfig, watchConfig });
    emit('SIGHUP');
    await waitFor('the first reload', () => gates.length === 1);
    emit('SIGHUP');
    // Time for a second reload to start, were reloads not serialised.
    await settled();
    expect(gates).toHaveLength(1);
    gates[0]!();
    await waitFor('the second reload', () => gates.length === 2);
    gates[1]!();
    await waitFor('the failed reload', () => msgs().some((msg) => msg.startsWith('configuration reload failed')));
    expect(mostAtOnce).toBe(1);
    expect(lines.find((line) => String(line.msg).startsWith('configuration reload failed'))).toMatchObject({ msg: 'configuration reload failed (SIGHUP); the running configuration stays', trigger: 'SIGHUP', problems: [expect.any(String)] });
    expect(await agent.registry.metrics()).toMatch(/vigil_config_reloads_total\{result="failure"\} 1/);
    expect(msgs()).toContain('configuration reloaded');
    emit('SIGTERM');
    emit('SIGTERM');
    expect(await exited).toBe(143);
  });
});

describe('lifecycle: the config file is watched from the moment the agent runs', () => {
  it('watched config: a change written as soon as supervise is called reloads, and the watcher closes with the drain', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'vigil-lifecycle-')), 'vigil.yaml');
    writeFileSync(path, 'checks: {}\n');
    const { agent, log } = await started(configWith({ drainDelayMs: 10 }));
    let reads = 0;
    const readConfig = async () => {
      reads++;
      return configWith({ drainDelayMs: 10 });
    };
    const exited = supervise({ agent, log, signals: holdSignals(), path, readConfig, watchConfig });
    // The agent already answers here: a change now must not fall between serving and watching.
    writeFileSync(path, 'checks: { a: { type: fake } }\n');
    await waitFor('the reload of the changed file', () => reads === 1);
    emit('SIGTERM');
    expect(await exited).toBe(0);
    writeFileSync(path, 'checks: {}\n');
    // Well past the watcher's debounce (250 ms).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(reads).toBe(1);
  });
});

describe('lifecycle: SIGTERM drains, a second signal ends it at once', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)('second signal: %s while draining exits at once with %i, long before drainDelay', async (second, code) => {
    const { agent, log, msgs } = await started(configWith({ drainDelayMs: 60_000 }));
    const exited = supervise({ agent, log, signals: holdSignals(), path: undefined, readConfig: async () => agent.config, watchConfig });
    emit('SIGTERM');
    await waitFor('the drain', () => msgs().some((msg) => msg.startsWith('draining')));
    expect((await agent.app.request('/health/ready')).status).toBe(503);
    expect((await agent.app.request('/health/live')).status).toBe(200);
    const startedAt = Date.now();
    emit(second);
    expect(await exited).toBe(code);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(msgs()).toContain('second signal: exiting at once');
  });
});
