// The stream a kind hands a driver in place of its socket, guarded like any socket, over real
// loopback sockets: a throw from a listener, a byte over the budget or an inspector's verdict fails
// the connection, never the process.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectableStream } from '../../../../checks/support/connectable-stream.js';
import { guardSocket } from '../../../../checks/support/guarded-socket.js';
import { CheckError } from '../../../../src/errors.js';
import { waitFor } from '../../../helpers/net.js';

let server: Server | undefined;
const peers: Socket[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A server that writes `reply` to every connection, then keeps it open. */
async function replying(reply: Buffer | string): Promise<number> {
  server = createServer((socket) => {
    peers.push(socket);
    socket.on('error', () => undefined);
    socket.write(reply);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const open = (port: number) => (_args: readonly unknown[], signal: AbortSignal) =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    signal.addEventListener('abort', () => socket.destroy(), { once: true });
  });

/** A ConnectableStream opened by `open`, guarded as the postgres check guards it. */
function guarded(options: { maxBytes: number; open?: (args: readonly unknown[], signal: AbortSignal) => Promise<Socket>; inspect?: (chunk: Buffer) => void }) {
  const socket = new ConnectableStream(options.open ? { open: options.open } : {});
  const guard = guardSocket(socket, { target: 'test peer', maxBytes: options.maxBytes, ...(options.inspect ? { inspect: options.inspect } : {}) });
  return { socket, guard };
}

describe('connectable stream, guarded (a malformed reply kills the whole agent)', () => {
  it('a throwing data listener fails the connection with protocol and destroys both streams', async () => {
    const port = await replying('garbage');
    const { socket, guard } = guarded({ maxBytes: 1024, open: open(port) });
    const errors: unknown[] = [];
    socket.on('error', (error) => errors.push(error));
    socket.on('data', () => {
      throw new RangeError('Invalid array length');
    });
    socket.connect();
    await expect(guard.failed).rejects.toMatchObject({ reason: 'protocol', message: 'test peer sent what the client could not handle: Invalid array length' });
    await waitFor('the socket to close', () => socket.destroyed && errors.length >= 1);
    await waitFor('the peer to see the close', () => peers[0]?.destroyed || peers[0]?.readableEnded);
    expect(guard.failure()).toBeInstanceOf(CheckError);
  });

  it('more bytes than maxBytes fail with protocol, naming the limit, before the driver sees them', async () => {
    const port = await replying(Buffer.alloc(4096, 'x'));
    const { socket, guard } = guarded({ maxBytes: 1024, open: open(port) });
    let delivered = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => (delivered += chunk.length));
    socket.connect();
    await expect(guard.failed).rejects.toMatchObject({ reason: 'protocol', message: 'test peer sent more than 1 KiB, the most one attempt reads' });
    expect(delivered).toBeLessThanOrEqual(1024);
  });

  it("an inspector's CheckError is the failure, with its own reason", async () => {
    const port = await replying('R');
    const { socket, guard } = guarded({
      maxBytes: 1024,
      open: open(port),
      inspect: () => {
        throw new CheckError('auth', 'unsupported authentication');
      },
    });
    socket.on('data', () => undefined); // a driver reading
    socket.connect();
    await expect(guard.failed).rejects.toMatchObject({ reason: 'auth' });
  });

  it('passes data both ways and the guard counts the bytes read; attach() wraps an open stream', async () => {
    server = createServer((peer) => {
      peers.push(peer);
      peer.on('data', (chunk) => peer.write(chunk));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const inner = await open((server.address() as { port: number }).port)([], new AbortController().signal);
    const { socket, guard } = guarded({ maxBytes: 1024 });
    socket.attach(inner);
    const connected = new Promise((resolve) => socket.once('connect', resolve));
    socket.connect();
    await connected;
    const echoed = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
    socket.write('ping');
    expect(await echoed).toBe('ping');
    expect(guard.bytesReceived()).toBe(4);
    socket.destroy();
    await waitFor('the inner stream to close', () => inner.destroyed);
  });

  it('destroyed while opening, it aborts the open and leaves nothing connected', async () => {
    const port = await replying('');
    let aborted = false;
    const { socket } = guarded({
      maxBytes: 1024,
      open: (args: readonly unknown[], signal: AbortSignal) => {
        signal.addEventListener('abort', () => (aborted = true), { once: true });
        return open(port)(args, signal);
      },
    });
    socket.connect();
    socket.destroy();
    await waitFor('the open to be aborted', () => aborted);
  });

  it('upgrade: reads and writes through what the wrap resolves with, the first stream no longer read', async () => {
    const first = await replying('');
    const upgradedTo = createServer((peer) => {
      peers.push(peer);
      peer.on('error', () => undefined);
      peer.on('data', (chunk: Buffer) => peer.write(`upgraded ${chunk.toString()}`));
    });
    await new Promise<void>((resolve) => upgradedTo.listen(0, '127.0.0.1', resolve));
    try {
      const { socket, guard } = guarded({ maxBytes: 1024, open: open(first) });
      const connected = new Promise((resolve) => socket.once('connect', resolve));
      socket.connect();
      await connected;
      let replaced: Socket | undefined;
      await socket.upgrade(async (inner) => {
        replaced = inner as Socket;
        return open((upgradedTo.address() as { port: number }).port)([], new AbortController().signal);
      });
      // What the first peer sends now reaches nobody: the wrap owns that stream.
      peers[0]!.write('stale');
      const answered = new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      socket.write('hello');
      expect(await answered).toBe('upgraded hello');
      expect(guard.bytesReceived()).toBe('upgraded hello'.length);
      socket.destroy();
      replaced!.destroy();
    } finally {
      await new Promise((resolve) => upgradedTo.close(resolve));
    }
  });

  it('upgrade: a wrap that fails destroys the stream with its error, and the first stream with it', async () => {
    const port = await replying('');
    const { socket } = guarded({ maxBytes: 1024, open: open(port) });
    const errors: unknown[] = [];
    socket.on('error', (error) => errors.push(error));
    const connected = new Promise((resolve) => socket.once('connect', resolve));
    socket.connect();
    await connected;
    let first: Socket | undefined;
    await expect(
      socket.upgrade(async (inner) => {
        first = inner as Socket;
        throw new CheckError('tls', 'handshake refused');
      }),
    ).rejects.toMatchObject({ reason: 'tls' });
    await waitFor('both streams to be destroyed, the error delivered', () => socket.destroyed && first!.destroyed && errors.length > 0);
    expect(errors).toEqual([expect.objectContaining({ message: 'handshake refused' })]);
  });
});
