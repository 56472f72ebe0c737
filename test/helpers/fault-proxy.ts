// A TCP proxy in front of a real dependency that can pass traffic through or inject a fault,
// switchable while the agent runs:
//   pass       forward both ways
//   blackhole  accept connections and never answer (nothing is forwarded)
//   reset      accept, then reset the connection (RST)
//   refuse     stop listening: connections are refused
//   latency    forward, delaying every chunk by `delayMs` in each direction
//   drip       forward, but send the dependency's answer to the client one byte every `delayMs`
//   garbage    accept, answer whatever the client sends with bytes no protocol means, keep it open
// cut() destroys every live connection at once (a dependency restart, a network blip).
import { connect, createServer, type Server, type Socket } from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'reset' | 'refuse' | 'latency' | 'drip' | 'garbage';

export interface FaultProxy {
  readonly port: number;
  set(mode: FaultMode, options?: { delayMs?: number }): Promise<void>;
  /** Destroys every live connection, both sides. */
  cut(): void;
  /** Client connections currently open on the proxy. */
  openConnections(): number;
  /** Client connections accepted in all. */
  accepted(): number;
  /** Local ports of every connection the proxy opened to the dependency: its side as the server sees it. */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/** Bytes no protocol here means: not a PostgreSQL message, not RESP, not HTTP. */
export const GARBAGE = Buffer.from('\u0000\u00ff\u00fe garbage \u0001\u0002 not a protocol \r\n\u0000', 'latin1');

export async function startFaultProxy(targetHost: string, targetPort: number): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let accepted = 0;
  const clients = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const ports = new Set<number>();

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Forwards from -> to in order, applying the current mode; `to` ends after what was in flight. */
  const forward = (from: Socket, to: Socket, isAnswer: boolean) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      chain = chain.then(async () => {
        if (mode === 'latency') await sleep(delayMs);
        if (mode === 'drip' && isAnswer) {
          for (let i = 0; i < chunk.length && !to.destroyed; i++) {
            to.write(chunk.subarray(i, i + 1));
            await sleep(delayMs);
          }
        } else if (!to.destroyed) {
          to.write(chunk);
        }
      });
    });
    from.on('close', () => {
      void chain.then(() => to.end());
    });
  };

  const onConnection = (client: Socket) => {
    accepted++;
    clients.add(client);
    client.on('error', () => undefined);
    client.on('close', () => clients.delete(client));
    if (mode === 'blackhole') {
      client.resume(); // read and drop, so the client's close is seen
      return;
    }
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'garbage') {
      // Answers at once and to every chunk: protocols where the server speaks first see it too.
      const noise = () => !client.destroyed && client.write(GARBAGE);
      noise();
      client.on('data', noise);
      return;
    }
    const upstream = connect({ host: targetHost, port: targetPort });
    upstream.once('connect', () => upstream.localPort !== undefined && ports.add(upstream.localPort));
    upstreams.add(upstream);
    upstream.on('error', () => undefined);
    upstream.on('close', () => upstreams.delete(upstream));
    forward(client, upstream, false);
    forward(upstream, client, true);
  };

  let server: Server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  let isListening = true;

  const cut = () => {
    for (const socket of [...clients, ...upstreams]) socket.destroy();
  };

  return {
    port,
    async set(next, options = {}) {
      mode = next;
      delayMs = options.delayMs ?? 0;
      if (next === 'refuse' && isListening) {
        cut();
        await new Promise((resolve) => server.close(resolve));
        isListening = false;
      } else if (next !== 'refuse' && !isListening) {
        server = createServer(onConnection);
        await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
        isListening = true;
      }
    },
    cut,
    openConnections: () => clients.size,
    accepted: () => accepted,
    upstreamPorts: () => [...ports],
    async close() {
      cut();
      if (isListening) await new Promise((resolve) => server.close(resolve));
      isListening = false;
    },
  };
}
