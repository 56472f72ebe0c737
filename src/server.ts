// The HTTP face of the agent: /health, /health/<group>, /metrics and the routes the agent adds (POST
// /heartbeat/<check>), and who may see details. Health handlers read cached state only; a request never
// starts a probe. Bodies come from the body cache.
import { Hono, type Context } from 'hono';
import { createBodyCache } from './body-cache.js';
import { bearerOf, isLoopbackCaller, isSameSecret } from './callers.js';
import { createHealthRenderer, HEALTH_CONTENT_TYPE, type BodyMeta } from './health.js';
import type { Logger } from './log.js';
import type { SelfEntry } from './self-health.js';
import type { State } from './state.js';

export interface DetailsPolicy {
  /** Per-check entries for every caller. */
  readonly exposeDetails: boolean;
  /**
   * Loopback callers see details. Behind a reverse proxy in the same pod every caller arrives from
   * loopback: false treats them like any other.
   */
  readonly trustLoopback: boolean;
  /** A bearer token that unlocks details when they are not exposed. */
  readonly token?: string;
}

export interface AppOptions {
  readonly state: State;
  /** The /metrics exposition text and its content type. */
  readonly metrics: { render(): Promise<Uint8Array<ArrayBuffer> | string>; readonly contentType: string };
  readonly log: Logger;
  readonly meta: () => BodyMeta;
  readonly details: () => DetailsPolicy;
  /** The agent's own entries, added to /health/live. */
  readonly self?: () => readonly SelfEntry[];
  readonly now?: () => number;
  /** Further routes (any method), answered before the not-found handler: e.g. POST /heartbeat/:name. */
  readonly routes?: readonly Route[];
}

export interface Route {
  /** A hono path pattern. */
  readonly path: string;
  readonly handler: (c: Context) => Response | Promise<Response>;
}

const NO_STORE = 'no-store';
/**
 * A plain object, given to the Response as is: @hono/node-server writes it to node:http without
 * building a Headers object per request (what `c.body(…, headers)` does for two headers or more).
 */
const HEALTH_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'Content-Type': HEALTH_CONTENT_TYPE, 'Cache-Control': NO_STORE });

export function createApp(options: AppOptions): Hono {
  const { state, metrics, log } = options;
  const now = options.now ?? Date.now;
  const app = new Hono({ strict: false });
  const renderHealth = createHealthRenderer();
  const bodies = createBodyCache({ state, render: renderHealth, meta: options.meta, now });

  const mayShowDetails = (c: Context): boolean => {
    const policy = options.details();
    if (policy.exposeDetails) return true;
    if (policy.trustLoopback && isLoopbackCaller(c)) return true;
    if (!policy.token || c.req.header('authorization') === undefined) return false;
    const given = bearerOf(c);
    if (given !== undefined && isSameSecret(given, policy.token)) return true;
    log.debug('details withheld: the Authorization header does not carry the details token', { path: c.req.path });
    return false;
  };

  const health = (c: Context, group: string | undefined) => {
    const withDetails = mayShowDetails(c);
    if (group !== undefined && !state.groups().includes(group)) {
      // The names of the groups say what the application depends on: only for callers who may see details.
      const body = withDetails ? { error: `no health group "${group}"`, groups: state.groups() } : { error: `no health group "${group}"` };
      return c.json(body, 404, { 'Cache-Control': NO_STORE });
    }
    if (group === 'live' && options.self) {
      // The agent's own measurements change every time: rendered per request (a probe every few seconds).
      const rendered = renderHealth(state.verdict(group, now()), options.meta(), withDetails, options.self());
      return new Response(rendered.bytes, { status: rendered.statusCode, headers: HEALTH_HEADERS });
    }
    const body = bodies.get(group, withDetails);
    return new Response(body.bytes, { status: body.statusCode, headers: HEALTH_HEADERS });
  };

  app.get('/health', (c) => health(c, undefined));
  app.get('/health/:group', (c) => health(c, c.req.param('group')));
  app.get('/metrics', async (c) => {
    return c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType });
  });
  for (const route of options.routes ?? []) app.all(route.path, route.handler);
  // Not a route of its own: a catch-all would match every request beside its route, and hono runs
  // two matched handlers through its middleware chain instead of calling the one directly.
  app.notFound((c) => {
    const path = c.req.path.replace(/\/+$/, '');
    const known = path === '/metrics' || path === '/health' || path.startsWith('/health/');
    if (known && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      return c.json({ error: `method ${c.req.method} not allowed` }, 405, { Allow: 'GET, HEAD' });
    }
    if (!mayShowDetails(c)) return c.json({ error: 'not found' }, 404);
    return c.json({ error: 'not found', endpoints: ['/health', ...state.groups().map((g) => `/health/${g}`), '/metrics'] }, 404);
  });
  app.onError((error, c) => {
    log.error('request failed', { path: c.req.path, error: error.message });
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
