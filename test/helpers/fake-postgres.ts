// A hand-made PostgreSQL server for hostile-peer tests: it answers the TLS request with 'N' (or 'S'
// and a handshake, given a certificate), reads the startup message, then follows a script that
// writes whatever bytes a test wants (malformed authentication requests, impossible rows, endless
// messages).
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/** The wire form of one backend message: a type byte and an int32 length that counts itself. */
export function message(type: string, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([head, payload]);
}

export const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

/** A backend message header declaring `length` (which counts itself) with no body behind it. */
export function header(type: string, length: number): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(length >>> 0, 1);
  return head;
}

/** An ErrorResponse with severity FATAL (or ERROR), SQLSTATE `code` and message `text`. */
export function errorResponse(code: string, text: string, severity = 'FATAL'): Buffer {
  return message('E', `S${severity}\0V${severity}\0C${code}\0M${text}\0\0`);
}

export const authenticationOk = (): Buffer => message('R', int32(0));
export const readyForQuery = (): Buffer => message('Z', 'I');
/** A RowDescription of one text column named `c`. */
export const rowDescription = (): Buffer =>
  message('T', Buffer.concat([int16(1), Buffer.from('c\0'), int32(0), int16(0), int32(25), int16(-1 & 0xffff), int32(-1), int16(0)]));
export const dataRow = (value: string): Buffer => message('D', Buffer.concat([int16(1), int32(Buffer.byteLength(value)), Buffer.from(value)]));

export interface Script {
  /** Called once the startup message has arrived. */
  onStartup(socket: Socket): void;
  /** Called for each simple Query ('Q') the client sends after the startup. */
  onQuery?(socket: Socket, text: string): void;
}

export interface FakePostgres {
  readonly port: number;
  readonly url: string;
  /** Connections accepted in all. */
  accepted(): number;
  close(): Promise<void>;
}

export interface FakeOptions {
  /** Accept TLS with this certificate and key (PEM) instead of declining it. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export async function startFakePostgres(script: Script, options: FakeOptions = {}): Promise<FakePostgres> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((raw) => {
    accepted++;
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => sockets.delete(raw));
    serve(raw);
  });
  const serve = (socket: Socket) => {
    let buffered = Buffer.alloc(0);
    let started = false;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          if (buffered.length < 8) return;
          const length = buffered.readUInt32BE(0);
          if (buffered.length < length) return;
          const code = buffered.readUInt32BE(4);
          buffered = buffered.subarray(length);
          if (code === 80877103 && options.tls) {
            socket.off('data', onData);
            socket.write('S');
            const secure = new TLSSocket(socket, { isServer: true, cert: options.tls.cert, key: options.tls.key });
            secure.on('error', () => undefined);
            serve(secure);
            return;
          }
          if (code === 80877103 || code === 80877104) {
            socket.write('N');
            continue;
          }
          started = true;
          script.onStartup(socket);
          continue;
        }
        if (buffered.length < 5) return;
        const length = buffered.readUInt32BE(1);
        if (buffered.length < length + 1) return;
        const type = String.fromCharCode(buffered[0]!);
        const body = buffered.subarray(5, length + 1);
        buffered = buffered.subarray(length + 1);
        if (type === 'Q') script.onQuery?.(socket, body.toString('utf8').replace(/\0$/, ''));
        if (type === 'X') socket.end();
      }
    };
    socket.on('data', onData);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `postgres://vigil@127.0.0.1:${port}/test`,
    accepted: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Writes `chunk` over and over as fast as the peer reads, until it goes away. */
export function flood(socket: Socket, chunk: Buffer): void {
  const pump = () => {
    while (!socket.destroyed && socket.write(chunk));
    if (!socket.destroyed) socket.once('drain', pump);
  };
  pump();
}
