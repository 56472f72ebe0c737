// A hand-made AMQP 0-9-1 peer for what no real broker does: it answers the handshake as a broker
// would (start, tune, open-ok, channel open-ok), and misbehaves where a test tells it to.
import { createServer, type Server, type Socket } from 'node:net';

/** One frame: type, channel, payload size, payload, frame-end. */
export function frame(type: number, channel: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([0xce])]);
}

function method(classId: number, methodId: number, ...fields: Buffer[]): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(classId, 0);
  ids.writeUInt16BE(methodId, 2);
  return Buffer.concat([ids, ...fields]);
}

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const shortstr = (s: string) => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]);
const longstr = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

export const frames = {
  start: frame(1, 0, method(10, 10, u8(0), u8(9), u32(0), longstr('PLAIN'), longstr('en_US'))),
  tune: frame(1, 0, method(10, 30, u16(2047), u32(131072), u16(60))),
  openOk: frame(1, 0, method(10, 41, shortstr(''))),
  channelOpenOk: (channel: number) => frame(1, channel, method(20, 11, longstr(''))),
  heartbeat: frame(8, 0, Buffer.alloc(0)),
  /** connection.close with a reply code and text. */
  close: (code: number, text: string) => frame(1, 0, method(10, 50, u16(code), shortstr(text), u16(0), u16(0))),
};

export interface FakeBrokerScript {
  /** What to send once the client's protocol header arrived; default connection.start. */
  onHeader?(socket: Socket): void;
  /** What to send when the client opens channel `channel`; default channel.open-ok. */
  onChannelOpen?(socket: Socket, channel: number): void;
}

export interface FakeBroker {
  readonly port: number;
  /** Connections accepted in all. */
  accepted(): number;
  openSockets(): number;
  close(): Promise<void>;
}

/** Starts a peer on 127.0.0.1 that follows the client's frames and answers them per `script`. */
export async function startFakeBroker(script: FakeBrokerScript = {}): Promise<FakeBroker> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    let hasHeader = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!hasHeader) {
        if (buffered.length < 8) return;
        hasHeader = true;
        buffered = buffered.subarray(8);
        (script.onHeader ?? ((s) => s.write(frames.start)))(socket);
      }
      while (buffered.length >= 8) {
        const size = buffered.readUInt32BE(3);
        if (buffered.length < size + 8) return;
        const channel = buffered.readUInt16BE(1);
        const payload = buffered.subarray(7, 7 + size);
        buffered = buffered.subarray(size + 8);
        if (buffered.length === 0) buffered = Buffer.alloc(0);
        if (payload.length < 4) continue;
        const id = `${payload.readUInt16BE(0)}.${payload.readUInt16BE(2)}`;
        if (id === '10.11') socket.write(frames.tune);
        else if (id === '10.40') socket.write(frames.openOk);
        else if (id === '20.10') (script.onChannelOpen ?? ((s, ch) => s.write(frames.channelOpenOk(ch))))(socket, channel);
        else if (id === '10.50') socket.end(frame(1, 0, method(10, 51)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    openSockets: () => sockets.size,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
