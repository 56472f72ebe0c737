// A server refusing a client for want of a certificate after a TLS 1.3 handshake (checks/support/
// tls.ts): the client may see only the connection lost, never the alert. Against node:tls servers
// on loopback that close every connection the moment its handshake completes, without an alert:
// the client sees a reset, a broken pipe or a bare close, as a real server's reset can leave it.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { connect, createServer, type Server, type TlsOptions } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchCertificateRefusal } from '../../../../checks/support/tls.js';
import { CheckError } from '../../../../src/errors.js';
import { makeCertificates, type CertFiles } from '../../../helpers/certs.js';

let certs: CertFiles;
let server: Server | undefined;
/** The server's connections: a half-closed one would hold its close. */
const connections = new Set<Socket>();
beforeAll(() => {
  certs = makeCertificates(mkdtempSync(join(tmpdir(), 'vigil-refusal-')));
});
afterEach(stopServer);

async function stopServer(): Promise<void> {
  for (const socket of connections) socket.destroy();
  connections.clear();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
}

const pem = (path: string) => readFileSync(path);

/** A TLS server that closes each connection once its handshake completed, after writing `first` if given. */
async function closingServer(options: TlsOptions, first?: string): Promise<number> {
  server = createServer({ cert: pem(certs.serverCert), key: pem(certs.serverKey), ca: pem(certs.ca), ...options }, (socket) => {
    socket.on('error', () => undefined);
    if (first === undefined) socket.destroy();
    else socket.end(first);
  });
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/**
 * Connects (with the client certificate if `withCertificate`), writes once the handshake is over as
 * a driver would, and resolves with what the watcher makes of the socket's error (or bare close).
 */
function attempt(port: number, withCertificate: boolean): Promise<{ refusal: CheckError | undefined; error: unknown }> {
  const socket = connect({ host: '127.0.0.1', port, ca: pem(certs.ca), ...(withCertificate ? { cert: pem(certs.clientCert), key: pem(certs.clientKey) } : {}) });
  const watcher = watchCertificateRefusal(socket, 'db 127.0.0.1:1');
  let error: unknown;
  socket.on('secureConnect', () => socket.write('PING\r\n'));
  socket.on('data', () => watcher.received());
  socket.on('error', (e) => (error ??= e));
  return new Promise((resolve) => socket.on('close', () => resolve({ refusal: watcher.refusal(), error })));
}

describe('certificate refusal after a TLS 1.3 handshake', () => {
  it('a server that asked for a certificate and got none: the connection lost is tls, whether reset, broken or closed', async () => {
    const port = await closingServer({ requestCert: true, rejectUnauthorized: false });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { refusal, error } = await attempt(port, false);
      seen.add(String((error as { code?: unknown } | undefined)?.code ?? 'close'));
      expect(refusal).toBeInstanceOf(CheckError);
      expect(refusal).toMatchObject({ reason: 'tls' });
      expect(refusal!.message).toMatch(/^TLS handshake with db 127\.0\.0\.1:1 failed: db 127\.0\.0\.1:1 closed the connection \((.*ECONNRESET|.*EPIPE|without an alert)\) right after the handshake, before it sent anything: it asked for a client certificate and none was sent/);
    }
    expect([...seen].every((code) => ['ECONNRESET', 'EPIPE', 'close'].includes(code)), [...seen].join()).toBe(true);
  });

  it('never guesses: no certificate asked for, a certificate sent, TLS 1.2, data received first, or the client ending the connection itself', async () => {
    const unasked = await closingServer({});
    expect((await attempt(unasked, false)).refusal).toBeUndefined();
    await stopServer();
    const asked = await closingServer({ requestCert: true, rejectUnauthorized: false });
    expect((await attempt(asked, true)).refusal).toBeUndefined();
    await stopServer();
    const older = await closingServer({ requestCert: true, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
    expect((await attempt(older, false)).refusal).toBeUndefined();
    await stopServer();
    const answering = await closingServer({ requestCert: true, rejectUnauthorized: false }, '+OK\r\n');
    expect((await attempt(answering, false)).refusal).toBeUndefined();
    await stopServer();
    // The signal holds against a server that keeps the connection open; the client's own end of it is no refusal.
    server = createServer({ cert: pem(certs.serverCert), key: pem(certs.serverKey), ca: pem(certs.ca), requestCert: true, rejectUnauthorized: false }, (socket) => {
      socket.on('error', () => undefined);
      connections.add(socket);
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    for (const ending of [undefined, new Error('the attempt timed out')]) {
      const socket = connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, ca: pem(certs.ca) });
      const watcher = watchCertificateRefusal(socket, 'db 127.0.0.1:1');
      socket.on('error', () => undefined);
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      expect(watcher.refusal()).toBeUndefined();
      socket.destroy(ending);
      await new Promise((resolve) => socket.once('close', resolve));
      expect(watcher.refusal()).toBeUndefined();
    }
  });
});
