// The properties every registered check type must have, proven once for all of them with each kind's
// fixture (fixtures/<type>.ts): a real server of the kind, a closed port, and the shared fault proxy
// in front of the real server (blackhole, reset, garbage, drip); for a kind that speaks UDP, UDP
// peers that never answer or answer garbage, and the faults of a connection reported not applicable.
// A kind registered without a fixture fails here.
import { getEventListeners } from 'node:events';
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import { configJsonSchema } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { judge } from '../../src/observations.js';
import type { CheckConfig } from '../../src/config/types.js';
import { createRunner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { GARBAGE, startFaultProxy, type FaultMode, type FaultProxy } from '../helpers/fault-proxy.js';
import { checkConfig } from '../helpers/fixtures.js';
import { freePort, freeUdpPort, startBlackhole, startUdpPeer, waitFor, type Blackhole, type UdpPeer } from '../helpers/net.js';
import type { Address, ConformanceFixture, NotApplicable, Server } from './fixture.js';

const FIXTURES = new URL('./fixtures/', import.meta.url);
const fixtures = new Map<string, ConformanceFixture>();
for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.ts'))) {
  fixtures.set(file.replace(/\.ts$/, ''), ((await import(new URL(file, FIXTURES).href)) as { fixture: ConformanceFixture }).fixture);
}

/** The attempts' timeout in the fault cases: short, so the suite stays quick. */
const TIMEOUT_MS = 300;
/** Attempts in the mixed run, and how many run at once. */
const MIXED_ATTEMPTS = 2000;
const WARM_UP_ATTEMPTS = 1000;
const CONCURRENCY = 25;
const MiB = 1024 * 1024;
const CANARY = 'Canary-7f3e9 Secret@Value';

// A full collection on demand, for the live-heap measure.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const isNotApplicable = (expected: unknown): expected is NotApplicable => typeof expected === 'object' && expected !== null && 'notApplicable' in expected;

describe('every registered check type has a conformance fixture', () => {
  it('a fixture per registered kind, and no fixture without a kind', () => {
    expect(kinds.map((k) => k.type).filter((type) => !fixtures.has(type))).toEqual([]);
    expect([...fixtures.keys()].filter((type) => !kinds.some((k) => k.type === type))).toEqual([]);
  });
});

// Every kind as it runs by default (a fresh connection per attempt), and a kind that can keep its
// connection (connection: persistent) once more that way: the same faults, the same outcomes, the
// same absence of leaks, with the core keeping one connection per check.
const modes = kinds.filter((kind) => fixtures.has(kind.type)).flatMap((kind) => [[kind.type, kind, 'fresh'] as const, ...(kind.session ? [[`${kind.type} (persistent)`, kind, 'persistent'] as const] : [])]);

describe.each(modes)('conformance: %s', (title, kind, mode) => {
  const fixture = fixtures.get(kind.type)!;
  const isPersistent = mode === 'persistent';
  // Persistent: one check (and so one kept connection) per address and worker, as a scheduler would
  // run it: one attempt at a time.
  const runner = createRunner(kinds);
  const persistentChecks = new Map<string, CheckConfig>();
  const transport = fixture.transport ?? 'tcp';
  let server: Server;
  let proxy: FaultProxy;
  let blackhole: Blackhole;
  let udpBlackhole: UdpPeer | undefined;
  let udpGarbage: UdpPeer | undefined;

  beforeAll(async () => {
    await kind.prepare?.();
    server = await fixture.start();
    proxy = await startFaultProxy(server.host, server.port);
    blackhole = await startBlackhole();
    if (transport === 'udp') {
      udpBlackhole = await startUdpPeer();
      udpGarbage = await startUdpPeer(() => GARBAGE);
    }
  });
  afterAll(async () => {
    await proxy?.close();
    await blackhole?.close();
    await udpBlackhole?.close();
    await udpGarbage?.close();
    await runner.closeAll();
    await server?.stop();
    await fixture.close?.();
  });

  /** One attempt through the core's deadline; resolves once the kind's own work has settled too. */
  async function attemptAt(address: Address, timeoutMs = TIMEOUT_MS, worker = 0): Promise<{ result: CheckResult; listeners: number }> {
    let check: CheckConfig;
    if (isPersistent) {
      const key = `${address.host}:${address.port}/${timeoutMs}/${worker}`;
      check = persistentChecks.get(key) ?? checkConfig(`conformance-${persistentChecks.size}`, { type: kind.type, timeoutMs, intervalMs: timeoutMs * 2, options: kind.options.parse(fixture.options(address)) as Record<string, unknown>, connection: 'persistent' });
      persistentChecks.set(key, check);
    } else {
      const options = kind.options.parse(fixture.options(address)) as Record<string, unknown>;
      check = checkConfig(`conformance-${kind.type}`, { type: kind.type, timeoutMs, intervalMs: timeoutMs * 2, options });
    }
    const controller = new AbortController();
    let settled!: () => void;
    const isSettled = new Promise<void>((resolve) => (settled = resolve));
    const result = await attempt(check, isPersistent ? runner.run : (c, ctx) => kind.run(c.options, ctx), { controller, onSettled: () => settled() });
    await isSettled;
    return { result: result!, listeners: getEventListeners(controller.signal, 'abort').length };
  }
  const viaProxy = async (mode: FaultMode, delayMs?: number) => {
    // Another fault behind the same address: a new check, as a reload would make it.
    await runner.closeAll();
    persistentChecks.clear();
    await proxy.set(mode, { delayMs });
    return { host: '127.0.0.1', port: proxy.port };
  };
  // The peers of the kind's transport: over UDP the suite's own, since the fault proxy speaks TCP.
  const closedAddress = async () => ({ host: '127.0.0.1', port: transport === 'udp' ? await freeUdpPort() : await freePort() });
  const hungAddress = () => ({ host: '127.0.0.1', port: transport === 'udp' ? udpBlackhole!.port : blackhole.port });
  const garbageAddress = async () => (transport === 'udp' ? { host: '127.0.0.1', port: udpGarbage!.port } : viaProxy('garbage'));
  const passAddress = async () => (transport === 'udp' ? { host: server.host, port: server.port } : viaProxy('pass'));
  /** A fault declared not applicable is reported as such, by its title; only a kind without connections may declare it. */
  const itNotApplicable = (fault: string, declared: NotApplicable) =>
    it(`${fault}: not applicable over ${transport} (${declared.notApplicable})`, () => {
      expect(transport, 'over TCP every fault applies').toBe('udp');
      expect(declared.notApplicable.trim()).not.toBe('');
    });
  const expectOutcome = (result: CheckResult, expected: 'pass' | string) =>
    expect(result.ok ? 'pass' : result.reason, result.message).toBe(expected);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  it('passes against a real server of its kind, reporting only numeric observations it declares', async () => {
    const { result } = await attemptAt(server, 2000);
    expect(result, result.message).toMatchObject({ ok: true });
    // The core refuses a number under a name the kind does not declare (the name is a label).
    const judged = judge(checkConfig(`conformance-${kind.type}`, { type: kind.type }), kind, result);
    expect(judged, judged.message).toMatchObject({ ok: true });
  });

  it('fails with connect_refused against a closed port, within 100 ms', async () => {
    const durations: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { result } = await attemptAt(await closedAddress(), 2000);
      expectOutcome(result, 'connect_refused');
      durations.push(result.durationMs);
    }
    expect(median(durations)).toBeLessThan(100);
  });

  it(`against a server that accepts and never answers: ${fixture.expects.hang}, at the timeout`, async () => {
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { result } = await attemptAt(hungAddress());
      expectOutcome(result, fixture.expects.hang);
      durations.push(result.durationMs);
    }
    if (fixture.expects.hang === 'timeout') {
      expect(median(durations)).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(median(durations)).toBeLessThan(TIMEOUT_MS + 150);
    }
  });

  const reset = fixture.expects.reset;
  if (isNotApplicable(reset)) itNotApplicable('against a peer that resets the connection after accepting it', reset);
  else {
    it(`against a peer that resets the connection after accepting it: ${reset.join(' or ')}`, async () => {
      const { result } = await attemptAt(await viaProxy('reset'));
      expect(reset, result.message).toContain(result.ok ? 'pass' : result.reason);
    });
  }

  it(`against a peer that speaks garbage: ${fixture.expects.garbage}`, async () => {
    const { result } = await attemptAt(await garbageAddress());
    expectOutcome(result, fixture.expects.garbage);
  });

  const drip = fixture.expects.drip;
  if (isNotApplicable(drip)) itNotApplicable('against a real server whose answer drips in a byte at a time', drip);
  else {
    it(`against a real server whose answer drips in a byte at a time: ${drip}`, async () => {
      const { result } = await attemptAt(await viaProxy('drip', 50));
      expectOutcome(result, drip);
    });
  }

  it(`leaves nothing behind over ${MIXED_ATTEMPTS} attempts mixing pass, refused and hung: no listener on any signal, fds back to baseline, no server-side connection, a flat live heap`, async () => {
    const targets = [await passAddress(), await closedAddress(), hungAddress()];
    const fds = () => readdirSync('/proc/self/fd').length;
    const leftOnServer = async () => (await fixture.serverConnections?.(proxy.upstreamPorts())) ?? 0;
    const run = async (count: number) => {
      let next = 0;
      let listeners = 0;
      const outcomes: Record<string, number> = {};
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, worker) => {
          while (next < count) {
            const { result, listeners: left } = await attemptAt(targets[next++ % targets.length]!, TIMEOUT_MS, worker);
            listeners += left;
            const key = result.ok ? 'pass' : result.reason!;
            outcomes[key] = (outcomes[key] ?? 0) + 1;
          }
        }),
      );
      return { listeners, outcomes };
    };
    // Warm-up: code compiled and optimised, pools and caches filled (a large driver such as grpc-js
    // keeps compiling for a few hundred attempts, more on Node 24).
    await run(WARM_UP_ATTEMPTS);
    // Persistent: the kept connections close, as at a reload; the run then opens them again.
    await runner.closeAll();
    persistentChecks.clear();
    await waitFor('the warm-up connections to close', () => proxy.openConnections() === 0 && blackhole.openSockets() === 0, 5000);
    const fdsBefore = fds();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const { listeners, outcomes } = await run(MIXED_ATTEMPTS);
    expect(listeners).toBe(0);
    if (isPersistent) {
      // At most one connection per check (worker and target) reached the real server throughout.
      expect(await leftOnServer()).toBeLessThanOrEqual(CONCURRENCY);
      await runner.closeAll();
      persistentChecks.clear();
    }
    // A third of the attempts pass (a few may meet the timeout on a busy machine: a PostgreSQL backend forks per connection).
    expect(outcomes.pass, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(0.9 * (MIXED_ATTEMPTS / 3));
    await waitFor('every connection to close, client and server side', async () => proxy.openConnections() === 0 && blackhole.openSockets() === 0 && (await leftOnServer()) === 0, 5000);
    await waitFor('fds back to baseline', () => fds() <= fdsBefore + 2, 5000);
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    const figures = `live heap ${(heapBefore / MiB).toFixed(2)} -> ${((heapBefore + growth) / MiB).toFixed(2)} MiB over ${MIXED_ATTEMPTS} attempts ${JSON.stringify(outcomes)}`;
    console.log(`conformance ${title}: ${figures}`);
    expect(growth, figures).toBeLessThan(2 * MiB);
  }, 120_000);

  // What follows concerns a kind's options, whatever its connection mode: proven once, fresh.
  if (isPersistent) return;

  it('never shows a secret in its options: not in a result, the health body, the metrics or the logs', async () => {
    if (!fixture.carriesSecrets) {
      // Its options have no place for a credential (documented for the kind).
      expect(fixture.options({ host: 'h', port: 1 }, '${secret:CANARY}')).toEqual(fixture.options({ host: 'h', port: 1 }));
      return;
    }
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
    const block = (address: Address) => JSON.stringify({ type: kind.type, interval: '1s', timeout: `${TIMEOUT_MS}ms`, ...fixture.options(address, '${secret:CANARY}') });
    const yaml = `server: { exposeDetails: true }\nchecks:\n  up: ${block(server)}\n  refused: ${block(await closedAddress())}\n  garbled: ${block(await garbageAddress())}\n`;
    const config = parseConfig(yaml, { kinds, env: { CANARY } });
    log.configure({ redact: (await import('../../src/redact.js')).createRedactor(config.secrets) });
    const agent = createAgent(config, { kinds, log, version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('a result of every check', () => ['up', 'refused', 'garbled'].every((name) => agent.state.get(name)?.last !== undefined), 10_000);
      const results = ['up', 'refused', 'garbled'].map((name) => agent.state.get(name)!.last!);
      expect(results.filter((r) => !r.ok).length).toBeGreaterThanOrEqual(1);
      const body = await (await agent.app.request('/health')).text();
      const metrics = Buffer.from(await agent.metrics.render()).toString();
      const outputs = { results: JSON.stringify(results), body, metrics, logs: lines.join('') };
      for (const [where, text] of Object.entries(outputs)) {
        for (const form of [CANARY, encodeURIComponent(CANARY), 'Canary-7f3e9']) expect(text.includes(form), `${form} in ${where}`).toBe(false);
      }
    } finally {
      await agent.stop();
    }
  });

  it('builds its options from every URL scheme it serves (environment-only mode), and is in vigil schema', () => {
    expect(fixture.urls.map(({ url }) => /^([a-z]+):/.exec(url)![1]).sort()).toEqual([...kind.schemes].sort());
    for (const { url, options } of fixture.urls) {
      const config = parseConfig(undefined, { kinds, env: { VIGIL_CHECK_ENVONLY: url } });
      expect(config.checks[0], url).toMatchObject({ name: 'envonly', type: kind.type, options });
    }
    const schema = JSON.stringify(configJsonSchema(kinds));
    expect(schema).toContain(JSON.stringify({ type: 'string', const: kind.type }));
    for (const key of Object.keys(kind.options.shape)) expect(schema).toContain(JSON.stringify(key));
  });
});
