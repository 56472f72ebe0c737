// A hand-made NATS server on a free port, to play a broken or hostile one: it greets as nats-server
// does (INFO), reads the client's protocol (CONNECT, PING, SUB, PUB), answers PING with PONG, and
// lets a test answer each of them its own way, raw bytes and all. With `tls`, it requires TLS as
// nats-server does: INFO in plain, then everything over TLS.
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** What the client sent, one protocol line each (a PUB's payload skipped). */
export interface ClientOp {
  readonly op: string;
  readonly args: readonly string[];
}

export interface FakeNatsScript {
  /** Sent on accepting a connection: a string or bytes as they are, or a function that does more. Default a valid INFO. */
  readonly greeting?: string | Buffer | ((socket: Socket) => void);
  /** Answers the n-th PING (1 is CONNECT's). Default PONG. */
  readonly onPing?: (socket: Socket, n: number) => void;
  /** Answers a PUB; `subscriptions` maps each subscribed subject to its sid. */
  readonly onPublish?: (socket: Socket, publish: { subject: string; reply?: string }, subscriptions: ReadonlyMap<string, string>) => void;
  /** Require TLS with this key and certificate (PEM): the default INFO says tls_required. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
}

export interface FakeNats {
  readonly port: number;
  readonly url: string;
  /** Every operation received, in order. */
  received(): ClientOp[];
  /** Connections open now. */
  openConnections(): number;
  close(): Promise<void>;
}

export function info(fields: Record<string, unknown> = {}): string {
  return `INFO ${JSON.stringify({ server_id: 'FAKE', server_name: 'fake', version: '2.9.10', proto: 1, go: 'go1.19', host: '127.0.0.1', port: 4222, headers: true, max_payload: 1048576, ...fields })}\r\n`;
}

export async function startFakeNats(script: FakeNatsScript = {}): Promise<FakeNats> {
  const received: ClientOp[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => undefined);
    const greeting = script.greeting ?? info(script.tls ? { tls_required: true } : {});
    if (typeof greeting === 'function') greeting(raw);
    else raw.write(greeting);
    const socket = script.tls ? new TLSSocket(raw, { isServer: true, ...script.tls }) : raw;
    socket.on('error', () => undefined);
    const subscriptions = new Map<string, string>();
    let pings = 0;
    let pending = Buffer.alloc(0);
    let payloadLeft = 0;
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (payloadLeft > 0) {
          const skipped = Math.min(payloadLeft, pending.length);
          pending = pending.subarray(skipped);
          payloadLeft -= skipped;
          if (payloadLeft > 0) return;
        }
        const end = pending.indexOf('\r\n');
        if (end < 0) return;
        const line = pending.subarray(0, end).toString('latin1');
        pending = pending.subarray(end + 2);
        if (line === '') continue;
        const [op = '', ...args] = line.split(' ');
        const upper = op.toUpperCase();
        received.push({ op: upper, args: upper === 'CONNECT' ? [args.join(' ')] : args });
        if (upper === 'PING') {
          pings++;
          if (script.onPing) script.onPing(socket, pings);
          else socket.write('PONG\r\n');
        } else if (upper === 'SUB') {
          subscriptions.set(args[0]!, args[args.length - 1]!);
        } else if (upper === 'PUB' || upper === 'HPUB') {
          // PUB <subject> [reply] <size>: the payload and its CR LF follow.
          payloadLeft = Number(args[args.length - 1]) + 2;
          const reply = args.length === (upper === 'PUB' ? 3 : 4) ? args[1] : undefined;
          script.onPublish?.(socket, { subject: args[0]!, reply }, subscriptions);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    received: () => [...received],
    openConnections: () => sockets.size,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
