// Real sockets for tests: free ports, a server that accepts and never answers, HTTP upstreams, UDP peers.
import { createSocket } from 'node:dgram';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A UDP port of 127.0.0.1 nothing is bound to (a datagram sent there meets ICMP port unreachable). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

export interface UdpPeer {
  readonly port: number;
  /** Datagrams received in all. */
  received(): number;
  close(): Promise<void>;
}

/**
 * A UDP socket on 127.0.0.1 (on `port`, default any free one) that answers each datagram with what
 * `answer` returns for it (nothing: no answer). Without `answer` it never answers: a hung datagram
 * service. Rejects when the port is taken.
 */
export async function startUdpPeer(answer?: (datagram: Buffer) => Buffer | readonly Buffer[] | undefined, port = 0): Promise<UdpPeer> {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', (datagram, from) => {
    received++;
    const reply = answer?.(datagram);
    for (const message of reply === undefined ? [] : Buffer.isBuffer(reply) ? [reply] : (reply as readonly Buffer[])) {
      socket.send(message, from.port, from.address);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  return {
    port: socket.address().port,
    received: () => received,
    close: () => new Promise<void>((resolve) => socket.close(resolve)),
  };
}

export interface Blackhole {
  readonly port: number;
  /** Sockets currently open on the server side. */
  openSockets(): number;
  /** How many connections were accepted in all. */
  accepted(): number;
  close(): Promise<void>;
}

/** Accepts connections and never writes a byte: a hung dependency. */
export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    // Read and discard, so the peer's close is seen; never write.
    socket.resume();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    openSockets: () => sockets.size,
    accepted: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Upstream {
  readonly port: number;
  readonly url: string;
  requests(): number;
  close(): Promise<void>;
  readonly server: HttpServer;
}

/** An HTTP server on 127.0.0.1 answering with `handler`. */
export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Upstream> {
  let requests = 0;
  const server = createHttpServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    requests: () => requests,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Open file descriptors of this process that are sockets. */
export async function openSocketCount(pid: number | 'self' = 'self'): Promise<number> {
  const { readdir, readlink } = await import('node:fs/promises');
  const fds = await readdir(`/proc/${pid}/fd`);
  let count = 0;
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith('socket:')) count++;
  }
  return count;
}
