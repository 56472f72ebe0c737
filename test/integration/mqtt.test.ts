// The mqtt check against the shared Mosquitto on 127.0.0.1:1883 (anonymous), throw-away brokers
// with users, an ACL, a connection limit and TLS, and a hand-made broker for what Mosquitto never
// answers (CONNACK return codes 1 to 4, a refused subscription, hostile packets).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { mqtt } from '../../checks/mqtt.js';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/parse.js';
import { makeCertificates, type CertFiles } from '../helpers/certs.js';
import { connack, packet, publish, readPublish, startFakeMqtt, type Answer, type FakeMqtt, type PacketName } from '../helpers/fake-mqtt.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { MQTT_URL as SHARED } from '../helpers/services.js';

const fakes: FakeMqtt[] = [];
afterEach(async () => {
  for (const fake of fakes.splice(0)) await fake.close();
});
async function fake(answers: Partial<Record<PacketName, Answer>>): Promise<FakeMqtt> {
  const server = await startFakeMqtt(answers);
  fakes.push(server);
  return server;
}

describe('mqtt check against the shared Mosquitto', () => {
  it('passes on the CONNACK alone, and with a probe message round trip on roundTripTopic', async () => {
    expect(await runOnce(mqtt, { url: SHARED })).toMatchObject({ ok: true });
    expect(await runOnce(mqtt, { url: SHARED, roundTripTopic: 'vigil/integration' })).toMatchObject({ ok: true });
  });

  it('fails with connect_refused on a closed port', async () => {
    const result = await runOnce(mqtt, { url: `mqtt://127.0.0.1:${await freePort()}` });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/^connection to mqtt 127\.0\.0\.1:\d+ refused/);
  });

  it('fails with dns for a host that does not resolve', async () => {
    const result = await runOnce(mqtt, { url: 'mqtt://no-such-broker.invalid:1883' }, 3000);
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.message).toMatch(/^cannot resolve the host of mqtt no-such-broker\.invalid:1883/);
  });

  it('fails at its timeout against a server that never answers, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(mqtt, (port) => ({ url: `mqtt://127.0.0.1:${port}`, roundTripTopic: 'vigil/integration' }));
  });

  it('fails with protocol when pointed at an HTTP server, saying it does not speak MQTT', async () => {
    const web = await startUpstream((_req, res) => res.writeHead(400).end('bad request'));
    try {
      const result = await runOnce(mqtt, { url: `mqtt://127.0.0.1:${web.port}` });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toMatch(/does not speak MQTT: a broker answers CONNECT with CONNACK, and its first byte was 0x48/);
    } finally {
      await web.close();
    }
  });

  it('fails with tls, before the deadline, for an mqtts:// URL to the plain broker', async () => {
    const result = await runOnce(mqtt, { url: SHARED.replace(/^mqtt:/, 'mqtts:'), tls: { insecureSkipVerify: true } }, 2000);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toMatch(/does the broker speak TLS on that port\?/);
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('leaves no timer, socket or handle behind: MQTT.js keepalive and CONNACK timers end with the attempt', async () => {
    const count = (kind: string) => process.getActiveResourcesInfo().filter((r) => r === kind).length;
    // A first attempt loads the driver.
    await runOnce(mqtt, { url: SHARED, roundTripTopic: 'vigil/integration' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = { timers: count('Timeout'), sockets: count('TCPSocketWrap') };
    for (let i = 0; i < 10; i++) {
      expect(await runOnce(mqtt, { url: SHARED, roundTripTopic: 'vigil/integration' })).toMatchObject({ ok: true });
      expect(await runOnce(mqtt, { url: `mqtt://127.0.0.1:${await freePort()}` })).toMatchObject({ ok: false });
    }
    await waitFor(
      'the attempts\' sockets and timers to go',
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return count('Timeout') <= before.timers && count('TCPSocketWrap') <= before.sockets;
      },
      3000,
    );
  });
});

describe('mqtt check against throw-away Mosquitto brokers', () => {
  let secured: Mosquitto;
  let certs: CertFiles;
  beforeAll(async () => {
    secured = await startMosquitto({
      users: { vigil: 'p@ss:w/rd', reader: 'reader-pw' },
      // vigil may use vigil/#; reader may only read vigil/readonly (and subscribe there).
      acl: 'user vigil\ntopic readwrite vigil/#\nuser reader\ntopic read vigil/readonly\n',
    });
    certs = makeCertificates(mkdtempSync(join(tmpdir(), 'vigil-mqtt-tls-')));
  });
  afterAll(async () => secured?.stop());
  const as = (user: string, password: string) => `mqtt://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${secured.port}`;

  it('connects as a client of its own each attempt (vigil- and 16 hex digits), in a clean session, with its timeout as keepalive', async () => {
    for (let i = 0; i < 3; i++) expect(await runOnce(mqtt, { url: as('vigil', 'p@ss:w/rd') }, 2000)).toMatchObject({ ok: true });
    // Mosquitto writes its log on its own time: wait for the three clients' last lines.
    const pattern = /New client connected from \S+ as (vigil-[0-9a-f]{16}) \(p2, c1, k2, u'vigil'\)/g;
    const ids = await waitFor('three clients in the broker log, each disconnected', () => {
      const seen = [...secured.log().matchAll(pattern)].map((m) => m[1]!);
      const ended = (id: string) => secured.log().includes(`Client ${id} disconnected`) || secured.log().includes(`Client ${id} closed its connection`);
      return seen.length >= 3 && seen.every(ended) ? seen : undefined;
    });
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    // DISCONNECT was sent: Mosquitto says "disconnected", not "closed its connection".
    for (const id of ids) expect(secured.log()).toContain(`Client ${id} disconnected.`);
  });

  it('reasons: auth without credentials or with a wrong password (CONNACK 5, not authorized); a percent-encoded password passes', async () => {
    const anonymous = await runOnce(mqtt, { url: secured.url });
    expect(anonymous).toMatchObject({ ok: false, reason: 'auth' });
    expect(anonymous.message).toBe(`mqtt 127.0.0.1:${secured.port} refused the connection (CONNACK return code 5: not authorized)`);
    expect(await runOnce(mqtt, { url: as('vigil', 'wrong') })).toMatchObject({ ok: false, reason: 'auth' });
    expect(await runOnce(mqtt, { url: as('vigil', 'p@ss:w/rd'), roundTripTopic: 'vigil/probe' })).toMatchObject({ ok: true });
  });

  it('reasons: a lost round trip is body, before the deadline, when the broker acknowledges the probe but an ACL drops it', async () => {
    const result = await runOnce(mqtt, { url: as('reader', 'reader-pw'), roundTripTopic: 'vigil/readonly' }, 1000);
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message).toMatch(/acknowledged the probe message published to "vigil\/readonly" but did not deliver it back within 9\d\d ms/);
    expect(result.durationMs).toBeGreaterThanOrEqual(850);
    expect(result.durationMs).toBeLessThan(1000);
    // Mosquitto grants a subscription its ACL denies, and never delivers on it: body too.
    expect(await runOnce(mqtt, { url: as('reader', 'reader-pw'), roundTripTopic: 'vigil/elsewhere' })).toMatchObject({ ok: false, reason: 'body' });
  });

  it('reasons: protocol, naming max_connections, when the broker closes the connection before its CONNACK', async () => {
    const full = await startMosquitto({ lines: ['max_connections 1'] });
    let holder: MqttClient | undefined;
    try {
      holder = await connectAsync(full.url, { clientId: 'holder', reconnectPeriod: 0 });
      const result = await runOnce(mqtt, { url: full.url });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      // Closed, or reset when Mosquitto closes with the CONNECT unread.
      expect(result.message).toMatch(new RegExp(`^mqtt 127\\.0\\.0\\.1:${full.port} (closed|reset) the connection before its CONNACK \\(a broker at its max_connections, or refusing this client, does so\\)$`));
    } finally {
      await holder?.endAsync(true);
      await full.stop();
    }
  });

  describe('over TLS (mqtts://, the shared tls block)', () => {
    let tlsBroker: Mosquitto;
    let mutualBroker: Mosquitto;
    beforeAll(async () => {
      tlsBroker = await startMosquitto({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey } });
      mutualBroker = await startMosquitto({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, requireCertificate: true } });
    });
    afterAll(async () => {
      await tlsBroker?.stop();
      await mutualBroker?.stop();
    });

    it('passes with the private CA, round trip included', async () => {
      expect(await runOnce(mqtt, { url: tlsBroker.url, roundTripTopic: 'vigil/tls', tls: { caFile: certs.ca } })).toMatchObject({ ok: true });
    });

    it('fails with tls when the certificate is signed by a CA not trusted, or names another server', async () => {
      expect(await runOnce(mqtt, { url: tlsBroker.url, tls: { caFile: certs.otherCa } })).toMatchObject({ ok: false, reason: 'tls' });
      expect(await runOnce(mqtt, { url: tlsBroker.url })).toMatchObject({ ok: false, reason: 'tls' });
      const wrongName = await runOnce(mqtt, { url: tlsBroker.url, tls: { caFile: certs.ca, serverName: 'broker.example.com' } });
      expect(wrongName).toMatchObject({ ok: false, reason: 'tls' });
      expect(wrongName.message).toContain('broker.example.com');
    });

    it('mutual TLS: passes with a client certificate, fails with tls without one', async () => {
      expect(await runOnce(mqtt, { url: mutualBroker.url, tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey } })).toMatchObject({ ok: true });
      expect(await runOnce(mqtt, { url: mutualBroker.url, tls: { caFile: certs.ca } })).toMatchObject({ ok: false, reason: 'tls' });
    });

    it('a CA file that cannot be read fails with tls, naming it', async () => {
      const result = await runOnce(mqtt, { url: tlsBroker.url, tls: { caFile: '/nonexistent/ca.pem' } });
      expect(result).toMatchObject({ ok: false, reason: 'tls' });
      expect(result.message).toContain('caFile /nonexistent/ca.pem');
    });
  });
});

describe('mqtt check: refusals Mosquitto does not send, from a hand-made broker', () => {
  it.each([
    [1, 'protocol', 'unacceptable protocol version'],
    [2, 'auth', 'identifier rejected'],
    [3, 'not_serving', 'server unavailable: the broker is up, its MQTT service is not'],
    [4, 'auth', 'bad user name or password'],
    [5, 'auth', 'not authorized'],
    [6, 'protocol', 'a return code MQTT 3.1.1 does not define'],
  ] as const)('CONNACK return code %i is %s', async (code, reason, words) => {
    const broker = await fake({ connect: connack(code) });
    const result = await runOnce(mqtt, { url: broker.url });
    expect(result).toMatchObject({ ok: false, reason });
    expect(result.message).toContain(`mqtt 127.0.0.1:${broker.port} refused the connection (CONNACK return code ${code}: ${words}`);
  });

  it('a subscription refused (SUBACK 0x80) is auth', async () => {
    const broker = await fake({ subscribe: (socket, p) => socket.write(packet(9, 0, Buffer.from([p.packetId! >> 8, p.packetId! & 0xff, 0x80]))) });
    const result = await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/refused the subscription to the probe's topic \(SUBACK 0x80\)/);
  });

  it('passes against the hand-made broker when it answers as Mosquitto does', async () => {
    const broker = await fake({});
    expect(await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' })).toMatchObject({ ok: true });
    await waitFor('the client to leave', () => broker.openSockets() === 0);
    expect(broker.received()).toEqual(['connect', 'subscribe', 'publish', 'unsubscribe', 'disconnect']);
  });

  it('the round trip does not wait for acknowledgements a broker holds back (Mosquitto\'s Nagle and the delayed ACK: 40 ms each)', async () => {
    // The PUBACK and the UNSUBACK come half a second late; the probe message itself at once.
    const late = (bytes: Buffer) => (socket: Socket) => void setTimeout(() => !socket.destroyed && socket.write(bytes), 500);
    const broker = await fake({
      publish: (socket, p) => {
        const { topic, payload } = readPublish(p);
        socket.write(publish(topic, payload));
        late(packet(4, 0, Buffer.from([p.packetId! >> 8, p.packetId! & 0xff])))(socket);
      },
      unsubscribe: (socket, p) => late(packet(11, 0, Buffer.from([p.packetId! >> 8, p.packetId! & 0xff])))(socket),
    });
    const result = await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' }, 2000);
    expect(result).toMatchObject({ ok: true });
    expect(result.durationMs).toBeLessThan(400);
  });

  it('a round trip the broker neither acknowledges nor delivers is a timeout: the broker has stopped answering', async () => {
    const broker = await fake({ publish: () => undefined });
    expect(await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' }, 500)).toMatchObject({ ok: false, reason: 'timeout' });
  });

  it('ignores messages on the topic that are not its own probe (a retained message, another agent\'s probe)', async () => {
    const broker = await fake({
      subscribe: (socket, p) => {
        socket.write(packet(9, 0, Buffer.from([p.packetId! >> 8, p.packetId! & 0xff, 0])));
        socket.write(publish('vigil/probe', Buffer.from('vigil probe vigil-0000000000000000')));
      },
      publish: (socket, p) => {
        socket.write(packet(4, 0, Buffer.from([p.packetId! >> 8, p.packetId! & 0xff])));
        socket.write(publish('vigil/other', readPublish(p).payload));
      },
    });
    const result = await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' }, 1000);
    expect(result).toMatchObject({ ok: false, reason: 'body' });
  });
});

describe('mqtt check: hostile peers fail with protocol at once, whatever they send', () => {
  /** Writes `head`, then as many bytes of `fill` as the client will take. */
  const endless = (head: Buffer, fill: Buffer) => (socket: Socket) => {
    socket.write(head);
    const pump = () => {
      while (!socket.destroyed && socket.write(fill));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  };
  const TWO_HUNDRED_FIFTY_SIX_MB = Buffer.from([0xff, 0xff, 0xff, 0x7f]);

  it.each([
    ['garbage instead of a CONNACK', { connect: Buffer.from('\u0000\u00ff garbage\r\n', 'latin1') }, /its first byte was 0x00/],
    ['a CONNACK declaring 256 MB', { connect: endless(Buffer.concat([Buffer.from([0x20]), TWO_HUNDRED_FIFTY_SIX_MB]), Buffer.alloc(65536)) }, /declared a 268435455-byte CONNACK, more than the 1 MiB one attempt reads/],
    ['a PUBLISH declaring 256 MB after the SUBACK', { subscribe: endless(Buffer.concat([packet(9, 0, Buffer.from([0, 1, 0])), Buffer.from([0x30]), TWO_HUNDRED_FIFTY_SIX_MB]), Buffer.alloc(65536, 1)) }, /declared a 268435455-byte PUBLISH/],
    ['a remaining length of five bytes', { connect: Buffer.from([0x20, 0x80, 0x80, 0x80, 0x80, 0x01]) }, /remaining length longer than the four bytes MQTT allows/],
    ['a malformed CONNACK (remaining length 3)', { connect: packet(2, 0, Buffer.from([0, 0, 0])) }, /malformed CONNACK \(remaining length 3, expected 2\)/],
    ['a second CONNACK', { connect: Buffer.concat([connack(0), connack(0)]) }, /sent a second CONNACK/],
    ['a CONNECT sent to the client', { connect: Buffer.concat([connack(0), packet(1, 0, Buffer.alloc(10))]) }, /sent a CONNECT packet, which a broker never sends this client/],
    ['a DISCONNECT (MQTT 5) sent to the client', { connect: Buffer.concat([connack(0), packet(14, 0)]) }, /sent a DISCONNECT packet/],
    ['a message at QoS 2 on a QoS 0 subscription', { subscribe: Buffer.concat([packet(9, 0, Buffer.from([0, 1, 0])), packet(3, 4, Buffer.from([0, 1, 0x61, 0, 7, 0x78]))]) }, /delivered a message at QoS 2 on a subscription at QoS 0/],
    ['a SUBACK with reserved flags', { subscribe: packet(9, 2, Buffer.from([0, 1, 0])) }, /sent a SUBACK with reserved flags set/],
    ['endless small messages on other topics', { subscribe: endless(packet(9, 0, Buffer.from([0, 1, 0])), publish('other', Buffer.alloc(1000, 0x61))) }, /sent more than 1 MiB, the most one attempt reads/],
    ['a CONNACK flag byte that MQTT 3.1.1 reserves', { connect: packet(2, 0, Buffer.from([0xfe, 0])) }, /broke the MQTT protocol: Invalid connack flags/],
  ] as const)('%s', async (_name, answers, message) => {
    const broker = await fake(answers as Partial<Record<PacketName, Answer>>);
    const started = Date.now();
    const result = await runOnce(mqtt, { url: broker.url, roundTripTopic: 'vigil/probe' }, 2000);
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(message);
    expect(Date.now() - started).toBeLessThan(1000);
    await waitFor('the hostile connection to close', () => broker.openSockets() === 0);
  });
});

describe('mqtt check options', () => {
  const problems = (yaml: string) => {
    try {
      parseConfig(yaml, { kinds });
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
      throw error;
    }
    return [];
  };

  it('refuses URLs and topics no attempt could use, and a tls block on a plain mqtt:// URL', () => {
    expect(
      problems(
        [
          'checks:',
          '  a: { type: mqtt, url: "mqtt://broker:1883/sensors" }',
          '  b: { type: mqtt, url: "mqtt://broker:1883?clientId=x" }',
          '  c: { type: mqtt, url: "mqtt://broker:99999" }',
          '  d: { type: mqtt, url: "amqp://broker" }',
          '  e: { type: mqtt, url: "mqtt://broker", roundTripTopic: "vigil/#" }',
          '  f: { type: mqtt, url: "mqtt://broker", roundTripTopic: "$SYS/probe" }',
          '  g: { type: mqtt, url: "mqtt://broker", roundTripTopic: "" }',
          '  h: { type: mqtt, url: "mqtt://broker", tls: { caFile: /ca.pem } }',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      'checks.a.url: "mqtt://broker:1883/sensors" has a path ("/sensors"), which means nothing to an MQTT connection: the probe\'s topic is roundTripTopic',
      'checks.b.url: "mqtt://broker:1883?clientId=***" has a query or fragment, which means nothing to an MQTT connection',
      'checks.c.url: "mqtt://broker:99999" has port "99999": a port is a number from 1 to 65535',
      'checks.d.url: "amqp://broker" must be an mqtt:// or mqtts:// URL',
      'checks.e.roundTripTopic: "vigil/#" holds a wildcard (+ or #): the probe is published to it, so it must name one topic',
      'checks.f.roundTripTopic: "$SYS/probe" starts with $, which marks topics of the broker itself ($SYS): clients cannot publish there',
      'checks.g.roundTripTopic: "" must not be empty',
      'checks.h.url: "mqtt://broker" is plain mqtt://, and the tls block applies to mqtts:// URLs only',
    ]);
  });

  it('environment-only mode: VIGIL_CHECK_<NAME>=mqtt://… and mqtts://… are mqtt checks', () => {
    const config = parseConfig(undefined, { kinds, env: { VIGIL_CHECK_BROKER: 'mqtt://vigil:pw@broker:1883', VIGIL_CHECK_SECURE: 'mqtts://broker:8883' } });
    expect(config.checks.map((c) => [c.name, c.type, c.options])).toEqual([
      ['broker', 'mqtt', { url: 'mqtt://vigil:pw@broker:1883' }],
      ['secure', 'mqtt', { url: 'mqtts://broker:8883' }],
    ]);
  });
});
