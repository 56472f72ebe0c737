// The count of requests in flight, on a real HTTP server.
import { createServer, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createInFlight } from '../../src/in-flight.js';

describe('drain: drainMode requests waits for the requests in flight', () => {
  it('drain: idle() resolves once the last request in flight is answered, at once when none is', async () => {
    const inFlight = createInFlight();
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => void held.push(res));
    server.on('request', inFlight.track);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    await inFlight.idle();

    const answers = [fetch(url), fetch(url)];
    while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(inFlight.count).toBe(2);
    let isIdle = false;
    const idle = inFlight.idle().then(() => (isIdle = true));
    held[0]!.end('one');
    await (await answers[0]!).text();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isIdle).toBe(false);
    held[1]!.end('two');
    await idle;
    expect(inFlight.count).toBe(0);
    await (await answers[1]!).text();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});
