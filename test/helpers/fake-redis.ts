// A hand-made Redis on a free port, to play a broken or hostile server: it reads the client's
// commands and answers the handshake as Redis 7 does (HELLO, CLIENT, SELECT, AUTH), PING with
// PONG, and any command listed in `answers` the way the test wants, raw bytes and all.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

/** Answers one command (its lower-cased name): a string is written as it is; a function may do more. */
export type Answer = string | ((socket: Socket) => void);

export interface FakeRedis {
  readonly port: number;
  readonly url: string;
  /** Commands received in all, lower-cased names. */
  commands(): string[];
  close(): Promise<void>;
}

const HELLO_REPLY = '%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n:3\r\n';
const DEFAULTS: Record<string, Answer> = { hello: HELLO_REPLY, client: '+OK\r\n', select: '+OK\r\n', auth: '+OK\r\n', ping: '+PONG\r\n', quit: '+OK\r\n' };

/** `tls`: serve rediss:// with this key and certificate (PEM). */
export async function startFakeRedis(answers: Record<string, Answer> = {}, tls?: { key: Buffer; cert: Buffer }): Promise<FakeRedis> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const onConnection = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseCommand(pending);
        if (!parsed) return;
        pending = pending.subarray(parsed.length);
        received.push(parsed.name);
        const answer = answers[parsed.name] ?? DEFAULTS[parsed.name] ?? `-ERR unknown command '${parsed.name}'\r\n`;
        if (typeof answer === 'string') socket.write(answer);
        else answer(socket);
      }
    });
  };
  const server: Server = tls ? createTlsServer(tls, onConnection) : createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: tls ? `rediss://localhost:${port}` : `redis://127.0.0.1:${port}`,
    commands: () => [...received],
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One RESP command (an array of bulk strings) from the start of `buffer`, or undefined if incomplete. */
function parseCommand(buffer: Buffer): { name: string; length: number } | undefined {
  const readLine = (from: number) => {
    const end = buffer.indexOf('\r\n', from);
    return end === -1 ? undefined : { text: buffer.toString('latin1', from, end), next: end + 2 };
  };
  const head = readLine(0);
  if (!head) return undefined;
  const count = Number(head.text.slice(1));
  let at = head.next;
  let name = '';
  for (let i = 0; i < count; i++) {
    const size = readLine(at);
    if (!size) return undefined;
    const length = Number(size.text.slice(1));
    if (buffer.length < size.next + length + 2) return undefined;
    if (i === 0) name = buffer.toString('utf8', size.next, size.next + length).toLowerCase();
    at = size.next + length + 2;
  }
  return { name, length: at };
}
