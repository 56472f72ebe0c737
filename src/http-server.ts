// The agent's listening socket: node:http with the limits a health endpoint needs against broken or
// hostile clients (a cap on connections, prompt header and request deadlines, one response at a time
// per connection with bounded pipelining), and dual-stack listening on the default address.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from './log.js';

export interface HttpServerOptions {
  /** Open connections at most; see `server.maxConnections`. */
  readonly maxConnections: number;
  readonly log: Logger;
}

/**
 * The request line and headers of a health request are a few hundred bytes, sent at once by every
 * real client: a connection still sending them after this long is closed (408).
 */
export const HEADERS_TIMEOUT_MS = 5_000;
/** How often Node looks for connections past the header and request deadlines (its default is 30 s). */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
/**
 * A connection on which nothing moves for this long is closed, e.g. a response its client never
 * reads (Node waits one period more while a write it started is still moving).
 */
export const IDLE_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * Requests read on one connection and not yet answered, at most. Browsers, curl, kubelet and
 * Prometheus never pipeline; a client that sends more than this without reading the answers is
 * closed.
 */
export const MAX_PIPELINED_REQUESTS = 16;

/** The unspecified IPv6 address: IPv6 and, through IPv4-mapped addresses, IPv4 too. */
export const DUAL_STACK_HOST = '::';
const IPV4_ANY = '0.0.0.0';
/** What listening on `::` fails with where IPv6 is turned off. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

interface Connection {
  /** Requests read whose response has not closed yet. */
  pending: number;
  /** A request is being answered: the next waits until its response is written out. */
  isAnswering: boolean;
  /** Requests read while another was being answered, in order. */
  readonly queue: (() => void)[];
}

/**
 * A node:http server that answers with `listener`. Connections beyond `maxConnections` make room by
 * closing the one that has waited longest without a request in progress (a slow or idle client);
 * when every connection is busy answering, the new one is closed.
 */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions): Server {
  const { maxConnections, log } = options;
  const server = createServer({
    requestTimeout: HEADERS_TIMEOUT_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  });
  server.timeout = IDLE_TIMEOUT_MS;

  const connections = new Map<Socket, Connection>();
  // Connections with no request in progress, oldest first (a Set keeps insertion order).
  const waiting = new Set<Socket>();
  const forget = (socket: Socket) => {
    connections.delete(socket);
    waiting.delete(socket);
  };
  const close = (socket: Socket) => {
    forget(socket);
    socket.destroy();
  };

  server.on('connection', (socket: Socket) => {
    if (connections.size >= maxConnections) {
      const oldest = waiting.values().next().value;
      if (oldest === undefined) {
        log.debug('connection refused: every connection is busy', { maxConnections });
        socket.destroy();
        return;
      }
      log.debug('connection closed to make room for a new one', { maxConnections });
      close(oldest);
    }
    const connection: Connection = { pending: 0, isAnswering: false, queue: [] };
    connections.set(socket, connection);
    waiting.add(socket);
    socket.once('close', () => forget(socket));
    stopParsingPastTheLimit(socket, () => {
      if (connection.pending < MAX_PIPELINED_REQUESTS) return false;
      log.debug('connection closed: too many pipelined requests', { limit: MAX_PIPELINED_REQUESTS });
      close(socket);
      return true;
    });
  });

  // Requests on one connection are answered one after another, each once the previous response is
  // written out (its 'close' comes after the socket took the last byte). A client that does not
  // read therefore holds one response, not one per request, and Node stops reading from it
  // as soon as its writes back up.
  const next = (socket: Socket, connection: Connection) => {
    connection.isAnswering = false;
    if (socket.destroyed) return;
    const run = connection.queue.shift();
    if (run) run();
    else if (connection.pending === 0) waiting.add(socket);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const connection = connections.get(socket);
    // A connection closed while Node was still parsing what it had read.
    if (!connection) return void socket.destroy();
    waiting.delete(socket);
    if (++connection.pending > MAX_PIPELINED_REQUESTS) return close(socket);
    res.once('close', () => {
      connection.pending--;
      next(socket, connection);
    });
    const run = () => {
      connection.isAnswering = true;
      void listener(req, res);
    };
    if (connection.isAnswering) connection.queue.push(run);
    else run();
  });
  return server;
}

/**
 * Node parses everything one read brought (up to 64 KiB: some 1,800 pipelined requests) before the
 * first 'request' listener can object, and keeps every parsed request until the connection closes.
 * Node's parser asks `parser.onIncoming` about each request as its headers end; answering 2 (what
 * Node answers for an upgrade) makes it stop parsing the rest of that read. When `isPastLimit`
 * says so, the request is dropped there. Without that hook (another Node), the 'request' listener
 * still enforces the limit, only later.
 */
function stopParsingPastTheLimit(socket: Socket, isPastLimit: () => boolean): void {
  const parser = (socket as Socket & { parser?: { onIncoming?: unknown } }).parser;
  if (typeof parser?.onIncoming !== 'function') return;
  const onIncoming = parser.onIncoming as (...args: unknown[]) => unknown;
  const STOP_PARSING = 2;
  parser.onIncoming = (...args: unknown[]) => (isPastLimit() ? STOP_PARSING : onIncoming(...args));
}

/**
 * Listens on host:port. The dual-stack default `::` falls back to 0.0.0.0 where IPv6 is turned off;
 * any other host is used as given.
 */
export async function listen(server: Server, port: number, host: string, log: Logger): Promise<AddressInfo> {
  try {
    await listenOnce(server, port, host);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (host !== DUAL_STACK_HOST || code === undefined || !NO_IPV6.has(code)) throw error;
    log.info(`IPv6 is not available (${code}); listening on IPv4 only`, { host: IPV4_ANY, port });
    await listenOnce(server, port, IPV4_ANY);
  }
  return server.address() as AddressInfo;
}

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
