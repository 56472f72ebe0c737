import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tcp } from '../../../checks/tcp.js';
import { freePort, startBlackhole, waitFor, type Blackhole } from '../../helpers/net.js';
import { runOnce } from '../../helpers/run.js';

let blackhole: Blackhole | undefined;
afterEach(async () => blackhole?.close());

describe('tcp check', () => {
  it('passes when the port accepts a connection, and closes it', async () => {
    let closed = 0;
    const server = createServer((socket) => socket.on('close', () => closed++));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    expect(await runOnce(tcp, { host: '127.0.0.1', port })).toMatchObject({ ok: true });
    await waitFor('the connection to close', () => closed === 1);
    server.close();
  });

  it('fails with connect_refused on a closed port', async () => {
    const result = await runOnce(tcp, { host: '127.0.0.1', port: await freePort() });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toMatch(/127\.0\.0\.1:\d+ refused/);
  });

  it('fails with dns on a host that cannot resolve', async () => {
    expect(await runOnce(tcp, { host: 'no-such-host.invalid', port: 80 }, 3000)).toMatchObject({ ok: false, reason: 'dns' });
  });

  it('passes against a server that accepts and never answers (a tcp check cannot tell)', async () => {
    blackhole = await startBlackhole();
    expect(await runOnce(tcp, { host: '127.0.0.1', port: blackhole.port })).toMatchObject({ ok: true });
    await waitFor('the socket to close', () => blackhole!.openSockets() === 0);
  });

  it('builds its options from a tcp:// URL in environment-only mode', () => {
    expect(tcp.fromUrl!('tcp://search.internal:9200')).toEqual({ host: 'search.internal', port: 9200 });
  });
});
