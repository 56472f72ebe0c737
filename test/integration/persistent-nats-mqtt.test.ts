// connection: persistent for nats and mqtt, against throw-away servers of their own (a nats-server
// with monitoring, a Mosquitto logging every connection), counted where it matters, at the server:
// one connection per check serving every attempt, replaced after a restart at the cost of one
// failure at most, closed at reload, removal and stop, and nothing left on the broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, type IConnackPacket } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import { createRunner, type Runner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { makeCertificates } from '../helpers/certs.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { waitFor } from '../helpers/net.js';
import { quiet, configOf, connectionsSeries } from '../helpers/persistent.js';

// A full collection on demand, for the live-heap measure.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

/**
 * The live heap's growth over `count` attempts on one kept connection, after a warm-up: a probe that
 * left anything on the connection (a reaction on a promise of its whole life, a listener) would
 * grow it by hundreds of bytes an attempt.
 */
async function heapGrowthOver(count: number, run: () => Promise<CheckResult | undefined>): Promise<number> {
  for (let i = 0; i < 500; i++) expect(await run()).toMatchObject({ ok: true });
  gc();
  const before = process.memoryUsage().heapUsed;
  let failures = 0;
  for (let i = 0; i < count; i++) if (!(await run())?.ok) failures++;
  expect(failures).toBe(0);
  gc();
  return process.memoryUsage().heapUsed - before;
}




/** A CA and a server certificate for 127.0.0.1 and localhost, made once, removed after the file's tests. */
const certsDir = mkdtempSync(join(tmpdir(), 'vigil-persistent-certs-'));
let certificates: ReturnType<typeof makeCertificates> | undefined;
const certs = () => (certificates ??= makeCertificates(certsDir));
afterAll(() => rmSync(certsDir, { recursive: true, force: true }));

const outcomes = (results: readonly (CheckResult | undefined)[]) => results.map((r) => (r?.ok ? 'pass' : `${r?.reason}: ${r?.message}`));

describe('nats, connection: persistent (a throw-away nats-server with JetStream)', () => {
  let server: NatsServer;
  /** vigil's connections as the server's /connz lists them, by the client's port. */
  const vigilPorts = async (on = server) => (await on.connections()).filter((c) => c.name === 'vigil').map((c) => c.port);
  const check = (port: number, extra = '') => configOf({ bus: `{ type: nats, url: "nats://127.0.0.1:${port}", jetstream: true${extra} }` }).checks[0]!;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(() => server?.stop());

  it('one connection serves every attempt (the same client port at the server throughout), and closeAll closes it', async () => {
    const runner = createRunner(kinds);
    const bus = check(server.port);
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      expect(await attempt(bus, runner.run)).toMatchObject({ ok: true });
      for (const port of await vigilPorts()) seen.add(port);
    }
    expect(seen.size).toBe(1);
    expect(await vigilPorts()).toHaveLength(1);
    expect(runner.connections(bus)).toBe(1);
    await runner.closeAll();
    await waitFor('the connection to close', async () => (await vigilPorts()).length === 0);
  });

  it('5000 attempts over one kept connection (flush and JetStream) leave the live heap flat', async () => {
    const runner = createRunner(kinds);
    const bus = check(server.port);
    const growth = await heapGrowthOver(5000, () => attempt(bus, runner.run));
    expect(await vigilPorts()).toHaveLength(1);
    await runner.closeAll();
    expect(growth, `${(growth / MiB).toFixed(2)} MiB`).toBeLessThan(1 * MiB);
  }, 120_000);

  it('over TLS (a server that requires it): one connection, the certificate judged at every attempt', async () => {
    const secure = await startNatsServer({ jetstream: true, config: `tls { cert_file: "${certs().serverCert}", key_file: "${certs().serverKey}" }` });
    try {
      const runner = createRunner(kinds);
      const bus = configOf({ bus: `{ type: nats, url: "nats://127.0.0.1:${secure.port}", jetstream: true, tls: { caFile: "${certs().ca}" } }` }).checks[0]!;
      const results = [];
      for (let i = 0; i < 10; i++) results.push(await attempt(bus, runner.run));
      expect(outcomes(results)).toEqual(Array(10).fill('pass'));
      for (const result of results) expect(result?.observation?.tlsLeafDaysLeft).toBeGreaterThan(20);
      expect(await vigilPorts(secure)).toHaveLength(1);
      await runner.closeAll();
      await waitFor('no connection left', async () => (await vigilPorts(secure)).length === 0);
    } finally {
      await secure.stop();
    }
  });

  it('JetStream required of a server without it: not_serving over the kept connection, as over a fresh one, and the connection is replaced', async () => {
    const plain = await startNatsServer({ jetstream: false });
    try {
      const runner = createRunner(kinds);
      const bus = check(plain.port);
      const fresh = await attempt({ ...bus, connection: 'fresh' }, (c, ctx) => kinds.find((k) => k.type === 'nats')!.run(c.options, ctx));
      const kept = [await attempt(bus, runner.run), await attempt(bus, runner.run)];
      expect(fresh).toMatchObject({ ok: false, reason: 'not_serving' });
      for (const result of kept) expect(result).toMatchObject({ ok: false, reason: 'not_serving', message: fresh!.message });
      await runner.closeAll();
      await waitFor('no connection left', async () => (await vigilPorts(plain)).length === 0);
    } finally {
      await plain.stop();
    }
  });

  it('a restart between attempts costs no failure; a server still down costs one, then it recovers; the client never reconnects on its own', async () => {
    let own = await startNatsServer({ jetstream: true });
    const port = own.port;
    let runner: Runner | undefined;
    try {
      runner = createRunner(kinds);
      const bus = check(port);
      expect(await attempt(bus, runner.run)).toMatchObject({ ok: true });
      await own.stop();
      own = await startNatsServer({ jetstream: true, port });
      // The kept connection died with the old server: the attempt opens a new one and passes.
      expect(await attempt(bus, runner.run)).toMatchObject({ ok: true });
      await own.stop();
      const down = await attempt(bus, runner.run);
      expect(down).toMatchObject({ ok: false, reason: 'connect_refused' });
      own = await startNatsServer({ jetstream: true, port });
      // Nothing reconnected in the background while the next attempt was due.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await vigilPorts(own)).toHaveLength(0);
      expect(await attempt(bus, runner.run)).toMatchObject({ ok: true });
      expect(await vigilPorts(own)).toHaveLength(1);
    } finally {
      await runner?.closeAll();
      await own.stop();
    }
  });

  it('a reload that changes the check closes the old connection; removal and stop close it', async () => {
    const other = await startNatsServer({ jetstream: false });
    const agent = createAgent(configOf({ bus: `{ type: nats, url: "nats://127.0.0.1:${server.port}", jetstream: true }` }), { kinds, log: quiet(), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('the kept connection', async () => (await vigilPorts()).length === 1);
      expect(await connectionsSeries(agent, 'bus')).toBe(1);
      await agent.reload(configOf({ bus: `{ type: nats, url: "nats://127.0.0.1:${other.port}" }` }));
      await waitFor('the new connection, and the old one closed', async () => (await vigilPorts()).length === 0 && (await vigilPorts(other)).length === 1);
      await agent.reload(configOf({ again: `{ type: nats, url: "nats://127.0.0.1:${server.port}" }` }));
      await waitFor('the removed check closed', async () => (await vigilPorts(other)).length === 0 && (await vigilPorts()).length === 1);
      expect(await connectionsSeries(agent, 'bus')).toBeUndefined();
    } finally {
      await agent.stop();
      await other.stop();
    }
    await waitFor('stop to close every connection', async () => (await vigilPorts()).length === 0);
  });
});

describe('mqtt, connection: persistent (a throw-away Mosquitto logging every connection and packet)', () => {
  let broker: Mosquitto;
  /** Broker lines: connection_messages and, at log_type debug, every packet it receives. */
  const BROKER_LINES = ['log_type debug'];
  /** Client ids of vigil's sessions the broker's log shows connecting so far. */
  const connected = (on = broker) => [...on.log().matchAll(/New client connected from \S+ as (vigil-[0-9a-f]{16})/g)].map((m) => m[1]!);
  const disconnected = (id: string, on = broker) => new RegExp(`Client ${id} (disconnected|closed its connection)`).test(on.log());
  const count = (pattern: RegExp, on = broker) => [...on.log().matchAll(pattern)].length;
  const check = (port: number, extra = '') => configOf({ broker: `{ type: mqtt, url: "mqtt://127.0.0.1:${port}"${extra} }` }).checks[0]!;

  beforeAll(async () => {
    broker = await startMosquitto({ lines: BROKER_LINES });
  });
  afterAll(() => broker?.stop());

  it('without roundTripTopic: one session serves every attempt, each a PINGREQ the broker answers; closeAll disconnects it', async () => {
    const runner = createRunner(kinds);
    const mqtt = check(broker.port);
    const before = connected().length;
    for (let i = 0; i < 20; i++) expect(await attempt(mqtt, runner.run)).toMatchObject({ ok: true });
    const ids = connected().slice(before);
    expect(ids).toHaveLength(1);
    // One PINGREQ per attempt (MQTT.js sends none of its own within its 60 s keepalive).
    expect(count(new RegExp(`Received PINGREQ from ${ids[0]}`, 'g'))).toBe(20);
    expect(runner.connections(mqtt)).toBe(1);
    await runner.closeAll();
    await waitFor('the session to end', () => disconnected(ids[0]!));
    expect(broker.log()).toMatch(new RegExp(`Client ${ids[0]} disconnected\\.`));
  });

  it('with roundTripTopic: one session serves every round trip, and leaves nothing on the broker (no retained message, no stored session)', async () => {
    const runner = createRunner(kinds);
    const mqtt = check(broker.port, ', roundTripTopic: "vigil/persistent"');
    const before = connected().length;
    for (let i = 0; i < 20; i++) expect(await attempt(mqtt, runner.run)).toMatchObject({ ok: true });
    const ids = connected().slice(before);
    expect(ids).toHaveLength(1);
    expect(count(new RegExp(`Received PUBLISH from ${ids[0]}`, 'g'))).toBe(20);
    expect(count(new RegExp(`Received SUBSCRIBE from ${ids[0]}`, 'g'))).toBe(20);
    await runner.closeAll();
    await waitFor('the session to end', () => disconnected(ids[0]!));
    // A clean session (c1 in the broker's words), kept for a minute between packets (k60).
    expect(broker.log()).toMatch(new RegExp(`New client connected from \\S+ as ${ids[0]} \\(p2, c1, k60\\)`));
    // Taking the client id back without a clean start finds no session stored, and no retained message is left.
    const again = connect(broker.url, { clientId: ids[0], clean: false, reconnectPeriod: 0 });
    try {
      const connack = await new Promise<IConnackPacket>((resolve, reject) => again.once('connect', resolve).once('error', reject));
      expect(connack.sessionPresent).toBe(false);
      const retained: string[] = [];
      again.on('message', (topic) => retained.push(topic));
      await again.subscribeAsync('vigil/#');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(retained).toEqual([]);
    } finally {
      await again.endAsync(true);
    }
  });

  it('5000 pings over one kept session leave the live heap flat; 50 round trips add no listener (no MaxListenersExceededWarning)', async () => {
    const runner = createRunner(kinds);
    const pinged = check(broker.port);
    const growth = await heapGrowthOver(5000, () => attempt(pinged, runner.run));
    expect(growth, `${(growth / MiB).toFixed(2)} MiB`).toBeLessThan(1 * MiB);
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const roundTrips = check(broker.port, ', roundTripTopic: "vigil/listeners"');
      for (let i = 0; i < 50; i++) expect(await attempt(roundTrips, runner.run)).toMatchObject({ ok: true });
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
    await runner.closeAll();
  }, 120_000);

  it('over TLS (mqtts://): one session, the certificate judged at every attempt', async () => {
    const secure = await startMosquitto({ lines: BROKER_LINES, tls: { certFile: certs().serverCert, keyFile: certs().serverKey } });
    try {
      const runner = createRunner(kinds);
      const mqtt = configOf({ broker: `{ type: mqtt, url: "${secure.url}", roundTripTopic: "vigil/tls", tls: { caFile: "${certs().ca}" } }` }).checks[0]!;
      const results = [];
      for (let i = 0; i < 10; i++) results.push(await attempt(mqtt, runner.run));
      expect(outcomes(results)).toEqual(Array(10).fill('pass'));
      for (const result of results) expect(result?.observation?.tlsLeafDaysLeft).toBeGreaterThan(20);
      const ids = connected(secure);
      expect(ids).toHaveLength(1);
      await runner.closeAll();
      await waitFor('the session to end', () => disconnected(ids[0]!, secure));
    } finally {
      await secure.stop();
    }
  });

  it('a restart between attempts costs no failure; a broker still down costs one, then it recovers; nothing reconnects in the background', async () => {
    let own = await startMosquitto({ lines: BROKER_LINES });
    const port = own.port;
    let runner: Runner | undefined;
    try {
      runner = createRunner(kinds);
      const mqtt = check(port);
      const results: (CheckResult | undefined)[] = [await attempt(mqtt, runner.run)];
      await own.stop();
      own = await startMosquitto({ lines: BROKER_LINES, port });
      results.push(await attempt(mqtt, runner.run));
      expect(outcomes(results)).toEqual(['pass', 'pass']);
      await own.stop();
      expect(await attempt(mqtt, runner.run)).toMatchObject({ ok: false, reason: 'connect_refused' });
      own = await startMosquitto({ lines: BROKER_LINES, port });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(connected(own)).toEqual([]);
      expect(await attempt(mqtt, runner.run)).toMatchObject({ ok: true });
      expect(connected(own)).toHaveLength(1);
    } finally {
      await runner?.closeAll();
      await own.stop();
    }
  });

  it('a reload that changes the check ends the old session; stop ends the kept one', async () => {
    const agent = createAgent(configOf({ broker: `{ type: mqtt, url: "mqtt://127.0.0.1:${broker.port}" }` }), { kinds, log: quiet(), version: 'test' });
    const before = connected().length;
    await agent.start({ listen: false });
    try {
      await waitFor('the kept session', () => connected().length === before + 1);
      const [first] = connected().slice(before);
      expect(await connectionsSeries(agent, 'broker')).toBe(1);
      await agent.reload(configOf({ broker: `{ type: mqtt, url: "mqtt://127.0.0.1:${broker.port}", roundTripTopic: "vigil/reload" }` }));
      await waitFor('the new session, and the old one ended', () => connected().length === before + 2 && disconnected(first!));
      const second = connected()[before + 1]!;
      await agent.stop();
      await waitFor('stop to end the kept session', () => disconnected(second));
    } finally {
      await agent.stop();
    }
  });
});
