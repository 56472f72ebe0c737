// The amqp check against the real RabbitMQ on this machine (guest/guest, vhost /): its options, the
// mapping of the broker's replies to reasons, TLS through a terminating proxy in front of the broker,
// and hand-made peers for what no broker does.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqp } from '../../checks/amqp.js';
import { kinds } from '../../checks/index.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { makeCertificates, type CertFiles } from '../helpers/certs.js';
import { frame, frames, startFakeBroker } from '../helpers/fake-amqp.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { freePort, waitFor } from '../helpers/net.js';
import { brokerConnections, closeConnectionFrom, vigilConnectionsFrom } from '../helpers/rabbitmq.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { AMQP_URL } from '../helpers/services.js';

const run = promisify(execFile);
const rabbitmqctl = (args: string[]) => run('rabbitmqctl', args, { timeout: 10_000, encoding: 'utf8' });
const broker = new URL(AMQP_URL);
const BROKER = `${broker.hostname}:${broker.port || 5672}`;
const at = (address: string, path = '') => `amqp://guest:guest@${address}${path}`;

/** A throw-away vhost on the shared broker, for what the default one cannot show. */
async function withVhost<T>(name: string, work: () => Promise<T>): Promise<T> {
  await rabbitmqctl(['add_vhost', name]);
  try {
    return await work();
  } finally {
    await rabbitmqctl(['delete_vhost', name]);
  }
}

describe('amqp check against a real RabbitMQ', () => {
  let admin: amqplib.ChannelModel;
  let channel: amqplib.Channel;
  const queue = `vigil-amqp-test-${process.pid}`;

  beforeAll(async () => {
    admin = await amqplib.connect(AMQP_URL);
    channel = await admin.createChannel();
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    channel.sendToQueue(queue, Buffer.from('one'));
    channel.sendToQueue(queue, Buffer.from('two'));
    await waitFor('both messages to be queued', async () => (await channel.checkQueue(queue)).messageCount === 2);
  });
  afterAll(async () => {
    await channel?.deleteQueue(queue);
    await admin?.close();
  });

  it('passes on a healthy broker: connect, open a channel, close (the default vhost with no path, with / and with %2F)', async () => {
    for (const path of ['', '/', '/%2F', '/%2f']) {
      const result = await runOnce(amqp, { url: at(BROKER, path) });
      expect(result, `${path}: ${result.message}`).toMatchObject({ ok: true });
    }
    // No user in the URL: guest:guest, as AMQP URIs define.
    expect(await runOnce(amqp, { url: `amqp://${BROKER}` })).toMatchObject({ ok: true });
  });

  it('queue: passes when the queue exists, reporting its message and consumer counts', async () => {
    const result = await runOnce(amqp, { url: at(BROKER), queue });
    expect(result, result.message).toMatchObject({ ok: true, observation: { messages: 2, consumers: 0 } });
  });

  it('queue: a missing queue fails with not_found, naming the queue and the vhost', async () => {
    const result = await runOnce(amqp, { url: at(BROKER), queue: 'no-such-queue-vigil' });
    expect(result).toMatchObject({ ok: false, reason: 'not_found' });
    expect(result.message).toContain('"no-such-queue-vigil"');
    expect(result.message).toContain('vhost "/"');
  });

  it('ACCESS_REFUSED: a wrong password or an unknown user fails with auth, the password never shown', async () => {
    for (const url of [`amqp://guest:Wr0ng-Pa55@${BROKER}`, `amqp://nobody-vigil:Wr0ng-Pa55@${BROKER}`]) {
      const result = await runOnce(amqp, { url });
      expect(result).toMatchObject({ ok: false, reason: 'auth' });
      expect(result.message).toMatch(/ACCESS_REFUSED/);
      expect(result.message).not.toContain('Wr0ng-Pa55');
    }
  });

  it('unknown vhost (NOT_ALLOWED): not_found, naming the vhost', async () => {
    const result = await runOnce(amqp, { url: at(BROKER, '/no-such-vhost-vigil') });
    expect(result).toMatchObject({ ok: false, reason: 'not_found' });
    expect(result.message).toContain('vhost "no-such-vhost-vigil"');
  });

  it('a vhost the user may not use (NOT_ALLOWED) fails with auth; a percent-encoded vhost name with / in it passes once permitted', async () => {
    const name = `vigil-amqp/${process.pid}`;
    const path = `/${encodeURIComponent(name)}`;
    await withVhost(name, async () => {
      const refused = await runOnce(amqp, { url: at(BROKER, path) });
      expect(refused).toMatchObject({ ok: false, reason: 'auth' });
      expect(refused.message).toContain(`vhost ${JSON.stringify(name)}`);
      await rabbitmqctl(['set_permissions', '-p', name, 'guest', '.*', '.*', '.*']);
      const permitted = await runOnce(amqp, { url: at(BROKER, path) });
      expect(permitted, permitted.message).toMatchObject({ ok: true });
    });
  });

  it('connection refused: connect_refused', async () => {
    expect(await runOnce(amqp, { url: at(`127.0.0.1:${await freePort()}`) })).toMatchObject({ ok: false, reason: 'connect_refused' });
  });

  it('handshake timeout: a server that accepts and never sends connection.start fails with timeout at the deadline, its socket closed', async () => {
    await expectTimeoutWithoutLeak(amqp, (port) => ({ url: at(`127.0.0.1:${port}`) }));
  });

  describe('as the broker sees it, through a proxy whose ports identify the check', () => {
    let proxy: FaultProxy;
    beforeAll(async () => {
      proxy = await startFaultProxy(broker.hostname, Number(broker.port || 5672));
    });
    afterAll(async () => proxy?.close());

    it('no heartbeats: the broker holds the connection with heartbeat 0, 4 KiB frames and one channel, and none is left after the attempt', async () => {
      // Each chunk held 150 ms: the connection stays open long enough to be seen.
      await proxy.set('latency', { delayMs: 150 });
      const running = runOnce(amqp, { url: at(`127.0.0.1:${proxy.port}`), queue }, 10_000);
      const { stdout } = await waitFor('the check to hold an open connection', async () => {
        const listed = await rabbitmqctl(['list_connections', '-q', '--no-table-headers', 'peer_port', 'timeout', 'frame_max', 'channel_max', 'client_properties', 'state']);
        const mine = listed.stdout.split('\n').filter((line) => proxy.upstreamPorts().includes(Number(line.split('\t')[0])) && line.endsWith('running'));
        return mine.length > 0 ? { stdout: mine } : undefined;
      });
      expect(stdout).toHaveLength(1);
      const [, heartbeat, frameMax, channelMax, properties] = stdout[0]!.split('\t');
      expect({ heartbeat, frameMax, channelMax }).toEqual({ heartbeat: '0', frameMax: '4096', channelMax: '1' });
      expect(properties).toContain('{"product","vigil"}');
      expect(await running).toMatchObject({ ok: true });
      await waitFor('the broker to drop the connection', async () => (await vigilConnectionsFrom(proxy.upstreamPorts())).length === 0, 10_000);
      await proxy.set('pass');
    });

    it('CONNECTION_FORCED: a broker closing the connection itself (shutting down, an operator) fails with not_serving', async () => {
      // Each chunk held a second: the broker's close comes while the attempt still runs.
      await proxy.set('latency', { delayMs: 1000 });
      const before = new Set(proxy.upstreamPorts());
      const running = runOnce(amqp, { url: at(`127.0.0.1:${proxy.port}`), queue }, 20_000);
      const port = await waitFor('the check to hold an open connection', async () => {
        const fresh = proxy.upstreamPorts().filter((p) => !before.has(p));
        const open = (await vigilConnectionsFrom(fresh)).find((c) => c.state === 'running');
        return open?.peerPort;
      });
      await closeConnectionFrom(port, 'vigil test: closed by an operator');
      const result = await running;
      await proxy.set('pass');
      expect(result).toMatchObject({ ok: false, reason: 'not_serving' });
      expect(result.message).toContain('closed by an operator');
    }, 30_000);

    it('leaves no connection on the broker after a pass, a missing queue and a refused login', async () => {
      await proxy.set('pass');
      const address = `127.0.0.1:${proxy.port}`;
      expect(await runOnce(amqp, { url: at(address) })).toMatchObject({ ok: true });
      expect(await runOnce(amqp, { url: at(address), queue: 'no-such-queue-vigil' })).toMatchObject({ reason: 'not_found' });
      expect(await runOnce(amqp, { url: `amqp://guest:nope@${address}` })).toMatchObject({ reason: 'auth' });
      await waitFor('every connection to close', async () => proxy.openConnections() === 0 && (await brokerConnections()).every((c) => !proxy.upstreamPorts().includes(c.peerPort)), 10_000);
    });
  });
});

describe('amqp check against hostile peers: protocol, the process unharmed', () => {
  async function peer(onConnection: (socket: Socket) => void) {
    const server = createNetServer((socket) => {
      socket.on('error', () => undefined);
      onConnection(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as { port: number }).port, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  it('garbage instead of the AMQP header: protocol, at once', async () => {
    const server = await peer((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n')));
    const result = await runOnce(amqp, { url: at(`127.0.0.1:${server.port}`) }, 2000);
    await server.close();
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toContain('not an AMQP 0-9-1 frame');
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('a broker of another AMQP version answers the header with its own: protocol, naming it', async () => {
    const server = await peer((socket) => socket.once('data', () => socket.end(Buffer.from('AMQP\u0001\u0001\u0000\u000a', 'latin1'))));
    const result = await runOnce(amqp, { url: at(`127.0.0.1:${server.port}`) }, 2000);
    await server.close();
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toContain('does not speak AMQP 0-9-1 (it offers 1-1-0-10)');
  });

  it('a frame declaring a huge size, during the handshake or after it: protocol from its header, nothing buffered', async () => {
    const huge = frame(1, 0, Buffer.alloc(0));
    huge.writeUInt32BE(0x7fffffff, 3);
    const header = huge.subarray(0, 7);
    for (const script of [{ onHeader: (s: Socket) => s.write(header) }, { onChannelOpen: (s: Socket) => s.write(header) }]) {
      const fake = await startFakeBroker(script);
      const heapBefore = process.memoryUsage().heapUsed;
      const result = await runOnce(amqp, { url: at(`127.0.0.1:${fake.port}`) }, 2000);
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toContain('declared a 2147483647-byte frame');
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(16 * 1024 * 1024);
      await waitFor('the socket to close', () => fake.openSockets() === 0);
      await fake.close();
    }
  });

  it('an unknown method, a frame that does not end right, a flood of heartbeats: protocol', async () => {
    const unknownMethod = frame(1, 0, Buffer.from([0x7f, 0x7f, 0x7f, 0x7f]));
    const badEnd = Buffer.from(frames.start);
    badEnd[badEnd.length - 1] = 0x00;
    const cases: [string, Parameters<typeof startFakeBroker>[0], RegExp][] = [
      ['unknown method', { onHeader: (s) => s.write(unknownMethod) }, /handshake/],
      ['bad frame end', { onHeader: (s) => s.write(badEnd) }, /does not end where its header says/],
      ['heartbeat flood', { onChannelOpen: (s) => s.write(Buffer.concat(Array.from({ length: 10_000 }, () => frames.heartbeat))) }, /more than 64 KiB/],
    ];
    for (const [name, script, message] of cases) {
      const fake = await startFakeBroker(script);
      const result = await runOnce(amqp, { url: at(`127.0.0.1:${fake.port}`) }, 2000);
      expect(result, name).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message, name).toMatch(message);
      await fake.close();
    }
  });

  it('a peer that closes the connection mid-handshake: protocol', async () => {
    const fake = await startFakeBroker({ onHeader: (s) => s.end(frames.start.subarray(0, 10)) });
    const result = await runOnce(amqp, { url: at(`127.0.0.1:${fake.port}`) }, 2000);
    await fake.close();
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('the hand-made broker itself passes (the hostile cases differ from it only where they say)', async () => {
    const fake = await startFakeBroker();
    expect(await runOnce(amqp, { url: at(`127.0.0.1:${fake.port}`) }, 2000)).toMatchObject({ ok: true });
    await fake.close();
  });
});

describe('amqps: the shared tls block, through a TLS-terminating proxy in front of the real broker', () => {
  let certs: CertFiles;
  let terminator: TlsServer;
  let tlsPort: number;

  beforeAll(async () => {
    certs = makeCertificates(mkdtempSync(join(tmpdir(), 'vigil-amqps-')));
    // Mutual TLS: a client certificate signed by the CA is required.
    terminator = createTlsServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true }, (secure) => {
      const upstream = connect({ host: broker.hostname, port: Number(broker.port || 5672) });
      secure.on('error', () => upstream.destroy());
      upstream.on('error', () => secure.destroy());
      secure.pipe(upstream).pipe(secure);
    });
    terminator.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve));
    tlsPort = (terminator.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => terminator?.close(resolve));
  });

  const url = () => `amqps://guest:guest@127.0.0.1:${tlsPort}/%2F`;
  const mutual = () => ({ caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });

  it('passes with the private CA and a client certificate, and checks a queue over TLS', async () => {
    const result = await runOnce(amqp, { url: url(), tls: mutual() });
    expect(result, result.message).toMatchObject({ ok: true });
    const missing = await runOnce(amqp, { url: url(), queue: 'no-such-queue-vigil', tls: mutual() });
    expect(missing).toMatchObject({ ok: false, reason: 'not_found' });
  });

  it('fails with tls for an untrusted CA or another server name', async () => {
    expect(await runOnce(amqp, { url: url(), tls: { ...mutual(), caFile: certs.otherCa } })).toMatchObject({ ok: false, reason: 'tls' });
    const wrongName = await runOnce(amqp, { url: url(), tls: { ...mutual(), serverName: 'rabbit.example.com' } });
    expect(wrongName).toMatchObject({ ok: false, reason: 'tls' });
    expect(wrongName.message).toContain('rabbit.example.com');
  });

  it('amqps:// to the plain broker: tls; amqp:// to a TLS port fails, and with tls and a hint where the port answers with a TLS alert', async () => {
    const tlsToPlain = await runOnce(amqp, { url: `amqps://guest:guest@${BROKER}/%2F` });
    expect(tlsToPlain).toMatchObject({ ok: false, reason: 'tls' });
    // Node's TLS server drops a connection that does not start with a TLS hello, without a word.
    expect(await runOnce(amqp, { url: at(`127.0.0.1:${tlsPort}`) })).toMatchObject({ ok: false, reason: 'protocol' });
    // A TLS alert record: unexpected_message.
    const alerting = createNetServer((socket) => socket.once('data', () => socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a]))));
    await new Promise<void>((resolve) => alerting.listen(0, '127.0.0.1', resolve));
    const plainToTls = await runOnce(amqp, { url: at(`127.0.0.1:${(alerting.address() as { port: number }).port}`) });
    await new Promise((resolve) => alerting.close(resolve));
    expect(plainToTls).toMatchObject({ ok: false, reason: 'tls' });
    expect(plainToTls.message).toContain('amqps://');
  });
});

describe('amqp driver loading', () => {
  it('amqplib is loaded only once an amqp check is prepared, never by the registry alone', async () => {
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((path) => path.includes('/node_modules/amqplib/'));
      const { kinds } = await import('./dist/checks/index.js');
      const before = loaded();
      await kinds.find((kind) => kind.type === 'amqp').prepare();
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' });
    expect(JSON.parse(stdout)).toEqual({ before: false, after: true });
  });
});

describe('amqp options', () => {
  const problems = (block: Record<string, unknown>) => {
    try {
      parseConfig(`checks:\n  mq: ${JSON.stringify({ type: 'amqp', ...block })}\n`, { kinds, env: {} });
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    }
  };

  it('url: the path is one percent-encoded vhost name; tuning parameters are ignored, others refused', () => {
    expect(problems({ url: 'amqp://rabbit/a/b' })).toEqual([expect.stringContaining('%2F')]);
    expect(problems({ url: 'amqp://rabbit/%zz' })).toEqual([expect.stringContaining('percent-encoding')]);
    expect(problems({ url: 'amqp://rabbit/%2F?heartbeat=30&frameMax=8192' })).toEqual([]);
    expect(problems({ url: 'amqp://rabbit/?auth_mechanism=external' })).toEqual([expect.stringContaining('"auth_mechanism"')]);
    expect(problems({ url: 'http://rabbit/' })).toEqual([expect.stringContaining('amqp://')]);
    expect(problems({ url: 'amqp://rabbit:99999/' })).toEqual([expect.stringContaining('port')]);
  });

  it('queue: a name AMQP can carry; tls: only with amqps://', () => {
    expect(problems({ url: 'amqp://rabbit', queue: '' }).length).toBe(1);
    expect(problems({ url: 'amqp://rabbit', queue: 'é'.repeat(128) })).toEqual([expect.stringContaining('255 bytes')]);
    expect(problems({ url: 'amqp://rabbit', tls: { insecureSkipVerify: true } })).toEqual([expect.stringContaining('amqps://')]);
    expect(problems({ url: 'amqps://rabbit', queue: 'orders', tls: { insecureSkipVerify: true } })).toEqual([]);
  });

  it('environment-only mode: VIGIL_CHECK_<NAME>=amqp://… or amqps://… is an amqp check, its password masked', () => {
    const config = parseConfig(undefined, { kinds, env: { VIGIL_CHECK_EVENTS: 'amqps://app:S3cret-Pw@rabbit:5671/orders' } });
    expect(config.checks[0]).toMatchObject({ name: 'events', type: 'amqp', options: { url: 'amqps://app:S3cret-Pw@rabbit:5671/orders' } });
    expect(JSON.stringify(config.secrets ?? [])).toContain('S3cret-Pw');
  });
});
