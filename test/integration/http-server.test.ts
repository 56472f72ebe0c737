// The agent's listening socket over real connections: pipelined requests answered one at a time
// and bounded, the connection cap making room by closing the longest-waiting idle connection, a
// response nobody reads closed after the idle timeout, and the dual-stack default's fallback.
import { Server as HttpServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer, IDLE_TIMEOUT_MS, listen, MAX_PIPELINED_REQUESTS } from '../../src/http-server.js';
import { createLogger } from '../../src/log.js';
import { waitFor } from '../helpers/net.js';

const lines: string[] = [];
const log = createLogger({ level: 'debug', write: (line) => lines.push(line) });
const servers: HttpServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  lines.length = 0;
});

async function serve(listener: RequestListener, maxConnections = 256): Promise<number> {
  const server = createHttpServer(listener, { maxConnections, log });
  servers.push(server);
  return (await listen(server, 0, '127.0.0.1', log)).port;
}

/** A raw client: what it received, and whether the server closed it. */
function client(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const state = { received: '', isClosed: false, socket };
  socket.on('data', (d) => (state.received += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (state.isClosed = true));
  return state;
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: vigil\r\n\r\n`;

describe('pipelined requests', () => {
  it('are answered in order, one at a time per connection', async () => {
    let running = 0;
    let mostRunning = 0;
    const port = await serve((req, res) => {
      mostRunning = Math.max(mostRunning, ++running);
      setTimeout(() => {
        running--;
        res.end(`answer to ${req.url}\n`);
      }, 20);
    });
    const c = client(port);
    c.socket.write([1, 2, 3, 4, 5].map((n) => request(`/${n}`)).join(''));
    await waitFor('five answers', () => (c.received.match(/answer to/g) ?? []).length === 5);
    expect([...c.received.matchAll(/answer to \/(\d)/g)].map((m) => m[1])).toEqual(['1', '2', '3', '4', '5']);
    expect(mostRunning).toBe(1);
    expect(c.isClosed).toBe(false);
  });

  it(`close a connection that pipelines more than ${MAX_PIPELINED_REQUESTS} without reading, parsing no further`, async () => {
    let seen = 0;
    const port = await serve((_req, res) => {
      seen++;
      res.end('ok');
    });
    const c = client(port);
    c.socket.pause(); // never reads
    c.socket.write(request('/metrics').repeat(3000));
    await waitFor('the connection to be closed', () => lines.some((line) => line.includes('too many pipelined requests')));
    expect(seen).toBeLessThanOrEqual(MAX_PIPELINED_REQUESTS);
    c.socket.resume();
    await waitFor('the client to see the close', () => c.isClosed);
  });

  it('close a connection whose client does not read its answer once nothing moves for the idle timeout', async () => {
    // Far more than the kernel's socket buffers hold: the response stays partly unwritten.
    const body = Buffer.alloc(64 * 1024 * 1024, 'x');
    const port = await serve((_req, res) => res.end(body));
    // The client never reads, so it cannot see the close: watch the agent's side of the connection.
    let closedAt: number | undefined;
    servers[0]!.once('connection', (socket: Socket) => socket.once('close', () => (closedAt = Date.now())));
    const c = client(port);
    c.socket.pause();
    c.socket.write(request('/metrics'));
    const started = Date.now();
    // Node lets a socket's timeout pass once more when its write queue moved since the last one:
    // the close comes one to two idle timeouts after the last byte left.
    await waitFor('the connection to be closed', () => closedAt !== undefined, 2 * IDLE_TIMEOUT_MS + 10_000, 200);
    expect(closedAt! - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 1000);
  }, 60_000);
});

describe('connection cap', () => {
  it('closes the connection that waited longest without a request to make room for a new one', async () => {
    const port = await serve((_req, res) => res.end('ok'), 4);
    const idle: ReturnType<typeof client>[] = [];
    for (let i = 0; i < 4; i++) {
      idle.push(client(port));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const fresh = client(port);
    fresh.socket.write('GET / HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n');
    await waitFor('the new connection answered', () => fresh.isClosed);
    expect(fresh.received).toMatch(/^HTTP\/1\.1 200/);
    await waitFor('the oldest idle connection closed', () => idle[0]!.isClosed);
    expect(idle.slice(1).map((c) => c.isClosed)).toEqual([false, false, false]);
  });

  it('refuses a new connection when every connection is busy answering', async () => {
    const held: ServerResponse[] = [];
    const port = await serve((_req: IncomingMessage, res) => void held.push(res), 2);
    const busy = [client(port), client(port)];
    for (const c of busy) c.socket.write(request('/slow'));
    await waitFor('both requests in progress', () => held.length === 2);
    const extra = client(port);
    await waitFor('the extra connection closed', () => extra.isClosed);
    expect(extra.received).toBe('');
    expect(busy.map((c) => c.isClosed)).toEqual([false, false]);
    for (const res of held) res.end('done');
    await waitFor('the busy ones answered', () => busy.every((c) => c.received.includes('done')));
  });
});

describe('listening', () => {
  it('uses an explicit host as given, even when it cannot be bound', async () => {
    const server = createHttpServer((_req, res) => res.end(), { maxConnections: 1, log });
    // 192.0.2.0/24 is TEST-NET-1; .254 is not an address of this machine.
    await expect(listen(server, 0, '192.0.2.254', log)).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });

  it('falls back from :: to 0.0.0.0 where IPv6 is turned off', async () => {
    // A kernel without IPv6 is not at hand: this server fails on :: the way such a kernel does.
    class NoIpv6 extends HttpServer {
      override listen(...args: unknown[]): this {
        if (args[1] === '::') {
          process.nextTick(() => this.emit('error', Object.assign(new Error('listen EAFNOSUPPORT: address family not supported ::'), { code: 'EAFNOSUPPORT' })));
          return this;
        }
        return super.listen(...(args as Parameters<HttpServer['listen']>));
      }
    }
    const server = new NoIpv6((_req, res) => res.end('ok'));
    servers.push(server);
    const address = await listen(server, 0, '::', log);
    expect(address.address).toBe('0.0.0.0');
    expect(lines.some((line) => /IPv6 is not available \(EAFNOSUPPORT\)/.test(line))).toBe(true);
    const res = await fetch(`http://127.0.0.1:${address.port}/`);
    expect(await res.text()).toBe('ok');
  });
});
