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
  // role (a user name, marked secret), the HTTP check names the URL it asked, the Redis URL holds a password.
  config = tempConfig(`
checks:
  db: { type: postgres, url: "postgres://\${secret:PG_USER}:\${PG_PASSWORD}@127.0.0.1:5432/test", interval: 500ms, timeout: 400ms }
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

// Canaries with what encoders treat differently (spaces, quotes, @, /, %, non-ASCII). Their head and
// tail words are plain letters and digits, kept as they are by every encoding: when neither shows,
// no form of the canary does.
const canary = (id: string, middle = ' w"x ü@/%') => `${id}head${middle}${id}tail`;
function expectNone(text: string, where: string, canaries: readonly string[]) {
  for (const c of canaries) {
    const id = c.slice(0, c.indexOf('head'));
    const [head, tail] = [`${id}head`, `${id}tail`];
    expect(c.endsWith(tail)).toBe(true);
    expect(text.includes(head), `${where} contains ${head}`).toBe(false);
    expect(text.includes(tail), `${where} contains ${tail}`).toBe(false);
  }
}

/** An upstream that answers 404, and echoes credentials into a redirect the way a careless server might. */
async function echoingUpstream(): Promise<Upstream & { seen: Record<string, string | undefined> }> {
  const seen: Record<string, string | undefined> = {};
  const server = await startUpstream((req, res) => {
    if (req.url === '/echo') {
      seen['x-api-key'] = req.headers['x-api-key'] as string | undefined;
      const echoed = [req.headers['x-api-key'], req.headers.authorization, req.headers['x-tenant']].map((v) => encodeURIComponent(String(v))).join('/');
      res.writeHead(302, { location: `/seen/${echoed}` }).end();
    } else if (req.url === '/basic') {
      const password = Buffer.from(String(req.headers.authorization).replace(/^Basic /, ''), 'base64').toString('utf8').split(':').slice(1).join(':');
      res.writeHead(302, { location: `/seen/${encodeURIComponent(password)}` }).end();
    } else res.writeHead(404).end();
  });
  return Object.assign(server, { seen });
}

/**
 * Serves until every check has a failing result (and, with short intervals, an attempt logged at
 * debug level), then returns the bodies, /metrics and the log.
 */
async function everyOutputOfServe(args: string[], env: Record<string, string>, { debugLines = true } = {}) {
  const agent = await serve(args, await freePort(), { VIGIL_LOG_LEVEL: 'debug', ...env });
  try {
    const health = await waitFor('every check failing', async () => {
      const r = await getJson(`${agent.url}/health`);
      const entries = Object.values(r.body.checks).map((e: any) => e[0]);
      return entries.length > 0 && entries.every((e: any) => e.componentType === 'system' || (e.status === 'fail' && e.reason !== 'pending')) ? r.body : undefined;
    });
    let served = '';
    for (const path of ['/health', '/health/ready', '/health/live', '/health/startup', '/metrics']) served += await (await fetch(`${agent.url}${path}`)).text();
    if (debugLines) await waitFor('an attempt logged at debug level', () => agent.output().includes('"level":"debug"'));
    return { entry: (name: string) => health.checks[`${name}:responseTime`][0], served, log: agent.output() };
  } finally {
    agent.kill();
  }
}

describe('environment-only mode leaks secrets', () => {
  const QUERY_KEY = canary('Q18');
  const TOKEN_USER = canary('U18', ' w"ü@%25');
  const REDIS_PW = 'R18passhead-R18passtail';
  let upstream: Upstream;
  let envOnly: Record<string, string> = {};
  beforeAll(async () => {
    upstream = await echoingUpstream();
    envOnly = {
      VIGIL_CHECK_API: `${upstream.url}/status/404?api_key=${QUERY_KEY}&region=europe-north`,
      VIGIL_CHECK_TOK: `http://${TOKEN_USER}@127.0.0.1:${upstream.port}/status/404`,
      VIGIL_CHECK_CACHE: `redis://:${REDIS_PW}@127.0.0.1:${await freePort()}/0`,
    };
  });
  afterAll(async () => upstream.close());
  const canaries = () => [QUERY_KEY, TOKEN_USER, REDIS_PW];

  it('environment-only mode leaks secrets: URL user info and query values are masked in health bodies, /metrics and debug logs', async () => {
    // Checks from the environment take the default 10s interval: their first results are transitions,
    // logged at warn with the same output as a debug line.
    const { entry, served, log } = await everyOutputOfServe([], envOnly, { debugLines: false });
    expect(entry('api').output).toBe(`GET http://127.0.0.1:${upstream.port}/status/404?api_key=***&region=*** answered 404, expected 200-399`);
    expect(entry('tok').output).toBe(`GET http://***@127.0.0.1:${upstream.port}/status/404 answered 404, expected 200-399`);
    expect(entry('cache').reason).toBe('connect_refused');
    expectNone(served, 'health bodies and /metrics', canaries());
    expectNone(log, 'the log', canaries());
    expect(log).not.toContain('europe-north');
  });

  it('environment-only mode leaks secrets: vigil check --json, vigil check and vigil validate show none', async () => {
    for (const args of [['check', '--json'], ['check'], ['validate']]) {
      const run = await runCli(args, envOnly);
      expect(run.code, `vigil ${args.join(' ')}: ${run.stderr}`).toBe(args[0] === 'check' ? 1 : 0);
      expectNone(run.stdout + run.stderr, `vigil ${args.join(' ')}`, canaries());
    }
    const json = JSON.parse((await runCli(['check', '--json'], envOnly)).stdout);
    expect(json.checks.find((c: any) => c.name === 'api').output).toContain('/status/404?api_key=***&region=***');
  });

  it('environment-only mode leaks secrets: a config error naming such a URL masks it', async () => {
    const run = await runCli(['validate'], { ...envOnly, VIGIL_CHECK_BAD: `http:///?api_key=${QUERY_KEY}` });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VIGIL_CHECK_BAD');
    expect(run.stderr).toContain('api_key=***');
    expectNone(run.stdout + run.stderr, 'the config error', canaries());
  });
});

describe('over-masking garbles logs', () => {
  const KEY = canary('K19');
  const BEARER = canary('B19');
  const MARKED = canary('M19');
  const FILED = canary('F19', ' w"ü%');
  let upstream: Awaited<ReturnType<typeof echoingUpstream>>;
  let file = '';
  let env: Record<string, string> = {};
  beforeAll(async () => {
    upstream = await echoingUpstream();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-secret-'));
    writeFileSync(join(dir, 'content'), `${FILED}\n`);
    env = { PGUSER: 'postgres', PGDATABASE: 'nosuchdb_c19', K1: KEY, B1: BEARER, TENANT: MARKED, CONTENT_FILE: join(dir, 'content'), UPSTREAM: upstream.url };
    file = tempConfig(`
checks:
  db: { type: postgres, url: "postgres://\${PGUSER}@127.0.0.1:5432/\${PGDATABASE}", interval: 500ms, timeout: 400ms }
  api:
    type: http
    url: "\${UPSTREAM}/echo"
    headers: { X-Api-Key: "\${K1}", Authorization: "Bearer \${B1}", X-Tenant: "\${secret:TENANT}" }
    followRedirects: true
    interval: 500ms
    timeout: 400ms
  filed: { type: http, url: "\${UPSTREAM}/status/\${CONTENT}", interval: 500ms, timeout: 400ms }
`);
  });
  afterAll(async () => upstream.close());

  it('over-masking garbles logs: a value that is no secret stays readable, every secret is masked', async () => {
    const { entry, served, log } = await everyOutputOfServe(['--config', file], env);
    expect(entry('db').output).toBe('postgres 127.0.0.1:5432/nosuchdb_c19 refused the login: database "nosuchdb_c19" does not exist (SQLSTATE 3D000)');
    expect(log).toContain('"type":"postgres"');
    expect(log).not.toContain('"type":"***"');
    expect(entry('api').output).toBe(`GET ${upstream.url}/seen/***/***/*** answered 404, expected 200-399`);
    expect(entry('filed').output).toBe(`GET ${upstream.url}/status/*** answered 404, expected 200-399`);
    expect(upstream.seen['x-api-key']).toBe(KEY);
    expectNone(served, 'health bodies and /metrics', [KEY, BEARER, MARKED, FILED]);
    expectNone(log, 'the log', [KEY, BEARER, MARKED, FILED]);
  });

  it('over-masking garbles logs: vigil check shows the non-secret values and none of the secrets', async () => {
    const run = await runCli(['check', '--json', '--config', file], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('database \\"nosuchdb_c19\\" does not exist');
    expectNone(run.stdout + run.stderr, 'vigil check --json', [KEY, BEARER, MARKED, FILED]);
  });
});

describe('interpolated values are retyped', () => {
  const API_KEY = '0042424242424242424242';
  let upstream: Awaited<ReturnType<typeof echoingUpstream>>;
  beforeAll(async () => {
    upstream = await echoingUpstream();
  });
  afterAll(async () => upstream.close());

  it('interpolated values are retyped: a numeric API key is sent exactly as set, a port is still a number', async () => {
    const file = tempConfig(`
server:
  serviceId: 1\${MINOR}
checks:
  api:
    type: http
    url: "\${UPSTREAM}/echo"
    headers:
      X-Api-Key: \${API_KEY}
    expect: { status: [302] }
  port: { type: tcp, host: 127.0.0.1, port: "\${UPSTREAM_PORT}" }
`);
    const env = { API_KEY, MINOR: '2', UPSTREAM: upstream.url, UPSTREAM_PORT: String(upstream.port) };
    const validated = await runCli(['validate', '--config', file], env);
    expect(validated.stderr).toBe('');
    expect(validated.code).toBe(0);
    const agent = await serve(['--config', file], await freePort(), env);
    try {
      const ready = await waitFor('ready', async () => {
        const r = await getJson(`${agent.url}/health/ready`);
        return r.status === 200 ? r.body : undefined;
      });
      expect(ready.serviceId).toBe('12');
      expect(upstream.seen['x-api-key']).toBe(API_KEY);
    } finally {
      agent.kill();
    }
  });

  it('interpolated values are retyped: a config error never shows a secret altered into a number', async () => {
    const file = tempConfig(`checks:\n  t:\n    type: tcp\n    host: h\n    port: \${API_KEY}\n`);
    const run = await runCli(['validate', '--config', file], { API_KEY });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('checks.t.port: "***" must be a number');
    expect(run.stderr).not.toMatch(/4242424/);
  });
});

describe('username-only and percent-encoded secrets', () => {
  const TOKEN = canary('T21');
  const USER_TOKEN = canary('U21', ' w"ü@%25');
  const PASSWORD = canary('P21', ' b@c ');
  let upstream: Awaited<ReturnType<typeof echoingUpstream>>;
  let file = '';
  let env: Record<string, string> = {};
  beforeAll(async () => {
    upstream = await echoingUpstream();
    env = { API_TOKEN: TOKEN, GH_USER: USER_TOKEN, UPSTREAM_WORD: PASSWORD, UPSTREAM: upstream.url, PORT: String(upstream.port) };
    file = tempConfig(`
checks:
  path: { type: http, url: "\${UPSTREAM}/status/\${API_TOKEN}?token=\${API_TOKEN}", interval: 500ms, timeout: 400ms }
  user: { type: http, url: "http://\${GH_USER}@127.0.0.1:\${PORT}/status/404", interval: 500ms, timeout: 400ms }
  basic: { type: http, url: "http://svc:\${UPSTREAM_WORD}@127.0.0.1:\${PORT}/basic", followRedirects: true, interval: 500ms, timeout: 400ms }
`);
  });
  afterAll(async () => upstream.close());
  const canaries = () => [TOKEN, USER_TOKEN, PASSWORD];

  it('username-only and percent-encoded secrets: masked in health bodies, /metrics and debug logs', async () => {
    const { entry, served, log } = await everyOutputOfServe(['--config', file], env);
    expect(entry('path').output).toBe(`GET ${upstream.url}/status/***?token=*** answered 404, expected 200-399`);
    expect(entry('user').output).toBe(`GET http://***@127.0.0.1:${upstream.port}/status/404 answered 404, expected 200-399`);
    expect(entry('basic').output).toBe(`GET http://***@127.0.0.1:${upstream.port}/seen/*** answered 404, expected 200-399`);
    expectNone(served, 'health bodies and /metrics', canaries());
    expectNone(log, 'the log', canaries());
  });

  it('username-only and percent-encoded secrets: masked in vigil check, and in a config error showing the URL as written', async () => {
    const run = await runCli(['check', '--json', '--config', file], env);
    expect(run.code).toBe(1);
    expectNone(run.stdout + run.stderr, 'vigil check --json', canaries());
    const bad = tempConfig(`
checks:
  basic: { type: redis, url: "http://svc:\${UPSTREAM_WORD}@127.0.0.1/" }
  user: { type: redis, url: "http://\${GH_USER}@127.0.0.1/" }
`);
    const invalid = await runCli(['validate', '--config', bad], env);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('checks.basic.url: "http://***@127.0.0.1/" must be a redis:// or rediss:// URL');
    expectNone(invalid.stdout + invalid.stderr, 'vigil validate', canaries());
  });
});

describe("the drivers' debug output", () => {
  it('DEBUG=* never prints a driver\'s commands, credentials among them: it is turned off, saying so', async () => {
    const config = tempConfig(`checks:\n  cache: { type: redis, url: "redis://:DebugCanary77x@127.0.0.1:6379/0" }\n`);
    const run = await runCli(['check', '--config', config], { DEBUG: '*' });
    expect(`${run.stdout}${run.stderr}`).not.toContain('DebugCanary77x');
    const lines = run.stderr.trim().split('\n').filter(Boolean);
    expect(lines.map((line) => JSON.parse(line))).toEqual([expect.objectContaining({ level: 'warn', variable: 'DEBUG' })]);
  });
});
