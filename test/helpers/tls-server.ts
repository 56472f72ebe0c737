// A node:tls server on 127.0.0.1 serving a certificate chain: completes handshakes, answers nothing,
// and tells a test which SNI names it was sent and which connections are open.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';

export interface TlsServer {
  readonly port: number;
  /** The SNI names of the latest handshakes, in order ('' when none was sent). */
  readonly serverNames: string[];
  /** Handshakes completed, and handshakes that failed (a client that went away mid-handshake). */
  handshakes(): { readonly completed: number; readonly failed: number };
  /** Remote ports of the TCP connections open right now, handshaken or not. */
  openPorts(): number[];
  close(): Promise<void>;
}

/** Serves `chain` (PEM: the leaf, then its intermediates) with the key in `keyFile`. */
export async function startTlsServer(chain: Buffer, keyFile: string, extra: TlsOptions = {}): Promise<TlsServer> {
  const sockets = new Set<TLSSocket>();
  /** Every TCP connection open, by its remote port: counted from the accept, before any handshake. */
  const open = new Map<Socket, number>();
  const serverNames: string[] = [];
  let completed = 0;
  let failed = 0;
  const server = createServer({ cert: chain, key: readFileSync(keyFile), ...extra }, (socket) => {
    socket.resume();
  });
  server.on('connection', (raw: Socket) => {
    open.set(raw, raw.remotePort ?? 0);
    raw.on('error', () => undefined);
    raw.on('close', () => open.delete(raw));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    completed++;
    serverNames.push(typeof socket.servername === 'string' ? socket.servername : '');
    // The latest few: a server taking thousands of handshakes must not grow the test's heap.
    if (serverNames.length > 50) serverNames.shift();
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => void failed++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    serverNames,
    handshakes: () => ({ completed, failed }),
    openPorts: () => [...open.values()],
    async close() {
      for (const socket of sockets) socket.destroy();
      for (const raw of open.keys()) raw.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
