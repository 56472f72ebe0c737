// Every kind leaves nothing on its attempt's signal once the attempt settles: pass, refused and
// hung (aborted at the deadline). A listener left behind is kept alive by whatever holds the
// signal; a signal shared across attempts grew by one listener per attempt (a tcp check leaked
// ~3 KB per attempt that way).
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import type { CheckKind } from '../../src/check.js';
import { attempt } from '../../src/scheduler.js';
import { checkConfig } from '../helpers/fixtures.js';
import { freePort, startBlackhole, startUpstream, type Blackhole, type Upstream } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

let upstream: Upstream;
let blackhole: Blackhole;
beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
  blackhole = await startBlackhole();
});
afterAll(async () => {
  await upstream.close();
  await blackhole.close();
});

const withPort = (url: string, port: number) => Object.assign(new URL(url), { port: String(port) }).href;
/** Options of each kind for a target on `port`, or its real server when port is undefined. */
const targets: Record<string, (port?: number) => Record<string, unknown>> = {
  postgres: (port) => ({ url: port === undefined ? PG_URL : withPort(PG_URL, port) }),
  redis: (port) => ({ url: port === undefined ? REDIS_URL : withPort(REDIS_URL, port) }),
  http: (port) => ({ url: `http://127.0.0.1:${port ?? upstream.port}/` }),
  tcp: (port) => ({ host: '127.0.0.1', port: port ?? upstream.port }),
};

/** One attempt through the core's deadline; resolves once the kind's own work has settled. */
async function attemptAndSettle(kind: CheckKind, options: Record<string, unknown>) {
  const check = checkConfig(`signal-${kind.type}`, { type: kind.type, timeoutMs: 300, intervalMs: 1000, options: kind.options.parse(options) as Record<string, unknown> });
  await kind.prepare?.();
  const controller = new AbortController();
  let settled!: () => void;
  const isSettled = new Promise<void>((resolve) => (settled = resolve));
  const result = await attempt(check, (c, ctx) => kind.run(c.options, ctx), { controller, onSettled: () => settled() });
  await isSettled;
  return { result, listeners: getEventListeners(controller.signal, 'abort').length };
}

describe('attempt signals (tcp checks leak ~3 KB per attempt)', () => {
  it('has a target for every registered kind', () => {
    expect(kinds.map((k) => k.type).filter((type) => !targets[type])).toEqual([]);
  });

  for (const kind of kinds) {
    it(`${kind.type}: no listener is left on the attempt's signal after a pass, a refusal or a timeout`, async () => {
      const target = targets[kind.type]!;
      const pass = await attemptAndSettle(kind, target());
      expect(pass.result).toMatchObject({ ok: true });
      const refused = await attemptAndSettle(kind, target(await freePort()));
      expect(refused.result).toMatchObject({ ok: false, reason: 'connect_refused' });
      const hung = await attemptAndSettle(kind, target(blackhole.port));
      // A tcp check cannot tell a hung server from a healthy one: it passes.
      expect(hung.result).toMatchObject(kind.type === 'tcp' ? { ok: true } : { ok: false, reason: 'timeout' });
      expect({ pass: pass.listeners, refused: refused.listeners, hung: hung.listeners }).toEqual({ pass: 0, refused: 0, hung: 0 });
    });
  }
});
