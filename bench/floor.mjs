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
const { connect: natsConnect } = type === 'nats' ? await import('nats') : {};
// The same client settings as vigil's nats check, on nats.js's own transport.
const { clientOptions: natsClientOptions } = type === 'nats' ? await import('../dist/checks/nats.js') : {};

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
  postgres: async () => {
    const client = new pg.Client({ connectionString: target, application_name: 'vigil', connectionTimeoutMillis: 1000, statement_timeout: 1000, query_timeout: 1000 });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
  },
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
