// Before any test: the services must answer, or the run fails naming the one that does not. After
// the last: no agent a test started may outlive the run (an orphan keeps polling the services).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { AMQP_URL, MQTT_URL, MYSQL_URL, NATS_URL, PG_URL, REDIS_URL } from './services.js';

function reachable(url: string, defaultPort: number): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || defaultPort), timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('no answer within 3 s');
    });
    socket.once('error', (error) => resolve(error.message));
  });
}

export default async function setup(): Promise<() => void> {
  const problems: string[] = [];
  const pg = await reachable(PG_URL, 5432);
  if (pg) problems.push(`PostgreSQL (PG_URL=${PG_URL.replace(/:[^:@/]*@/, ':***@')}) is unreachable: ${pg}`);
  const redis = await reachable(REDIS_URL, 6379);
  if (redis) problems.push(`Redis (REDIS_URL=${REDIS_URL}) is unreachable: ${redis}`);
  const mysql = await reachable(MYSQL_URL, 3306);
  if (mysql) problems.push(`MariaDB/MySQL (MYSQL_URL=${MYSQL_URL.replace(/:[^:@/]*@/, ':***@')}) is unreachable: ${mysql}`);
  const mqtt = await reachable(MQTT_URL, 1883);
  if (mqtt) problems.push(`Mosquitto (MQTT_URL=${MQTT_URL.replace(/:[^:@/]*@/, ':***@')}) is unreachable: ${mqtt}`);
  const amqp = await reachable(AMQP_URL, 5672);
  if (amqp) problems.push(`RabbitMQ (AMQP_URL=${AMQP_URL.replace(/:[^:@/]*@/, ':***@')}) is unreachable: ${amqp}`);
  const nats = await reachable(NATS_URL, 4222);
  if (nats) problems.push(`NATS (NATS_URL=${NATS_URL}) is unreachable: ${nats}`);
  if (!existsSync(new URL('../../dist/src/cli.js', import.meta.url))) problems.push('dist/src/cli.js is missing: run `npm run build` (npm test does)');
  if (problems.length) throw new Error(`the test services are not ready:\n  - ${problems.join('\n  - ')}`);
  return teardown;
}

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

/** Agents of this checkout's CLI whose parent is gone (reparented to PID 1): killed, and named. */
function teardown(): void {
  const orphans: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (parent !== 1 || !argv.includes(CLI)) continue;
      orphans.push(`${pid}: ${argv.join(' ').trim()}`);
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  if (orphans.length) {
    // A teardown that throws is only reported: the exit code is what makes the run fail.
    process.exitCode = 1;
    throw new Error(`agents outlived the tests that started them (killed now):\n  - ${orphans.join('\n  - ')}`);
  }
}
