import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardSocket } from '../../../../checks/support/guarded-socket.js';
import { CheckError } from '../../../../src/errors.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A peer that writes `bytes` to each connection and keeps it open. */
async function peerWriting(bytes: Buffer): Promise<number> {
  server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(bytes);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function closed(socket: Socket): Promise<unknown> {
  return new Promise((resolve) => {
    let error: unknown;
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve(error));
  });
}

describe('guarded socket: a driver cannot throw into the process, nor read without bound', () => {
  it('turns a throw inside a data listener into a protocol failure of the socket', async () => {
    const socket = connect({ host: '127.0.0.1', port: await peerWriting(Buffer.from('$-1\r\n$-1\r\n')) });
    const guard = guardSocket(socket, { target: 'peer' });
    socket.on('data', () => {
      throw new TypeError("Cannot read properties of null (reading 'toString')");
    });
    const error = await closed(socket);
    expect(error).toBeInstanceOf(CheckError);
    expect(error).toMatchObject({ reason: 'protocol', message: "peer sent what the client could not handle: Cannot read properties of null (reading 'toString')" });
    expect(guard.failure()).toBe(error);
  });

  it('ends the socket once the peer has sent more than maxBytes, delivering no more than that', async () => {
    const socket = connect({ host: '127.0.0.1', port: await peerWriting(Buffer.alloc(256 * 1024, 'x')) });
    const guard = guardSocket(socket, { target: 'peer', maxBytes: 64 * 1024 });
    let delivered = 0;
    socket.on('data', (chunk: Buffer) => (delivered += chunk.length));
    const error = await closed(socket);
    expect(error).toMatchObject({ reason: 'protocol', message: 'peer sent more than 64 KiB, the most one attempt reads' });
    expect(delivered).toBeLessThanOrEqual(64 * 1024);
    expect(guard.bytesReceived()).toBeGreaterThan(64 * 1024);
  });

  it('keeps a chunk that inspect refuses from the listeners', async () => {
    const socket = connect({ host: '127.0.0.1', port: await peerWriting(Buffer.from('SSH-2.0-OpenSSH\r\n')) });
    guardSocket(socket, {
      target: 'peer',
      inspect: (chunk) => {
        if (chunk[0] === 0x53) throw new Error('not a reply');
      },
    });
    let delivered = 0;
    socket.on('data', (chunk: Buffer) => (delivered += chunk.length));
    expect(await closed(socket)).toMatchObject({ reason: 'protocol', message: 'peer violated its protocol: not a reply' });
    expect(delivered).toBe(0);
  });

  it('quotes what a listener threw at most 200 characters long, without control characters', async () => {
    const socket = connect({ host: '127.0.0.1', port: await peerWriting(Buffer.from('+OK\r\n')) });
    guardSocket(socket, { target: 'peer' });
    socket.on('data', () => {
      throw new Error(`Last reply: ${'\u001b[31m'.repeat(5000)}`);
    });
    const error = (await closed(socket)) as Error;
    expect(error.message.length).toBeLessThan(400);
    expect(error.message).not.toMatch(/\u001b/);
  });
});
