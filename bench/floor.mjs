// The floor: a bare script making the same attempt as a vigil check, with the same library and
// the same client settings, at a fixed rate. Prints the number of attempts when it gets SIGTERM.
//   node bench/floor.mjs TYPE TARGET RATE_PER_S
//   node bench/floor.mjs burst URL N     N requests at once; prints the ms from the first start to the last end
import { connect } from 'node:net';
import { request } from 'node:http';

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

const pg = type === 'postgres' ? (await import('pg')).default : undefined;
const { Redis } = type === 'redis' ? await import('ioredis') : {};
// The same client settings as vigil's redis check.
const { clientOptions: redisClientOptions } = type === 'redis' ? await import('../dist/checks/redis.js') : {};
// MQTT.js as vigil's mqtt check drives it: its client options, a socket of our own, DISCONNECT written by hand.
const { MqttClient } = type === 'mqtt' ? await import('mqtt') : {};
const { clientOptions: mqttClientOptions, newClientId } = type === 'mqtt' ? await import('../dist/checks/mqtt.js') : {};

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
      await client.ping();
    } finally {
      client.disconnect();
    }
  },
  // TARGET: the broker URL and the probe's topic, e.g. "mqtt://127.0.0.1:1883 vigil/bench"; without a topic, CONNACK only.
  mqtt: async () => {
    const [url, topic] = target.split(' ');
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port || 1883) });
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const clientId = newClientId();
    const client = new MqttClient(() => socket, mqttClientOptions(1000, { clientId }));
    client.on('error', () => undefined);
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
