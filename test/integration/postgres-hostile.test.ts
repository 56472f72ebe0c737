// The postgres check against hand-made hostile servers: a malformed reply or an endless one fails
// that attempt with a reason, within its deadline and bounded memory, and nothing reaches the process.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../checks/postgres.js';
import {
  authenticationOk,
  dataRow,
  flood,
  header,
  int16,
  int32,
  message,
  readyForQuery,
  rowDescription,
  startFakePostgres,
  type FakePostgres,
  type Script,
  type FakeOptions,
} from '../helpers/fake-postgres.js';
import { makeCertificates } from '../helpers/certs.js';
import { runOnce } from '../helpers/run.js';

let server: FakePostgres | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function attemptAgainst(script: Script, timeoutMs = 2000, fakeOptions: FakeOptions = {}, params = '') {
  server = await startFakePostgres(script, fakeOptions);
  const started = Date.now();
  const result = await runOnce(postgres, { url: `${server.url}${params}` }, timeoutMs);
  return { ...result, elapsedMs: Date.now() - started };
}

/** A server that logs the client in and then answers every query with `reply`. */
const afterLogin = (reply: (socket: import('node:net').Socket) => void): Script => ({
  onStartup: (socket) => socket.write(Buffer.concat([authenticationOk(), readyForQuery()])),
  onQuery: (socket) => reply(socket),
});

describe('a malformed PostgreSQL reply kills the whole agent', () => {
  it('an AuthenticationGSS request (R, code 7) fails the attempt with auth, naming GSSAPI', async () => {
    const result = await attemptAgainst({ onStartup: (socket) => socket.write(message('R', int32(7))) });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/GSSAPI\/SSPI authentication, which vigil does not support/);
  });

  it('an AuthenticationSSPI request (R, code 9) fails the attempt with auth', async () => {
    const result = await attemptAgainst({ onStartup: (socket) => socket.write(message('R', int32(9))) });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/GSSAPI\/SSPI/);
  });

  it('an R message with length 0 fails the attempt with protocol', async () => {
    const result = await attemptAgainst({ onStartup: (socket) => socket.write(Buffer.concat([header('R', 0), int32(0), readyForQuery()])) });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('an unknown authentication request fails the attempt with protocol', async () => {
    const result = await attemptAgainst({ onStartup: (socket) => socket.write(message('R', int32(42))) });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('a DataRow claiming 65,535 fields fails the attempt with protocol', async () => {
    const result = await attemptAgainst(afterLogin((socket) => socket.write(Buffer.concat([rowDescription(), message('D', Buffer.concat([int16(65535), int32(1), Buffer.from('x')]))]))));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('the process sees no exception from any of them', async () => {
    const seen: unknown[] = [];
    const onError = (error: unknown) => seen.push(error);
    process.on('uncaughtException', onError);
    try {
      for (const code of [7, 9]) await attemptAgainst({ onStartup: (socket) => socket.write(message('R', int32(code))) }).finally(() => server?.close());
      await attemptAgainst({ onStartup: (socket) => socket.write(Buffer.concat([header('R', 0), int32(0)])) });
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(seen).toEqual([]);
  });
});

describe('attempts are bounded in time but not in memory', () => {
  it('a message declaring 2 GB fails at once with protocol, naming the limit', async () => {
    const result = await attemptAgainst(afterLogin((socket) => {
      socket.write(header('D', 0x7fffffff));
      flood(socket, Buffer.alloc(64 * 1024, 'x'));
    }));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/1 MiB/);
    expect(result.elapsedMs).toBeLessThan(1500);
  });

  it('an endless stream of rows fails with protocol once the attempt received 1 MiB', async () => {
    const rows = Buffer.concat(Array.from({ length: 64 }, () => dataRow('y'.repeat(1000))));
    const result = await attemptAgainst(afterLogin((socket) => {
      socket.write(rowDescription());
      flood(socket, rows);
    }));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.message).toMatch(/more than 1 MiB/);
    expect(result.elapsedMs).toBeLessThan(1500);
  });
});

describe('a malformed PostgreSQL reply kills the whole agent: over TLS too', () => {
  let dir: string;
  let tls: { cert: Buffer; key: Buffer };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-certs-'));
    const files = makeCertificates(dir);
    tls = { cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const overTls = (script: Script) => attemptAgainst(script, 2000, { tls }, '?sslmode=require');

  it('an AuthenticationGSS request after the TLS handshake fails with auth', async () => {
    expect(await overTls({ onStartup: (socket) => socket.write(message('R', int32(7))) })).toMatchObject({ ok: false, reason: 'auth' });
  });

  it('a DataRow claiming 65,535 fields over TLS fails with protocol', async () => {
    const result = await overTls(afterLogin((socket) => socket.write(Buffer.concat([rowDescription(), message('D', Buffer.concat([int16(65535), int32(1), Buffer.from('x')]))]))));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
  });

  it('a message declaring 2 GB over TLS fails at once with protocol', async () => {
    const result = await overTls(afterLogin((socket) => {
      socket.write(header('D', 0x7fffffff));
      flood(socket, Buffer.alloc(64 * 1024, 'x'));
    }));
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    expect(result.elapsedMs).toBeLessThan(1500);
  });

  it('a healthy fake over TLS passes (the handshake itself works)', async () => {
    const result = await overTls(afterLogin((socket) => socket.write(Buffer.concat([message('C', 'SELECT 1\0'), readyForQuery()]))));
    expect(result).toMatchObject({ ok: true });
  });
});
