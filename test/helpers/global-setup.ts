// Before any test: the services must answer, or the run fails naming the one that does not.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { PG_URL, REDIS_URL } from './services.js';

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

export default async function setup(): Promise<void> {
  const problems: string[] = [];
  const pg = await reachable(PG_URL, 5432);
  if (pg) problems.push(`PostgreSQL (PG_URL=${PG_URL.replace(/:[^:@/]*@/, ':***@')}) is unreachable: ${pg}`);
  const redis = await reachable(REDIS_URL, 6379);
  if (redis) problems.push(`Redis (REDIS_URL=${REDIS_URL}) is unreachable: ${redis}`);
  if (!existsSync(new URL('../../dist/src/cli.js', import.meta.url))) problems.push('dist/src/cli.js is missing: run `npm run build` (npm test does)');
  if (problems.length) throw new Error(`the test services are not ready:\n  - ${problems.join('\n  - ')}`);
}
