// connection: persistent for grpc, against throw-away grpc-js health servers (each in a process of
// its own) that count the HTTP/2 connections they accept: one connection per check serving every
// attempt, the same reasons as a fresh channel, replaced after a restart or a GOAWAY at the cost
// of one failure at most, never reconnected in the background, closed at reload, removal and stop.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpc } from '../../checks/grpc.js';
import { kinds } from '../../checks/index.js';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/log.js';
import { createRunner, type Runner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { makeCertificates } from '../helpers/certs.js';
import { chainOf, datedCertificates, daysFromNow } from '../helpers/dated-certs.js';
import { SERVING_STATUS, startGrpcHealthServer, type GrpcHealthServer } from '../helpers/grpc-health-server.js';
import { freePort, waitFor } from '../helpers/net.js';
import { runOnce } from '../helpers/run.js';

// A full collection on demand, for the live-heap measure.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

const quiet = () => createLogger({ level: 'error', write: () => undefined });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The agent's config for these checks: `blocks` maps a name to its YAML flow map. */
function configOf(blocks: Record<string, string>) {
  const checks = Object.entries(blocks).map(([name, block]) => `  ${name}: ${block}`).join('\n');
  return parseConfig(`defaults: { interval: 1s, timeout: 1s, connection: persistent }\nchecks:\n${checks}\n`, { kinds });
}
const checkOf = (block: string) => configOf({ api: block }).checks[0]!;
const fresh = (check: ReturnType<typeof checkOf>) => attempt({ ...check, connection: 'fresh' }, (c, ctx) => grpc.run(c.options, ctx));

const connectionsSeries = async (agent: ReturnType<typeof createAgent>, name: string) => {
  const text = Buffer.from(await agent.metrics.render()).toString();
  const line = text.split('\n').find((l) => l.startsWith(`vigil_check_connections{check="${name}",`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

const outcomes = (results: readonly (CheckResult | undefined)[]) => results.map((r) => (r?.ok ? 'pass' : `${r?.reason}: ${r?.message}`));

/** A CA and a server certificate for 127.0.0.1 and localhost (30 days), removed after the file's tests. */
const certsDir = mkdtempSync(join(tmpdir(), 'vigil-persistent-grpc-certs-'));
let certificates: ReturnType<typeof makeCertificates> | undefined;
const certs = () => (certificates ??= makeCertificates(certsDir));
afterAll(() => rmSync(certsDir, { recursive: true, force: true }));

describe('grpc, connection: persistent (a throw-away grpc-js health server)', () => {
  let server: GrpcHealthServer;

  beforeAll(async () => {
    await grpc.prepare?.();
    server = await startGrpcHealthServer({ statuses: { '': SERVING_STATUS.SERVING, 'orders.v1.Orders': SERVING_STATUS.SERVING, 'billing.v1.Billing': SERVING_STATUS.NOT_SERVING } });
  });
  afterAll(() => server?.stop());

  it('one HTTP/2 connection serves every attempt (one accepted by the server, the same client port throughout), and closeAll closes it', async () => {
    const runner = createRunner(kinds);
    const api = checkOf(`{ type: grpc, target: "127.0.0.1:${server.port}", service: orders.v1.Orders }`);
    const before = await server.accepted();
    const ports = new Set<number>();
    for (let i = 0; i < 20; i++) {
      expect(await attempt(api, runner.run)).toMatchObject({ ok: true, observation: { servingStatus: 'SERVING' } });
      for (const port of await server.openPorts()) ports.add(port);
    }
    expect((await server.accepted()) - before).toBe(1);
    expect(ports.size).toBe(1);
    expect(runner.connections(api)).toBe(1);
    // Each attempt asked the health service (the calls went over the kept connection).
    expect((await server.calls()).slice(-20).every((call) => call.service === 'orders.v1.Orders')).toBe(true);
    await runner.closeAll();
    await waitFor('the server to hold no session', async () => (await server.openPorts()).length === 0);
    expect(runner.connections(api)).toBe(0);
  });

  it('5000 attempts over one kept channel leave the live heap flat', async () => {
    const runner = createRunner(kinds);
    const api = checkOf(`{ type: grpc, target: "127.0.0.1:${server.port}" }`);
    const before = await server.accepted();
    // Warm-up: grpc-js's code compiled and optimised (run alone, 500 attempts leave ~0.4 MiB of that to the measure).
    for (let i = 0; i < 2000; i++) expect(await attempt(api, runner.run)).toMatchObject({ ok: true });
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    let failures = 0;
    for (let i = 0; i < 5000; i++) if (!(await attempt(api, runner.run))?.ok) failures++;
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    expect(failures).toBe(0);
    expect((await server.accepted()) - before).toBe(1);
    await runner.closeAll();
    console.log(`persistent grpc: live heap ${(heapBefore / MiB).toFixed(2)} -> ${((heapBefore + growth) / MiB).toFixed(2)} MiB over 5000 attempts`);
    expect(growth, `${(growth / MiB).toFixed(2)} MiB`).toBeLessThan(1 * MiB);
  }, 120_000);

  it('NOT_SERVING and an unknown service fail with the same reasons and messages kept as fresh; a failed connection is replaced, and a recovered service passes', async () => {
    const runner = createRunner(kinds);
    const billing = checkOf(`{ type: grpc, target: "127.0.0.1:${server.port}", service: billing.v1.Billing }`);
    const unknown = checkOf(`{ type: grpc, target: "127.0.0.1:${server.port}", service: nosuch.v1.Service }`);
    for (const [check, reason] of [[billing, 'not_serving'], [unknown, 'not_found']] as const) {
      const expected = await fresh(check);
      expect(expected).toMatchObject({ ok: false, reason });
      const kept = [await attempt(check, runner.run), await attempt(check, runner.run)];
      for (const result of kept) expect(result).toMatchObject({ ok: false, reason, message: expected!.message });
    }
    await server.setStatus('billing.v1.Billing', SERVING_STATUS.SERVING);
    try {
      expect(await attempt(billing, runner.run)).toMatchObject({ ok: true });
    } finally {
      await server.setStatus('billing.v1.Billing', SERVING_STATUS.NOT_SERVING);
    }
    await runner.closeAll();
    await waitFor('no session left', async () => (await server.openPorts()).length === 0);
  });

  it('a reload that changes the check closes the old connection; removal and stop close it', async () => {
    const other = await startGrpcHealthServer();
    const agent = createAgent(configOf({ api: `{ type: grpc, target: "127.0.0.1:${server.port}" }` }), { kinds, log: quiet(), version: 'test' });
    await agent.start({ listen: false });
    try {
      await waitFor('the kept connection', async () => (await server.openPorts()).length === 1);
      expect(await connectionsSeries(agent, 'api')).toBe(1);
      await agent.reload(configOf({ api: `{ type: grpc, target: "127.0.0.1:${other.port}" }` }));
      await waitFor('the new connection, and the old one closed', async () => (await server.openPorts()).length === 0 && (await other.openPorts()).length === 1);
      await agent.reload(configOf({ again: `{ type: grpc, target: "127.0.0.1:${server.port}" }` }));
      await waitFor('the removed check closed', async () => (await other.openPorts()).length === 0 && (await server.openPorts()).length === 1);
      expect(await connectionsSeries(agent, 'api')).toBeUndefined();
    } finally {
      await agent.stop();
      await other.stop();
    }
    await waitFor('stop to close every connection', async () => (await server.openPorts()).length === 0);
  });
});

describe('grpc, connection: persistent: a connection lost between attempts', () => {
  it('a restart between attempts costs no failure; a server still down costs one, then it recovers; nothing reconnects in the background', async () => {
    const port = await freePort();
    let own = await startGrpcHealthServer({ port });
    let runner: Runner | undefined;
    try {
      runner = createRunner(kinds);
      const api = checkOf(`{ type: grpc, target: "127.0.0.1:${port}" }`);
      const results: (CheckResult | undefined)[] = [await attempt(api, runner.run)];
      await own.stop();
      own = await startGrpcHealthServer({ port });
      // The kept connection died with the old server: the attempt opens a new one and passes.
      results.push(await attempt(api, runner.run));
      expect(outcomes(results)).toEqual(['pass', 'pass']);
      expect(await own.accepted()).toBe(1);
      await own.stop();
      expect(await attempt(api, runner.run)).toMatchObject({ ok: false, reason: 'connect_refused' });
      own = await startGrpcHealthServer({ port });
      // Nothing reconnected in the background while the next attempt was due.
      await sleep(1500);
      expect(await own.accepted()).toBe(0);
      expect(await attempt(api, runner.run)).toMatchObject({ ok: true });
      expect(await own.accepted()).toBe(1);
    } finally {
      await runner?.closeAll();
      await own.stop();
    }
  });

  it('a GOAWAY (the server\'s max connection age) ends the kept connection: grpc-js does not reconnect on its own, the next attempt opens one and passes', async () => {
    const aging = await startGrpcHealthServer({ maxConnectionAgeMs: 500 });
    const runner = createRunner(kinds);
    try {
      const api = checkOf(`{ type: grpc, target: "127.0.0.1:${aging.port}" }`);
      expect(await attempt(api, runner.run)).toMatchObject({ ok: true });
      expect(runner.connections(api)).toBe(1);
      // Age (0.5 s, jittered), then the grace for calls in progress (1 s): the server closes it.
      await waitFor('the server to close the connection', async () => (await aging.openPorts()).length === 0, 5000);
      await sleep(1000);
      expect(await aging.accepted()).toBe(1);
      expect(runner.connections(api)).toBe(0);
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await attempt(api, runner.run));
      expect(outcomes(results)).toEqual(['pass', 'pass', 'pass']);
      expect(await aging.accepted()).toBe(2);
    } finally {
      await runner.closeAll();
      await aging.stop();
    }
  });

  it('while the check fails against a peer that drops every connection, each attempt makes one connection at most and none is made between attempts', async () => {
    let accepted = 0;
    const dropping: NetServer = createNetServer((socket) => {
      accepted++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    const runner = createRunner(kinds);
    try {
      const api = checkOf(`{ type: grpc, target: "127.0.0.1:${(dropping.address() as { port: number }).port}" }`);
      for (let i = 0; i < 3; i++) {
        const before = accepted;
        const result = await attempt(api, runner.run);
        expect(result).toMatchObject({ ok: false, reason: 'protocol' });
        const during = accepted - before;
        // The core's backoff may hold an attempt back without opening anything.
        expect(during).toBeLessThanOrEqual(1);
        // grpc-js's own backoff is 1 s (jittered), the check's 10 ms: either would have reconnected by now.
        await sleep(1200);
        expect(accepted - before).toBe(during);
      }
      expect(accepted).toBeGreaterThanOrEqual(1);
    } finally {
      await runner.closeAll();
      await new Promise((resolve) => dropping.close(resolve));
    }
  });
});

describe('grpc over TLS: the certificate\'s expiry, kept and fresh', () => {
  let server: GrpcHealthServer;

  beforeAll(async () => {
    server = await startGrpcHealthServer({ tls: { certFile: certs().serverCert, keyFile: certs().serverKey } });
  });
  afterAll(() => server?.stop());

  it('kept: one connection, the certificate judged at every attempt', async () => {
    const runner = createRunner(kinds);
    const api = checkOf(`{ type: grpc, target: "grpcs://127.0.0.1:${server.port}", tls: { caFile: "${certs().ca}" } }`);
    const before = await server.accepted();
    const results = [];
    for (let i = 0; i < 10; i++) results.push(await attempt(api, runner.run));
    expect(outcomes(results)).toEqual(Array(10).fill('pass'));
    for (const result of results) {
      expect(result?.observation?.tlsLeafDaysLeft).toBeGreaterThan(20);
      expect(result?.observation?.tlsChainDaysLeft).toBeGreaterThan(20);
    }
    expect((await server.accepted()) - before).toBe(1);
    await runner.closeAll();
    await waitFor('no session left', async () => (await server.openPorts()).length === 0);
  });

  it('fresh: the days left reported; within warnBefore the check warns, within failBefore it fails with cert_expiry, kept as fresh', async () => {
    const options = { target: `127.0.0.1:${server.port}`, tls: { caFile: certs().ca } };
    const plain = await runOnce(grpc, options);
    expect(plain).toMatchObject({ ok: true, observation: { servingStatus: 'SERVING', tlsFirstToExpire: expect.any(String) } });
    expect(plain.observation?.tlsLeafDaysLeft).toBeGreaterThan(20);
    expect(plain.warning).toBeUndefined();
    const warned = await runOnce(grpc, { ...options, warnBefore: '60d' });
    expect(warned).toMatchObject({ ok: true, observation: { warning: expect.stringContaining('within warnBefore') } });
    const failed = await runOnce(grpc, { ...options, failBefore: '60d' });
    expect(failed).toMatchObject({ ok: false, reason: 'cert_expiry' });
    const runner = createRunner(kinds);
    try {
      const kept = await attempt(checkOf(`{ type: grpc, target: "127.0.0.1:${server.port}", tls: { caFile: "${certs().ca}" }, failBefore: 60d }`), runner.run);
      expect(kept).toMatchObject({ ok: false, reason: 'cert_expiry', message: failed.message });
    } finally {
      await runner.closeAll();
    }
  });

  it('a certificate that expired fails with cert_expiry (the handshake refused for its dates), kept as fresh', async () => {
    const dated = datedCertificates(mkdtempSync(join(certsDir, 'dated-')));
    const root = dated.root('vigil-grpc-root', { notAfter: daysFromNow(3650) });
    const leaf = root.issue('vigil-grpc-expired', { notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
    const chainFile = join(certsDir, 'expired-chain.pem');
    writeFileSync(chainFile, chainOf(leaf));
    const expired = await startGrpcHealthServer({ tls: { certFile: chainFile, keyFile: leaf.key } });
    const runner = createRunner(kinds);
    try {
      const block = `{ type: grpc, target: "grpcs://127.0.0.1:${expired.port}", tls: { caFile: "${root.cert}" } }`;
      expect(await fresh(checkOf(block))).toMatchObject({ ok: false, reason: 'cert_expiry' });
      expect(await attempt(checkOf(block), runner.run)).toMatchObject({ ok: false, reason: 'cert_expiry' });
    } finally {
      await runner.closeAll();
      await expired.stop();
    }
  });
});
