// The floor: a bare script making the same attempt as a vigil check, with the same library and
// the same client settings, at a fixed rate. Prints the number of attempts when it gets SIGTERM.
//   node bench/floor.mjs TYPE TARGET RATE_PER_S
//   node bench/floor.mjs burst URL N     N requests at once; prints the ms from the first start to the last end
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { request } from 'node:http';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import { Resolver } from 'node:dns/promises';

const [type, target, rateArg] = process.argv.slice(2);
if (type === 'burst') {
  const n = Number(rateArg);
  const started = performance.now();
  let done = 0;
  for (let i = 0; i < n; i++) {
    request(`${target}${i}`, { agent: false }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => {
        if (++done === n) {
          process.stdout.write(`${JSON.stringify({ ms: performance.now() - started })}\n`, () => process.exit(0));
        }
      });
    }).end();
  }
  await new Promise(() => undefined);
}
const rate = Number(rateArg);
let attempts = 0;
let failures = 0;

const pg = type === 'postgres' || type === 'postgres-persistent' ? (await import('pg')).default : undefined;
const { Redis } = type === 'redis' || type === 'redis-persistent' ? await import('ioredis') : {};
// The same client settings as vigil's redis check.
const { clientOptions: redisClientOptions, readInfo: readRedisInfo } = type === 'redis' || type === 'redis-persistent' ? await import('../dist/checks/redis.js') : {};

// connection: persistent's floor: one client kept for the whole run, the same query text per attempt.
const keptPg = type === 'postgres-persistent' ? new pg.Client({ connectionString: target, application_name: 'vigil' }) : undefined;
if (keptPg) {
  keptPg.on('error', () => undefined);
  await keptPg.connect();
}
const keptRedis = type === 'redis-persistent' ? new Redis(target, redisClientOptions(1000)) : undefined;
/** The redis check's probe: PING and INFO written together, the fields it observes read from INFO. */
async function redisProbe(client) {
  const [pong, info] = await Promise.all([client.ping(), client.info()]);
  if (pong !== 'PONG') throw new Error('no PONG');
  readRedisInfo(info);
}
if (keptRedis) {
  keptRedis.on('error', () => undefined);
  await keptRedis.connect();
}
const amqplib = type === 'amqp' ? (await import('amqplib')).default : undefined;

const isMysql = type === 'mysql' || type === 'mysql-persistent';
const mysql2 = isMysql ? await import('mysql2') : undefined;
// The same statement as vigil's mysql check sends: the query under the server-side bound.
const { boundedQuery } = isMysql ? await import('../dist/checks/mysql.js') : {};
/** The same client settings as vigil's mysql check (its own socket there: the floor is the bare driver). */
const mysqlConnection = () => {
  const url = new URL(target);
  return mysql2.createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username) || undefined,
    database: url.pathname.slice(1) || undefined,
    connectTimeout: 0,
    connectAttributes: { program_name: 'vigil' },
    flags: ['-LOCAL_FILES'],
    disableEval: true,
  });
};
// connection: persistent's floor: one connection kept for the whole run, the same bounded statement per attempt.
const keptMysql = type === 'mysql-persistent' ? mysqlConnection() : undefined;
const keptMysqlVersion = keptMysql
  ? await new Promise((resolve, reject) => {
      keptMysql.on('error', () => undefined);
      keptMysql.connect((error, handshake) => (error ? reject(error) : resolve(handshake.serverVersion)));
    })
  : undefined;

const isNats = type === 'nats' || type === 'nats-persistent';
const { connect: natsConnect } = isNats ? await import('nats') : {};
// The same client settings as vigil's nats check, on nats.js's own transport.
const { clientOptions: natsClientOptions } = isNats ? await import('../dist/checks/nats.js') : {};
const keptNats = type === 'nats-persistent' ? await natsConnect(natsClientOptions(target, 1000)) : undefined;

// MQTT.js as vigil's mqtt check drives it: its client options, a socket of our own, DISCONNECT written by hand.
const isMqtt = type === 'mqtt' || type === 'mqtt-persistent';
const { MqttClient } = isMqtt ? await import('mqtt') : {};
const { clientOptions: mqttClientOptions, newClientId } = isMqtt ? await import('../dist/checks/mqtt.js') : {};
// connection: persistent's floor: one session kept for the run (keepalive 60 s, as vigil keeps one).
const keptMqtt = type === 'mqtt-persistent' ? await openKeptMqtt() : undefined;
/** An MQTT.js client over a socket of its own to TARGET's broker, as the check makes one; the probe's topic beside it. */
function mqttClient(keepaliveS) {
  const [url, topic] = target.split(' ');
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port || 1883) });
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const clientId = newClientId();
  const client = new MqttClient(() => socket, mqttClientOptions(1000, { clientId }, keepaliveS));
  client.on('error', () => undefined);
  return { client, socket, clientId, topic };
}
async function openKeptMqtt() {
  const { client, clientId, topic } = mqttClient(60);
  await new Promise((resolve) => client.once('connect', resolve));
  let pinged;
  client.on('packetreceive', (packet) => packet.cmd === 'pingresp' && pinged?.());
  let round = 0;
  return {
    topic,
    async roundTrip() {
      const payload = Buffer.from(`vigil probe ${clientId} ${++round}`);
      let delivered;
      const back = new Promise((resolve) => (delivered = resolve));
      const onMessage = (t, m) => t === topic && m.equals(payload) && delivered();
      client.on('message', onMessage);
      await client.subscribeAsync(topic, { qos: 0 });
      client.publish(topic, payload, { qos: 1 });
      await back;
      client.unsubscribe(topic);
      client.off('message', onMessage);
    },
    ping() {
      const answered = new Promise((resolve) => (pinged = resolve));
      client.sendPing();
      return answered;
    },
  };
}

// @grpc/grpc-js as vigil's grpc check drives it: its channel options and hand-encoded messages, a channel per attempt.
const isGrpc = type === 'grpc' || type === 'grpc-persistent';
const grpcJs = isGrpc ? await import('@grpc/grpc-js') : undefined;
const { channelOptions: grpcChannelOptions, encodeRequest, decodeResponse } = isGrpc ? await import('../dist/checks/grpc.js') : {};
// connection: persistent's floor: one channel kept for the run (a kept channel's options), the same call per attempt.
const keptGrpc = type === 'grpc-persistent' ? new grpcJs.Client(target, grpcJs.credentials.createInsecure(), grpcChannelOptions(undefined, true)) : undefined;
/** One Health/Check of the server as a whole over `client`; rejects unless SERVING. */
const grpcHealth = (client) =>
  new Promise((resolve, reject) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', encodeRequest, decodeResponse, '', new grpcJs.Metadata(), { deadline: Date.now() + 1000 }, (error, response) => {
      if (error) reject(error);
      else if (response.status !== 1) reject(new Error(`serving status ${response.status}`));
      else resolve();
    });
  });

const attempt = {
  tcp: () =>
    new Promise((resolve, reject) => {
      const [host, port] = target.split(':');
      const socket = connect({ host, port: Number(port) });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    }),
  http: () =>
    new Promise((resolve, reject) => {
      const req = request(target, { agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    }),
  redis: async () => {
    const client = new Redis(target, redisClientOptions(1000));
    client.on('error', () => undefined);
    try {
      await client.connect();
      await redisProbe(client);
    } finally {
      client.disconnect();
    }
  },
  // The tls check's work: its CA file read (at every attempt, as the check reads it), a handshake
  // verified afterwards, the chain read, the name checked, the connection ended.
  tls: async () => {
    const url = new URL(target);
    const ca = await readFile(url.searchParams.get('ca'));
    await new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca, rejectUnauthorized: false, checkServerIdentity: () => undefined });
      socket.once('secureConnect', () => {
        const chain = socket.getPeerCertificate(true);
        const wrongName = socket.authorized ? checkServerIdentity(url.hostname, chain) : new Error(String(socket.authorizationError));
        socket.end();
        socket.destroy();
        if (wrongName) reject(wrongName);
        else resolve();
      });
      socket.on('error', reject);
    });
  },
  // TARGET: the broker URL and the probe's topic, e.g. "mqtt://127.0.0.1:1883 vigil/bench"; without a topic, CONNACK only.
  mqtt: async () => {
    const { client, socket, clientId, topic } = mqttClient(undefined);
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      if (topic !== undefined) {
        const payload = Buffer.from(`vigil probe ${clientId}`);
        const back = new Promise((resolve) => client.on('message', (t, m) => t === topic && m.equals(payload) && resolve()));
        await client.subscribeAsync(topic, { qos: 0 });
        client.publish(topic, payload, { qos: 1 });
        await back;
        client.unsubscribe(topic);
      }
      await new Promise((resolve) => socket.end(Buffer.from([0xe0, 0]), resolve));
    } finally {
      client.end(true);
      socket.destroy();
    }
  },
  postgres: async () => {
    const client = new pg.Client({ connectionString: target, application_name: 'vigil', connectionTimeoutMillis: 1000, statement_timeout: 1000, query_timeout: 1000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  },
  // The probe vigil's postgres check sends over its kept connection: one simple-query round trip.
  'postgres-persistent': async () => {
    await keptPg.query('BEGIN;SET LOCAL statement_timeout = 1100;\nSELECT 1\n;COMMIT');
  },
  'redis-persistent': async () => {
    await redisProbe(keptRedis);
  },
  // TARGET is SERVER/NAME; a fresh channel per attempt, one try, as vigil's dns check.
  dns: async () => {
    const [server, name] = target.split('/');
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([server]);
    try {
      await resolver.resolve4(name);
    } finally {
      resolver.cancel();
    }
  },
  amqp: async () => {
    // The settings of vigil's amqp check: no heartbeat, 4 KiB frames, one channel, a closing handshake.
    const url = new URL(target);
    const connection = await amqplib.connect(
      { protocol: 'amqp', hostname: url.hostname, port: Number(url.port || 5672), username: decodeURIComponent(url.username), password: decodeURIComponent(url.password), vhost: decodeURIComponent(url.pathname.slice(1)) || '/', heartbeat: 0, frameMax: 4096, channelMax: 1, maxFrameSize: 4096 },
      { clientProperties: { product: 'vigil', connection_name: 'vigil' }, timeout: 1000 },
    );
    connection.on('error', () => undefined);
    await connection.createChannel();
    await connection.close();
  },
  mysql: () =>
    new Promise((resolve, reject) => {
      const connection = mysqlConnection();
      connection.on('error', () => undefined);
      connection.connect((error, handshake) => {
        if (error) return reject(error);
        connection.query(boundedQuery('SELECT 1', handshake.serverVersion, Date.now() + 1000), (queryError) => {
          if (queryError) return reject(queryError);
          connection.stream.once('close', resolve);
          connection.end();
        });
      });
    }),
  'mysql-persistent': () =>
    new Promise((resolve, reject) =>
      keptMysql.query(boundedQuery('SELECT 1', keptMysqlVersion, Date.now() + 1000), (error) => (error ? reject(error) : resolve())),
    ),
  // TARGET is host:port; the health of the server as a whole, as vigil's grpc check asks it by default.
  grpc: async () => {
    const client = new grpcJs.Client(target, grpcJs.credentials.createInsecure(), grpcChannelOptions(undefined));
    try {
      await grpcHealth(client);
    } finally {
      client.close();
    }
  },
  'grpc-persistent': () => grpcHealth(keptGrpc),
  'nats-persistent': () => keptNats.flush(),
  'mqtt-persistent': () => (keptMqtt.topic === undefined ? keptMqtt.ping() : keptMqtt.roundTrip()),
  nats: async () => {
    const connection = await natsConnect(natsClientOptions(target, 1000));
    try {
      await connection.flush();
    } finally {
      await connection.close();
    }
  },
}[type];

// Attempts spread evenly, as vigil's loops spread them.
setInterval(() => {
  attempts++;
  attempt().catch(() => failures++);
}, 1000 / rate);
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ attempts, failures })}\n`, () => process.exit(0));
});
process.send?.('ready');
