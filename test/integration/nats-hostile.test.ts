// The nats check against hand-made hostile servers: garbage instead of INFO, an INFO line that never
// ends, a huge MSG, replies nats.js cannot read. Each fails that attempt with `protocol`, within
// its deadline and after reading a bounded number of bytes, over TLS as in plain.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nats } from '../../checks/nats.js';
import { info, startFakeNats, type FakeNats, type FakeNatsScript } from '../helpers/fake-nats.js';
import { waitFor } from '../helpers/net.js';
import { runOnce } from '../helpers/run.js';
import { selfSignedCertificate } from '../helpers/tls.js';

let server: FakeNats | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function attemptAgainst(script: FakeNatsScript, options: Record<string, unknown> = {}, timeoutMs = 2000) {
  server = await startFakeNats(script);
  const started = Date.now();
  const result = await runOnce(nats, { url: server.url, ...options }, timeoutMs);
  return { ...result, elapsedMs: Date.now() - started };
}

/** Writes `chunk` until the peer is gone or `limit` bytes are written; resolves with the bytes written. */
function stream(socket: Socket, chunk: Buffer, limit: number, written: { bytes: number }): void {
  const next = () => {
    while (!socket.destroyed && written.bytes < limit) {
      written.bytes += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', next);
    }
  };
  next();
}

/** Answers the flush (the second PING; the first is CONNECT's) with `reply`. */
const onFlush = (reply: string | Buffer): FakeNatsScript => ({
  onPing: (socket, n) => socket.write(n === 1 ? 'PONG\r\n' : reply),
});

/** Answers the JetStream request with `reply(sid, inbox)`. */
const onJetStream = (reply: (sid: string, inbox: string) => string | Buffer): FakeNatsScript => ({
  onPublish: (socket, { subject, reply: inbox }, subscriptions) => {
    if (subject === '$JS.API.INFO' && inbox) socket.write(reply(subscriptions.get(inbox) ?? '1', inbox));
  },
});

describe('hostile NATS peers fail the attempt with protocol, never the process', () => {
  it('answers as a NATS server does, so the fake passes when nothing is wrong (jetstream included)', async () => {
    const answer = JSON.stringify({ type: 'io.nats.jetstream.api.v1.account_info_response', memory: 0, storage: 0, streams: 0, consumers: 0 });
    const result = await attemptAgainst(onJetStream((sid, inbox) => `MSG ${inbox} ${sid} ${answer.length}\r\n${answer}\r\n`), { jetstream: true });
    expect(result, result.message).toMatchObject({ ok: true });
    expect(server!.received().map((op) => op.op)).toEqual(['CONNECT', 'PING', 'PING', 'SUB', 'UNSUB', 'PUB']);
    expect(JSON.parse(server!.received()[0]!.args[0]!)).toMatchObject({ name: 'vigil', verbose: false, pedantic: false });
  });

  it('garbage instead of INFO: protocol at once', async () => {
    const result = await attemptAgainst({ greeting: Buffer.from('\u0000\u00ff\u00fe garbage \r\n', 'latin1') });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/starts no NATS operation/);
    expect(result.elapsedMs).toBeLessThan(1000);
  });

  it('an INFO line that never ends: protocol once 64 KiB of it is read, long before the deadline', async () => {
    const written = { bytes: 0 };
    const result = await attemptAgainst({
      greeting: (socket) => {
        socket.write('INFO {"server_id":"');
        stream(socket, Buffer.alloc(16 * 1024, 'x'), 64 * 1024 * 1024, written);
      },
    }, {}, 5000);
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/a control line \("INFO .*runs past 64 KiB/);
    expect(result.elapsedMs).toBeLessThan(2500);
    await waitFor('the peer to see the connection closed', () => server!.openConnections() === 0);
    expect(written.bytes).toBeLessThan(16 * 1024 * 1024);
  });

  it('a huge MSG: one declaring 100 MB fails at its header, before any of it is read', async () => {
    const result = await attemptAgainst(onFlush('MSG _INBOX.x 1 104857600\r\n'));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/a MSG declared a 104857600-byte payload; an attempt reads at most 1 MiB/);
  });

  it('MSGs past 1 MiB in all: protocol, the most one attempt reads', async () => {
    const payload = 'x'.repeat(60 * 1024);
    const written = { bytes: 0 };
    const result = await attemptAgainst({
      onPing: (socket, n) => {
        if (n === 1) socket.write('PONG\r\n');
        else stream(socket, Buffer.from(`MSG elsewhere 99 ${payload.length}\r\n${payload}\r\n`), 64 * 1024 * 1024, written);
      },
    }, {}, 5000);
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/sent more than 1 MiB, the most one attempt reads/);
  });

  const unreadable: Record<string, FakeNatsScript> = {
    'an INFO that is not JSON': { greeting: 'INFO {not json\r\n' },
    'an INFO without a server version': { greeting: 'INFO {"server_id":"X","proto":1}\r\n' },
    'an INFO that is a JSON array': { greeting: 'INFO [1,2]\r\n' },
    'a second INFO, after the connection opened, that is not JSON': onFlush('INFO {"version":\r\nPONG\r\n'),
    'an operation nats.js does not know (a PUB from the server)': onFlush('PUB x 0\r\n\r\nPONG\r\n'),
    'a MSG with a sid that is not a number': onFlush('MSG x sid 0\r\n\r\nPONG\r\n'),
    'a MSG longer than it declared': onFlush('MSG x 1 2\r\nabcdef\r\nPONG\r\n'),
    'an HMSG whose headers are longer than the message': onFlush('HMSG x 1 10 5\r\nNATS/1.0\r\n\r\nPONG\r\n'),
    'a line ending in LF alone': onFlush('PONG\n'),
  };
  for (const [name, script] of Object.entries(unreadable)) {
    it(`${name}: protocol, before the deadline`, async () => {
      const result = await attemptAgainst(script, {}, 3000);
      expect(result, result.message).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.elapsedMs).toBeLessThan(1500);
    });
  }

  it('a JetStream answer with a malformed header: protocol, not an exception of the client', async () => {
    const headers = 'NATS/1.0\r\nBad Key: value\r\n\r\n';
    const result = await attemptAgainst(onJetStream((sid, inbox) => `HMSG ${inbox} ${sid} ${headers.length} ${headers.length}\r\n${headers}\r\n`), { jetstream: true });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/answered \$JS\.API\.INFO with unreadable headers/);
  });

  it('a JetStream answer that is not JSON, or not account information: protocol', async () => {
    let result = await attemptAgainst(onJetStream((sid, inbox) => `MSG ${inbox} ${sid} 5\r\nhello\r\n`), { jetstream: true });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/which is not JSON/);
    await server!.close();
    result = await attemptAgainst(onJetStream((sid, inbox) => `MSG ${inbox} ${sid} 2\r\n{}\r\n`), { jetstream: true });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/expected JetStream account information/);
  });

  it('a server that closes the connection instead of answering the flush: protocol, at once', async () => {
    const result = await attemptAgainst({ onPing: (socket, n) => (n === 1 ? socket.write('PONG\r\n') : socket.end()) });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/closed the connection/);
    expect(result.elapsedMs).toBeLessThan(1000);
  });

  it('a server that never answers the flush: timeout at the deadline', async () => {
    const result = await attemptAgainst({ onPing: (socket, n) => void (n === 1 && socket.write('PONG\r\n')) }, {}, 400);
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(390);
    expect(result.elapsedMs).toBeLessThan(1200);
  });
});

describe('hostile NATS peers over TLS: the framing is followed after the upgrade too', () => {
  const certificate = selfSignedCertificate();

  it('a TLS fake answering right passes; one answering the flush with a 100 MB MSG fails at its header', async () => {
    const tls = { insecureSkipVerify: true };
    expect(await attemptAgainst({ tls: certificate }, { tls })).toMatchObject({ ok: true });
    await server!.close();
    const result = await attemptAgainst({ tls: certificate, ...onFlush('MSG _INBOX.x 1 104857600\r\n') }, { tls });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/a MSG declared a 104857600-byte payload/);
  });

  it('a server that requires TLS without a tls block: the certificate is verified against the system CAs', async () => {
    const result = await attemptAgainst({ tls: certificate });
    expect(result, result.message).toMatchObject({ ok: false, reason: 'tls' });
  });
});
