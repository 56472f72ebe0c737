import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgent } from '../../src/agent.js';
import type { CheckKind } from '../../src/check.js';
import type { AgentConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { createApp, type DetailsPolicy } from '../../src/server.js';
import { createState } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

/** Bodies are asserted field by field. */
const json = (res: Response): Promise<any> => res.json();
const silent = createLogger({ write: () => undefined });
const meta = { version: '1.2.3', serviceId: 'pod-1', description: 'deps' };

function appWith(setup: (state: ReturnType<typeof createState>) => void, details: DetailsPolicy = { exposeDetails: true, trustLoopback: true }) {
  const state = createState();
  setup(state);
  const app = createApp({ state, metrics: { render: async () => '', contentType: 'text/plain' }, log: silent, meta: () => meta, details: () => details });
  return { app, state };
}

describe('health endpoints', () => {
  const now = Date.now();
  const seeded = () =>
    appWith((state) => {
      state.add(checkConfig('db'), 'datastore');
      state.add(checkConfig('cache', { critical: false }), 'datastore');
      state.record('db', pass(now, 4.256));
      state.record('cache', fail(now, 'connect_refused', 'connection to redis 127.0.0.1:6379 refused'));
    });

  it('serves the health+json body of the draft with per-check entries', async () => {
    const { app } = seeded();
    const res = await app.request('/health/ready');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/health+json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await json(res);
    expect(body).toMatchObject({ status: 'warn', version: '1.2.3', serviceId: 'pod-1', description: 'deps' });
    expect(body.checks['db:responseTime'][0]).toMatchObject({
      componentId: 'db',
      componentType: 'datastore',
      observedValue: 4.26,
      observedUnit: 'ms',
      status: 'pass',
      time: new Date(now).toISOString(),
    });
    expect(body.checks['cache:responseTime'][0]).toMatchObject({ status: 'fail', reason: 'connect_refused', output: 'connection to redis 127.0.0.1:6379 refused' });
  });

  it('answers 503 when a critical check fails, 503 while pending', async () => {
    const { app, state } = appWith((s) => s.add(checkConfig('db'), 'datastore'));
    const pending = await app.request('/health/ready');
    expect(pending.status).toBe(503);
    expect((await json(pending)).checks['db:responseTime'][0]).toMatchObject({ status: 'fail', reason: 'pending' });
    state.record('db', fail(Date.now()));
    expect((await app.request('/health/ready')).status).toBe(503);
    state.record('db', pass(Date.now()));
    expect((await app.request('/health/ready')).status).toBe(200);
  });

  it('treats HEAD, a trailing slash and a query string like the plain GET, never redirecting', async () => {
    const { app } = seeded();
    const plain = await app.request('/health/ready');
    for (const [path, method] of [['/health/ready/', 'GET'], ['/health/ready?verbose=1', 'GET'], ['/health/ready', 'HEAD']] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(plain.status);
      expect(res.headers.get('content-type')).toBe('application/health+json');
      expect(await res.text()).toBe(method === 'HEAD' ? '' : await plain.clone().text());
    }
  });

  it('serves /health with every check and /health/<group> for declared groups', async () => {
    const { app } = appWith((s) => {
      s.add(checkConfig('db'), 'datastore');
      s.add(checkConfig('queue', { groups: ['batch'] }), 'component');
      s.record('db', pass(Date.now()));
      s.record('queue', pass(Date.now()));
    });
    expect(Object.keys((await json(await app.request('/health'))).checks)).toEqual(['db:responseTime', 'queue:responseTime']);
    expect(Object.keys((await json(await app.request('/health/batch'))).checks)).toEqual(['queue:responseTime']);
    expect((await app.request('/health/live')).status).toBe(200);
  });

  it('answers JSON 404 for unknown paths and groups, 405 for other methods', async () => {
    const { app } = seeded();
    const missing = await app.request('/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await app.request('/health/nosuchgroup')).status).toBe(404);
    const post = await app.request('/health/ready', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('hides per-check entries when exposeDetails is false, except with the bearer token', async () => {
    const { app } = appWith((s) => s.add(checkConfig('db'), 'datastore'), { exposeDetails: false, trustLoopback: true, token: 'let-me-in' });
    const hidden = await json(await app.request('/health/ready'));
    expect(hidden).not.toHaveProperty('checks');
    expect(hidden.status).toBe('fail');
    const wrong = await json(await app.request('/health/ready', { headers: { Authorization: 'Bearer nope' } }));
    expect(wrong).not.toHaveProperty('checks');
    const shown = await json(await app.request('/health/ready', { headers: { Authorization: 'Bearer let-me-in' } }));
    expect(shown.checks).toHaveProperty('db:responseTime');
    expect(await json(await app.request('/health/ready', {}, remote('10.1.2.3')))).not.toHaveProperty('checks');
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(await json(await app.request('/health/ready', {}, remote(loopback)))).toHaveProperty('checks');
    }
  });

  const remote = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

  it('details policy behind a proxy: trustLoopback false treats loopback callers like any other', async () => {
    const policy = (trustLoopback: boolean) => ({ exposeDetails: false, trustLoopback, token: 'let-me-in' });
    const trusting = appWith((s) => s.add(checkConfig('db'), 'datastore'), policy(true)).app;
    const proxied = appWith((s) => s.add(checkConfig('db'), 'datastore'), policy(false)).app;
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(await json(await trusting.request('/health/ready', {}, remote(loopback)))).toHaveProperty('checks');
      expect(await json(await proxied.request('/health/ready', {}, remote(loopback)))).not.toHaveProperty('checks');
    }
    const bearer = await json(await proxied.request('/health/ready', { headers: { Authorization: 'Bearer let-me-in' } }, remote('127.0.0.1')));
    expect(bearer.checks).toHaveProperty('db:responseTime');
  });

  it('details policy behind a proxy: the 404 for an unknown group lists the groups only to callers who may see details', async () => {
    const { app } = appWith((s) => s.add(checkConfig('queue', { groups: ['batch'] }), 'component'), { exposeDetails: false, trustLoopback: false, token: 't0k' });
    const hidden = await app.request('/health/nosuchgroup', {}, remote('10.1.2.3'));
    expect(hidden.status).toBe(404);
    const text = await hidden.text();
    expect(text).not.toMatch(/batch|ready|live/);
    expect(JSON.parse(text)).toEqual({ error: 'no health group "nosuchgroup"' });
    const shown = await json(await app.request('/health/nosuchgroup', { headers: { Authorization: 'Bearer t0k' } }, remote('10.1.2.3')));
    expect(shown.groups).toEqual(['live', 'ready', 'startup', 'batch']);
  });

  it('the 404 endpoint list comes from the declared groups (custom ones too), only for callers who may see details', async () => {
    const { app } = appWith((s) => s.add(checkConfig('queue', { groups: ['batch'] }), 'component'), { exposeDetails: false, trustLoopback: true });
    const local = await json(await app.request('/nope', {}, remote('127.0.0.1')));
    expect(local.endpoints).toEqual(['/health', '/health/live', '/health/ready', '/health/startup', '/health/batch', '/metrics']);
    const other = await app.request('/nope', {}, remote('10.1.2.3'));
    expect(other.status).toBe(404);
    expect(await json(other)).toEqual({ error: 'not found' });
  });

  it('the Bearer scheme is case-insensitive; a wrong token is logged at debug, never the token itself', async () => {
    const lines: string[] = [];
    const state = createState();
    state.add(checkConfig('db'), 'datastore');
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const app = createApp({ state, metrics: { render: async () => '', contentType: 'text/plain' }, log, meta: () => meta, details: () => ({ exposeDetails: false, trustLoopback: false, token: 'S3cret-Token' }) });
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const body = await json(await app.request('/health/ready', { headers: { Authorization: `${scheme} S3cret-Token` } }, remote('10.1.2.3')));
      expect(body.checks, scheme).toHaveProperty('db:responseTime');
    }
    expect(lines).toEqual([]);
    for (const wrong of ['Bearer s3cret-token', 'Bearer S3cret-Token-2', 'Basic S3cret-Token', 'BearerS3cret-Token']) {
      expect(await json(await app.request('/health/ready', { headers: { Authorization: wrong } }, remote('10.1.2.3'))), wrong).not.toHaveProperty('checks');
    }
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(JSON.parse(line)).toMatchObject({ level: 'debug', msg: expect.stringMatching(/details withheld/) });
      expect(line.toLowerCase()).not.toContain('s3cret');
    }
  });

  it('adds the agent\'s own entries to /health/live and fails it when they fail', async () => {
    const state = createState();
    let stalled = false;
    const self = () => [{ key: 'vigil:eventLoopDelay', observedValue: stalled ? 3000 : 1, observedUnit: 'ms', status: stalled ? ('fail' as const) : ('pass' as const) }];
    const app = createApp({ state, metrics: { render: async () => '', contentType: 'text/plain' }, log: silent, meta: () => meta, details: () => ({ exposeDetails: true, trustLoopback: true }), self });
    const ok = await app.request('/health/live');
    expect(ok.status).toBe(200);
    expect((await json(ok)).checks['vigil:eventLoopDelay'][0]).toMatchObject({ componentId: 'vigil', componentType: 'system', status: 'pass' });
    stalled = true;
    expect((await app.request('/health/live')).status).toBe(503);
    expect((await app.request('/health/ready')).status).toBe(200);
  });
});

describe('requests never start probes', () => {
  it('answers thousands of requests with no attempt beyond the schedule', async () => {
    let runs = 0;
    const counting: CheckKind = { type: 'fake', componentType: 'component', schemes: [], options: z.strictObject({}), run: async () => void runs++ };
    const config: AgentConfig = {
      server: { host: '127.0.0.1', port: 0, maxConnections: 256, drainDelayMs: 0, drainMode: 'delay', exposeDetails: true, trustLoopback: true, serviceId: 'x', description: '', logLevel: 'error' },
      defaults: { intervalMs: 60_000, timeoutMs: 1000, failureThreshold: 1, successThreshold: 1, connection: 'fresh', reconnectEvery: 0 },
      checks: [checkConfig('a', { intervalMs: 60_000 })],
      secrets: [],
      warnings: [],
    };
    const agent = createAgent(config, { kinds: [counting], log: silent, version: '0' });
    await agent.start({ listen: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(1);
    for (let i = 0; i < 2000; i++) {
      const path = ['/health/ready', '/health', '/health/live', '/metrics'][i % 4]!;
      expect((await agent.app.request(path)).status).toBe(200);
    }
    expect(runs).toBe(1);
    await agent.stop();
  });
});
