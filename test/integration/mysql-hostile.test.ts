// The mysql check against hand-made hostile servers: a malformed greeting, a huge packet, packets
// out of sequence, an endless result fail that attempt with a reason, within its deadline and
// bounded memory; nothing reaches the process, and the driver prints nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mysql } from '../../checks/mysql.js';
import { eof, error, greeting, greetingPayload, ok, packet, resultHead, row, startFakeMySql, type FakeMySql, type MySqlScript } from '../helpers/fake-mysql.js';
import { runOnce } from '../helpers/run.js';

let server: FakeMySql | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function attemptAgainst(script: MySqlScript, timeoutMs = 2000, query?: string) {
  server = await startFakeMySql(script);
  const started = Date.now();
  const result = await runOnce(mysql, { url: server.url, ...(query ? { query } : {}) }, timeoutMs);
  return { ...result, elapsedMs: Date.now() - started };
}

const outcome = (result: { ok: boolean; reason?: string }) => (result.ok ? 'pass' : result.reason);

describe('a hostile MySQL peer fails the attempt with protocol', () => {
  it('the fake server passes when it behaves (the cases below differ from it in one thing each)', async () => {
    const result = await attemptAgainst({ onCommand: (socket) => socket.write(Buffer.concat([...resultHead(), row(4, 1), eof(5)])) });
    expect(outcome(result), result.message).toBe('pass');
  });

  it('malformed handshake: a greeting of another protocol version fails with protocol', async () => {
    const result = await attemptAgainst({ onConnect: (socket) => socket.write(packet(0, greetingPayload({ protocol: 9 }))) });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/does not speak the MySQL protocol \(its greeting starts with byte 9, expected protocol version 10\)/);
  });

  it('malformed handshake: a greeting cut short before its capabilities fails with protocol', async () => {
    const result = await attemptAgainst({ onConnect: (socket) => socket.write(packet(0, greetingPayload().subarray(0, 40))) });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/malformed greeting \(40 bytes\)/);
  });

  it('huge packet: a header declaring 16 MiB fails at the header, within a few ms, reading nothing more', async () => {
    const result = await attemptAgainst({
      onConnect: (socket) => {
        socket.write(Buffer.from([0xff, 0xff, 0xff, 0]));
        socket.write(Buffer.alloc(64 * 1024, 'x'));
      },
    });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/declared a 16777215-byte packet, more than the 1 MiB one attempt reads/);
    expect(result.elapsedMs).toBeLessThan(1000);
  });

  it('huge packet: a greeting larger than any server sends fails with protocol', async () => {
    const result = await attemptAgainst({ onConnect: (socket) => socket.write(packet(0, Buffer.concat([greetingPayload(), Buffer.alloc(20_000)]))) });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/greeting, more than the 16 KiB/);
  });

  it('an endless result in packets each below the limit fails with protocol once 1 MiB has arrived', async () => {
    const result = await attemptAgainst({
      onCommand: (socket) => {
        socket.write(Buffer.concat(resultHead()));
        let sequence = 4;
        const pump = () => {
          while (!socket.destroyed && socket.write(row(sequence++, 60_000)));
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      },
    });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/sent more than 1 MiB, the most one attempt reads/);
  });

  it('packets out of sequence fail with protocol at the first one, and the driver prints no warning', async () => {
    const printed = [vi.spyOn(console, 'error'), vi.spyOn(console, 'warn'), vi.spyOn(console, 'log')];
    try {
      const result = await attemptAgainst({ onLogin: (socket) => socket.write(Buffer.concat([ok(7), ok(8), ok(9)])) });
      expect(outcome(result), result.message).toBe('protocol');
      expect(result.message).toMatch(/sent a packet out of sequence \(number 7, expected 2\)/);
      for (const spy of printed) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of printed) spy.mockRestore();
    }
  });

  it('a packet no command asked for fails with protocol', async () => {
    const result = await attemptAgainst({ onCommand: (socket) => socket.write(Buffer.concat([ok(1), ok(2)])) });
    expect(outcome(result), result.message).toBe('protocol');
  });

  it('a server that closes the connection during the query fails with protocol', async () => {
    const result = await attemptAgainst({ onCommand: (socket) => socket.end() });
    expect(outcome(result), result.message).toBe('protocol');
    expect(result.message).toMatch(/closed the connection during the query/);
  });

  it('the process sees no exception from any of them', async () => {
    // mysql2 prints a stack trace (console.trace) before it throws on a length it cannot read; the
    // agent's logger takes console output in, and the test keeps its own output clean.
    const trace = vi.spyOn(console, 'trace').mockImplementation(() => undefined);
    const seen: unknown[] = [];
    const onError = (caught: unknown) => seen.push(caught);
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    try {
      const scripts: MySqlScript[] = [
        { onConnect: (socket) => socket.write(packet(0, greetingPayload({ protocol: 255 }))) },
        { onLogin: (socket) => socket.write(Buffer.concat([ok(3)])) },
        { onConnect: (socket) => socket.write(Buffer.from('\u0000\u00ff\u00fe garbage \r\n', 'latin1')) },
        { onCommand: (socket) => socket.write(Buffer.concat([packet(1, Buffer.from([0x02])), packet(2, Buffer.from([0x03, 0x64]))])) },
        { onCommand: (socket) => socket.write(Buffer.concat([...resultHead(), packet(4, Buffer.from([0xfd, 0xff]))])) },
      ];
      for (const script of scripts) {
        const result = await attemptAgainst(script, 1000);
        expect(result.ok, result.message).toBe(false);
        await server?.close();
        server = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      trace.mockRestore();
    }
  });

  it('a column definition cut short (the driver reads past its end) fails with protocol', async () => {
    const trace = vi.spyOn(console, 'trace').mockImplementation(() => undefined);
    try {
      const result = await attemptAgainst({ onCommand: (socket) => socket.write(Buffer.concat([packet(1, Buffer.from([0x02])), packet(2, Buffer.from([0x03, 0x64]))])) });
      expect(outcome(result), result.message).toBe('protocol');
    } finally {
      trace.mockRestore();
    }
  });
});

describe('a MySQL peer refusing the session', () => {
  it('an error in place of the greeting (host not allowed, 1130) fails with auth', async () => {
    const result = await attemptAgainst({ onConnect: (socket) => socket.end(error(0, 1130, 'HY000', "Host '10.0.0.5' is not allowed to connect to this MariaDB server")) });
    expect(outcome(result), result.message).toBe('auth');
    expect(result.message).toMatch(/not allowed to connect.*error 1130/);
  });

  it('an error in place of the greeting (too many connections, 1040) fails with connect_refused', async () => {
    const result = await attemptAgainst({ onConnect: (socket) => socket.end(error(0, 1040, '08004', 'Too many connections')) });
    expect(outcome(result), result.message).toBe('connect_refused');
  });

  it('a request for an authentication method the client lacks (ed25519) fails with auth', async () => {
    const result = await attemptAgainst({ onLogin: (socket) => socket.write(packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('client_ed25519\0abcdefghijklmnopqrstuvwxyz012345\0', 'latin1')]))) });
    expect(outcome(result), result.message).toBe('auth');
    expect(result.message).toMatch(/client_ed25519/);
  });

  it('a server that requires TLS the URL turned off (MySQL 3159) fails with tls', async () => {
    const result = await attemptAgainst({ onLogin: (socket) => socket.write(error(2, 3159, 'HY000', 'Connections using insecure transport are prohibited while --require_secure_transport=ON.')) });
    expect(outcome(result), result.message).toBe('tls');
  });

  it("the server's own time limit (MySQL 3024, MariaDB 1969) fails with timeout", async () => {
    for (const [errno, sqlState] of [[3024, 'HY000'], [1969, '70100']] as const) {
      const result = await attemptAgainst({ onCommand: (socket) => socket.write(error(1, errno, sqlState, 'Query execution was interrupted')) });
      expect(outcome(result), result.message).toBe('timeout');
      await server?.close();
      server = undefined;
    }
  });

  it('a login error that says neither who nor how many (1105, unknown error) fails with unknown', async () => {
    const result = await attemptAgainst({ onLogin: (socket) => socket.end(error(2, 1105, 'HY000', 'Unknown error')) });
    expect(outcome(result), result.message).toBe('unknown');
    expect(result.message).toMatch(/failed the login: Unknown error \(error 1105, SQLSTATE HY000\)/);
  });

  it('the server ending the session during the query (1927, connection killed) fails with protocol', async () => {
    const result = await attemptAgainst({ onCommand: (socket) => socket.end(error(1, 1927, '70100', 'Connection was killed')) });
    expect(outcome(result), result.message).toBe('protocol');
  });

  it('a server that offers TLS and then does not speak it fails with tls, PREFERRED included (no second connection in plain)', async () => {
    for (const mode of ['PREFERRED', 'REQUIRED']) {
      // Its answer to the TLS request is a plain OK packet, which no TLS client can read.
      server = await startFakeMySql({ onConnect: (socket) => socket.write(greeting({ tls: true })) });
      const result = await runOnce(mysql, { url: `${server.url}?ssl-mode=${mode}` });
      expect(outcome(result), result.message).toBe('tls');
      expect(result.message).toMatch(/TLS handshake with mysql 127\.0\.0\.1:\d+\/test failed/);
      await server.close();
      server = undefined;
    }
  });

  it('a server that offers no TLS when ssl-mode requires it fails with tls before sending credentials', async () => {
    server = await startFakeMySql({ onConnect: (socket) => socket.write(greeting()) });
    const result = await runOnce(mysql, { url: `${server.url.replace('root@', 'root:pw@')}?ssl-mode=REQUIRED` });
    expect(outcome(result), result.message).toBe('tls');
    // Nothing but what the TCP connection itself needs reached the server: no login packet.
    expect(server.received()).toBe(0);
  });
});
