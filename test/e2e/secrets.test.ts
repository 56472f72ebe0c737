import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, runCli, serve, tempConfig } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';

// Canaries: each must never appear in anything vigil prints or serves.
const FROM_ENV = 'canary-env-user-4815';
const FROM_FILE = 'canary-file-pass-1623';
const IN_URL = 'canary-url-pass-4208';
const TOKEN = 'canary-token-path-7777';
const CANARIES = [FROM_ENV, FROM_FILE, IN_URL, TOKEN];

let upstream: Upstream;
let config = '';
let env: Record<string, string> = {};
beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.writeHead(404).end());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-secret-'));
  writeFileSync(join(dir, 'pg-password'), `${FROM_FILE}\n`);
  env = { PG_USER: FROM_ENV, PG_PASSWORD_FILE: join(dir, 'pg-password'), API_TOKEN: TOKEN, VIGIL_LOG_LEVEL: 'debug' };
  // Each check fails with a message that would carry its secret: PostgreSQL names the unknown
  // role, the HTTP check names the URL it asked, the Redis URL holds a password.
  config = tempConfig(`
checks:
  db: { type: postgres, url: "postgres://\${PG_USER}:\${PG_PASSWORD}@127.0.0.1:5432/test", interval: 500ms, timeout: 400ms }
  api: { type: http, url: "${upstream.url}/status/\${API_TOKEN}", interval: 500ms, timeout: 400ms }
  cache: { type: redis, url: "redis://:${IN_URL}@127.0.0.1:${await freePort()}", interval: 500ms, timeout: 400ms }
`);
});
afterAll(async () => upstream.close());

function expectClean(text: string, where: string) {
  for (const canary of CANARIES) expect(text.includes(canary), `${where} contains ${canary}`).toBe(false);
}

describe('secrets never leave', () => {
  it('are absent from logs, health bodies and metrics of a serving agent whose checks fail', async () => {
    const agent = await serve(['--config', config], await freePort(), env);
    try {
      const body = await waitFor('every check failing', async () => {
        const r = await getJson(`${agent.url}/health`);
        const entries = Object.values(r.body.checks).map((e: any) => e[0]);
        return entries.every((e: any) => e.status === 'fail' && e.reason !== 'pending') ? r : undefined;
      });
      const entry = (name: string) => body.body.checks[`${name}:responseTime`][0];
      expect(entry('db').reason).toBe('auth');
      expect(entry('db').output).toContain('***'); // the role name, masked
      expect(entry('api').reason).toBe('status_code');
      expect(entry('api').output).toContain('/status/***');
      expect(entry('cache').reason).toBe('connect_refused');
      for (const path of ['/health', '/health/ready', '/health/live', '/health/startup', '/metrics']) {
        expectClean(await (await fetch(`${agent.url}${path}`)).text(), path);
      }
      agent.child.kill('SIGTERM');
      await agent.exited();
      expect(agent.output()).toContain('"level":"debug"');
      expectClean(agent.output(), 'the log');
    } finally {
      agent.kill();
    }
  });

  it('are absent from vigil check, vigil check --json and vigil validate', async () => {
    for (const args of [['check'], ['check', '--json'], ['validate']]) {
      const run = await runCli([...args, '--config', config], env);
      expectClean(run.stdout + run.stderr, `vigil ${args.join(' ')}`);
    }
    const failing = await runCli(['check', '--config', config], env);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/db\s+postgres\s+FAIL\s+.*auth/);
  });

  it('are absent from config errors that show a bad value', async () => {
    const bad = tempConfig('server:\n  port: ${API_TOKEN}\n  host: "${PG_USER}:${PG_PASSWORD}"\nchecks:\n  x: { type: tcp, host: h, port: 1, timeout: "${API_TOKEN}" }\n');
    const run = await runCli(['validate', '--config', bad], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('checks.x.timeout: "***" must be a duration');
    expectClean(run.stdout + run.stderr, 'validate errors');
  });
});
