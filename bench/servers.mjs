// Stand-ins the bench runs as separate processes:
//   node bench/servers.mjs upstream PORT DELAY_MS   an HTTP upstream answering after DELAY_MS
//   node bench/servers.mjs hono PORT FILE TYPE       bare hono + @hono/node-server serving FILE's bytes
//   node bench/servers.mjs http PORT FILE TYPE       plain node:http serving FILE's bytes
//   node bench/servers.mjs hono-libs PORT FILE TYPE  bare hono that has also loaded prom-client, pg and ioredis: the memory floor
//                                                    of an agent running postgres and redis checks
//   node bench/servers.mjs idle                      a node process doing nothing (the floor's idle cost)
//   node bench/servers.mjs tls PORT CERT KEY         a TLS server: completes handshakes, answers nothing
//   node bench/servers.mjs grpc PORT                 a gRPC server (@grpc/grpc-js) whose health service answers SERVING
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';

const [mode, portArg, third, contentType] = process.argv.slice(2);
const port = Number(portArg);

if (mode === 'upstream') {
  const delayMs = Number(third);
  const server = createServer((_req, res) => {
    if (delayMs > 0) setTimeout(() => res.end('ok'), delayMs);
    else res.end('ok');
  });
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => process.send?.('ready'));
} else if (mode === 'hono' || mode === 'hono-libs') {
  if (mode === 'hono-libs') await Promise.all([import('prom-client'), import('pg'), import('ioredis')]);
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const body = readFileSync(third, 'utf8');
  const app = new Hono();
  // The same bytes and the same headers vigil sends.
  app.get('*', (c) => c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }));
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => process.send?.('ready'));
} else if (mode === 'http') {
  const body = Buffer.from(readFileSync(third, 'utf8'));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': body.length });
    res.end(body);
  });
  server.listen(port, '127.0.0.1', () => process.send?.('ready'));
} else if (mode === 'tls') {
  const server = createTlsServer({ cert: readFileSync(third), key: readFileSync(contentType) }, (socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  server.on('tlsClientError', () => undefined);
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => process.send?.('ready'));
} else if (mode === 'grpc') {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  // grpc.health.v1.Health/Check as health.proto defines it; the request (an object: grpc-js takes "" for none) is not read.
  const check = { path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false, requestSerialize: () => Buffer.alloc(0), requestDeserialize: () => ({}), responseSerialize: () => Buffer.from([0x08, 0x01]), responseDeserialize: () => 1 };
  server.addService({ Check: check }, { Check: (_call, callback) => callback(null, 1) });
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) throw error;
    process.send?.('ready');
  });
} else if (mode === 'idle') {
  setInterval(() => undefined, 1000);
  process.send?.('ready');
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
