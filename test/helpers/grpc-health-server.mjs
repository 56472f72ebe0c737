// A real gRPC server (@grpc/grpc-js) in a process of its own, with the standard health service,
// grpc.health.v1.Health/Check, written out as health.proto defines it: a status per service name
// ("" is the server as a whole), NOT_FOUND for a name it does not know, and optionally a token it
// requires in the `authorization` metadata (UNAUTHENTICATED otherwise, naming what it was sent, as
// a careless server would). Started by grpc-health-server.ts with its options as JSON in argv[2];
// it answers that module over the IPC channel.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

const options = JSON.parse(process.argv[2] ?? '{}');
const statuses = new Map(Object.entries(options.statuses ?? { '': 1 }));
const calls = [];

/** HealthCheckRequest's field 1. An object: grpc-js takes a falsy request ("") for none at all. */
function decodeRequest(bytes) {
  if (bytes.length === 0) return { service: '' };
  if (bytes[0] !== 0x0a) throw new Error('not a HealthCheckRequest');
  let length = 0;
  let at = 1;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[at++];
    length |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) break;
  }
  return { service: bytes.subarray(at, at + length).toString('utf8') };
}

const server = new grpc.Server({
  'grpc.enable_channelz': 0,
  // A connection older than this gets a GOAWAY (then closes once its calls ended), as servers behind
  // a load balancer are often told to do.
  ...(options.maxConnectionAgeMs === undefined ? {} : { 'grpc.max_connection_age_ms': options.maxConnectionAgeMs, 'grpc.max_connection_age_grace_ms': 1000 }),
});
if (!options.withoutHealth) {
  const rawResponse = options.rawResponseHex === undefined ? undefined : Buffer.from(options.rawResponseHex, 'hex');
  server.addService(
    {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (value) => Buffer.from(value.service),
        requestDeserialize: decodeRequest,
        responseSerialize: (status) => rawResponse ?? Buffer.from([0x08, status]),
        responseDeserialize: (bytes) => bytes[1],
        originalName: 'check',
      },
    },
    {
      Check(call, callback) {
        calls.push({ service: call.request.service, authority: call.getHost() });
        if (calls.length > 50) calls.shift();
        const sent = call.metadata.get('authorization')[0];
        if (options.requiredAuthorization !== undefined && sent !== options.requiredAuthorization) {
          return callback({ code: grpc.status.UNAUTHENTICATED, details: `the token in ${JSON.stringify(String(sent))} is not valid` });
        }
        const status = statuses.get(call.request.service);
        if (status === undefined) return callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        callback(null, status);
      },
    },
  );
}
const credentials = options.tls
  ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(options.tls.certFile), private_key: readFileSync(options.tls.keyFile) }], false)
  : grpc.ServerCredentials.createInsecure();
// grpc-js keeps its open sessions per HTTP/2 server (not in its public interface): how the server
// counts them itself. (Its own `sessions` map is filled only with channelz on, which it is not here.)
const sessions = () => [...server.http2Servers.values()].flatMap((info) => [...info.sessions]).map((session) => session.socket?.remotePort ?? 0);
/** HTTP/2 sessions (connections) the server accepted since it started. */
let accepted = 0;

process.on('message', (message) => {
  if (message.type === 'setStatus') {
    if (message.status === null) statuses.delete(message.service);
    else statuses.set(message.service, message.status);
    process.send({ type: 'setStatus' });
  } else if (message.type === 'ports') process.send({ type: 'ports', ports: sessions() });
  else if (message.type === 'calls') process.send({ type: 'calls', calls });
  else if (message.type === 'accepted') process.send({ type: 'accepted', accepted });
  else if (message.type === 'stop') server.tryShutdown(() => process.exit(0));
});
// The test process going away takes the server with it.
process.on('disconnect', () => process.exit(0));
server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (error, port) => {
  if (error) throw error;
  // grpc-js's HTTP/2 servers (not in its public interface either): each session is a connection.
  for (const http2Server of server.http2Servers.keys()) http2Server.on('session', () => accepted++);
  process.send({ type: 'ready', port });
});
