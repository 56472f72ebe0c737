// A hand-made MySQL server for hostile-peer tests: packets built by hand (a greeting as MariaDB sends
// it, OK, ERR, result sets) and a script saying what to answer to the greeting's reply and to each
// command.
import { createServer, type Server, type Socket } from 'node:net';

/** One packet: 3-byte length, sequence number, payload. */
export function packet(sequence: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence & 0xff;
  return Buffer.concat([header, payload]);
}

const CAPABILITIES = {
  LONG_PASSWORD: 0x1,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  PLUGIN_AUTH: 0x80000,
};

/** The greeting's payload, as MariaDB 10.11 sends it (protocol 10, mysql_native_password). */
export function greetingPayload({ version = '5.5.5-10.11.19-MariaDB-fake', protocol = 10, tls = false } = {}): Buffer {
  const capabilities =
    CAPABILITIES.LONG_PASSWORD | CAPABILITIES.CONNECT_WITH_DB | CAPABILITIES.PROTOCOL_41 | CAPABILITIES.TRANSACTIONS | CAPABILITIES.SECURE_CONNECTION | CAPABILITIES.PLUGIN_AUTH | (tls ? CAPABILITIES.SSL : 0);
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = 0;
  at = fixed.writeUInt32LE(42, at); // connection id
  at += fixed.write('abcdefgh', at, 'latin1'); // scramble, first part
  at = fixed.writeUInt8(0, at);
  at = fixed.writeUInt16LE(capabilities & 0xffff, at);
  at = fixed.writeUInt8(45, at); // utf8mb4_general_ci
  at = fixed.writeUInt16LE(2, at); // status: autocommit
  at = fixed.writeUInt16LE(capabilities >>> 16, at);
  fixed.writeUInt8(21, at); // scramble length
  return Buffer.concat([Buffer.from([protocol]), Buffer.from(`${version}\0`, 'latin1'), fixed, Buffer.from('ijklmnopqrst\0', 'latin1'), Buffer.from('mysql_native_password\0', 'latin1')]);
}

export const greeting = (options?: Parameters<typeof greetingPayload>[0]) => packet(0, greetingPayload(options));
export const ok = (sequence: number) => packet(sequence, Buffer.from([0, 0, 0, 2, 0, 0, 0]));
export const eof = (sequence: number) => packet(sequence, Buffer.from([0xfe, 0, 0, 2, 0]));

export function error(sequence: number, errno: number, sqlState: string, message: string): Buffer {
  const payload = Buffer.alloc(3);
  payload[0] = 0xff;
  payload.writeUInt16LE(errno, 1);
  return packet(sequence, Buffer.concat([payload, Buffer.from(`#${sqlState}${message}`, 'utf8')]));
}

const lenencString = (text: string) => Buffer.concat([Buffer.from([text.length]), Buffer.from(text, 'latin1')]);

/** A result set's head: the column count, one column definition (VARCHAR), EOF; sequence from 1. */
export function resultHead(name = 'x'): Buffer[] {
  const definition = Buffer.concat([
    ...['def', '', '', '', name, ''].map(lenencString),
    Buffer.from([0x0c, 45, 0, 0xff, 0xff, 0, 0, 0xfd, 0, 0, 0, 0, 0]),
  ]);
  return [packet(1, Buffer.from([1])), packet(2, definition), eof(3)];
}

/** A text row of one value of `bytes` bytes (at most 65,535). */
export function row(sequence: number, bytes: number): Buffer {
  const head = Buffer.from([0xfc, bytes & 0xff, bytes >> 8]);
  return packet(sequence, Buffer.concat([head, Buffer.alloc(bytes, 'x')]));
}

export interface MySqlScript {
  /** On connection; default: the greeting. */
  readonly onConnect?: (socket: Socket) => void;
  /** The client's reply to the greeting; default: OK (sequence 2). */
  readonly onLogin?: (socket: Socket) => void;
  /** A command (COM_QUERY, sequence 0) after the login; default: OK (sequence 1). */
  readonly onCommand?: (socket: Socket, command: number) => void;
}

export interface FakeMySql {
  readonly url: string;
  /** Bytes the client sent in all. */
  received(): number;
  close(): Promise<void>;
}

export async function startFakeMySql(script: MySqlScript): Promise<FakeMySql> {
  const sockets = new Set<Socket>();
  let received = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let isLoggedIn = false;
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUIntLE(0, 3)) {
        const length = pending.readUIntLE(0, 3);
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        if (!isLoggedIn) {
          isLoggedIn = true;
          (script.onLogin ?? ((s) => s.write(ok(2))))(socket);
        } else if (payload[0] !== 0x01 /* COM_QUIT */) {
          (script.onCommand ?? ((s) => s.write(ok(1))))(socket, payload[0]!);
        }
      }
    });
    (script.onConnect ?? ((s) => s.write(greeting())))(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `mysql://root@127.0.0.1:${port}/test`,
    received: () => received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
