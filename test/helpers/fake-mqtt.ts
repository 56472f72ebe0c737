// A hand-made MQTT broker on a free port, to play one that answers wrongly or with hostility: it
// reads the client's packets and answers each as Mosquitto would (CONNACK accepted, SUBACK at QoS 0,
// a QoS 1 PUBLISH acknowledged and delivered back, UNSUBACK, DISCONNECT closes), unless the test
// scripts that packet type otherwise.
import { createServer, type Server, type Socket } from 'node:net';

export type PacketName = 'connect' | 'subscribe' | 'publish' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'unsubscribe' | 'pingreq' | 'disconnect' | 'other';
const NAMES: Record<number, PacketName> = { 1: 'connect', 3: 'publish', 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp', 8: 'subscribe', 10: 'unsubscribe', 12: 'pingreq', 14: 'disconnect' };

export interface ClientPacket {
  readonly name: PacketName;
  readonly flags: number;
  readonly body: Buffer;
  /** The packet identifier of SUBSCRIBE, UNSUBSCRIBE and a QoS 1 or 2 PUBLISH. */
  readonly packetId?: number;
}

/** Answers one packet: bytes written as they are, or a function doing more (or nothing). */
export type Answer = Buffer | ((socket: Socket, packet: ClientPacket) => void);

export interface FakeMqtt {
  readonly port: number;
  readonly url: string;
  /** Packets received in all, by name. */
  received(): PacketName[];
  openSockets(): number;
  close(): Promise<void>;
}

/** A packet of `type` with `flags` and `body`, its remaining length encoded as MQTT does. */
export function packet(type: number, flags: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const length: number[] = [];
  let rest = body.length;
  do {
    let byte = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) byte |= 0x80;
    length.push(byte);
  } while (rest > 0);
  return Buffer.concat([Buffer.from([(type << 4) | flags, ...length]), body]);
}

export const connack = (returnCode: number) => packet(2, 0, Buffer.from([0, returnCode]));
const id = (packetId: number) => Buffer.from([packetId >> 8, packetId & 0xff]);

/** A PUBLISH at QoS 0 of `payload` to `topic`. */
export function publish(topic: string, payload: Buffer): Buffer {
  const name = Buffer.from(topic);
  return packet(3, 0, Buffer.concat([Buffer.from([name.length >> 8, name.length & 0xff]), name, payload]));
}

/** The topic and payload of a PUBLISH body with the given flags. */
export function readPublish(packet: ClientPacket): { topic: string; payload: Buffer } {
  const length = packet.body.readUInt16BE(0);
  const qos = (packet.flags >> 1) & 3;
  return { topic: packet.body.subarray(2, 2 + length).toString(), payload: packet.body.subarray(2 + length + (qos > 0 ? 2 : 0)) };
}

const DEFAULTS: Record<PacketName, Answer> = {
  connect: connack(0),
  subscribe: (socket, p) => socket.write(packet(9, 0, Buffer.concat([id(p.packetId!), Buffer.from([0])]))),
  publish: (socket, p) => {
    const { topic, payload } = readPublish(p);
    if (p.packetId !== undefined) socket.write(packet(4, 0, id(p.packetId)));
    socket.write(publish(topic, payload));
  },
  unsubscribe: (socket, p) => socket.write(packet(11, 0, id(p.packetId!))),
  pingreq: packet(13, 0),
  disconnect: (socket) => socket.end(),
  // What a client sends only in a QoS 1 or 2 exchange the broker began, or never: noted, not answered.
  puback: () => undefined,
  pubrec: () => undefined,
  pubrel: () => undefined,
  pubcomp: () => undefined,
  other: () => undefined,
};

export async function startFakeMqtt(answers: Partial<Record<PacketName, Answer>> = {}): Promise<FakeMqtt> {
  const received: PacketName[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = nextPacket(pending);
        if (!parsed) return;
        pending = pending.subarray(parsed.size);
        received.push(parsed.packet.name);
        const answer = answers[parsed.packet.name] ?? DEFAULTS[parsed.packet.name];
        if (socket.destroyed) return;
        if (Buffer.isBuffer(answer)) socket.write(answer);
        else answer(socket, parsed.packet);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    received: () => [...received],
    openSockets: () => sockets.size,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function nextPacket(buffer: Buffer): { packet: ClientPacket; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  let length = 0;
  let at = 1;
  for (let shift = 0; ; shift += 7) {
    if (at >= buffer.length) return undefined;
    const byte = buffer[at++]!;
    length += (byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
  }
  if (buffer.length < at + length) return undefined;
  const type = buffer[0]! >> 4;
  const flags = buffer[0]! & 0x0f;
  const body = buffer.subarray(at, at + length);
  const name = NAMES[type] ?? 'other';
  let packetId: number | undefined;
  if (name === 'subscribe' || name === 'unsubscribe') packetId = body.readUInt16BE(0);
  if (name === 'publish' && ((flags >> 1) & 3) > 0) packetId = body.readUInt16BE(2 + body.readUInt16BE(0));
  return { packet: { name, flags, body, packetId }, size: at + length };
}
