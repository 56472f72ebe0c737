// The body cache of the health routes: bodies rendered once per change; the status always exact,
// the details lagging a result by MIN_RERENDER_MS at most; staleness and a new meta re-render.
import { describe, expect, it } from 'vitest';
import { createBodyCache, MIN_RERENDER_MS } from '../../src/body-cache.js';
import { createHealthRenderer, type BodyMeta } from '../../src/health.js';
import { createState, type State } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

const T = 1_000_000;
const json = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString()) as { status: string; version: string; checks?: Record<string, [{ observedValue: number; reason?: string }]> };

function cacheOver(state: State) {
  let at = T;
  let meta: BodyMeta = { version: '1', serviceId: 'pod', description: '' };
  const calls = { renders: 0, verdicts: 0 };
  const render = createHealthRenderer();
  // The real state and renderer, counted.
  const counted: State = Object.create(state, {
    verdict: { value: (group: string | undefined, now: number) => (calls.verdicts++, state.verdict(group, now)) },
  }) as State;
  const bodies = createBodyCache({ state: counted, render: (...args) => (calls.renders++, render(...args)), meta: () => meta, now: () => at });
  return {
    bodies,
    calls,
    advance: (ms: number) => (at += ms),
    now: () => at,
    setMeta: (next: BodyMeta) => (meta = next),
  };
}

function stateWithDb() {
  const state = createState();
  state.add(checkConfig('db', { staleAfterMs: 3000 }), 'datastore');
  state.add(checkConfig('cache', { critical: false }), 'datastore');
  return state;
}

describe('body cache', () => {
  it('body cache: with no change, every request gets the same bytes, rendered once', () => {
    const state = stateWithDb();
    state.record('db', pass(T));
    const { bodies, calls, advance } = cacheOver(state);
    const first = bodies.get('ready', true);
    advance(2000);
    for (let i = 0; i < 100; i++) expect(bodies.get('ready', true)).toBe(first);
    expect(calls.renders).toBe(1);
  });

  it('body cache: a result that keeps every check\'s status serves the previous details for up to MIN_RERENDER_MS, the status not re-derived', () => {
    const state = stateWithDb();
    state.record('db', pass(T, 1));
    const { bodies, calls, advance, now } = cacheOver(state);
    const first = bodies.get('ready', true);
    advance(10);
    state.record('db', pass(now(), 7));
    for (let i = 0; i < 10; i++) expect(bodies.get('ready', true)).toBe(first);
    // With a thousand checks a result lands every few milliseconds: deriving the group's status
    // for each (every check's entry) was most of a request's cost.
    expect(calls).toEqual({ renders: 1, verdicts: 1 });
    advance(MIN_RERENDER_MS);
    const later = bodies.get('ready', true);
    expect(json(later.bytes).checks?.['db:responseTime']?.[0].observedValue).toBe(7);
    expect(calls.renders).toBe(2);
  });

  it('body cache: a result that changes the status is served at once, the status always exact', () => {
    const state = stateWithDb();
    state.record('db', pass(T));
    const { bodies, advance, now } = cacheOver(state);
    expect(bodies.get('ready', false).statusCode).toBe(200);
    advance(1);
    state.record('db', fail(now(), 'auth', 'password refused'));
    const failing = bodies.get('ready', false);
    expect(failing.statusCode).toBe(503);
    expect(json(failing.bytes).status).toBe('fail');
    advance(1);
    state.record('db', pass(now()));
    expect(bodies.get('ready', false).statusCode).toBe(200);
  });

  it('body cache: within MIN_RERENDER_MS, a check turning warn, and a first pass that starts the application, are served at once', () => {
    const state = createState();
    state.add(checkConfig('db', { successThreshold: 2 }), 'datastore');
    state.add(checkConfig('cache', { critical: false }), 'datastore');
    state.record('cache', pass(T));
    const { bodies, advance, now } = cacheOver(state);
    expect(bodies.get('startup', false).statusCode).toBe(503);
    expect(json(bodies.get('ready', false).bytes).status).toBe('fail');
    advance(1);
    // Still pending (one of two successes), but it has passed: startup passes.
    state.record('db', pass(now()));
    expect(bodies.get('startup', false).statusCode).toBe(200);
    advance(1);
    state.record('db', pass(now()));
    expect(json(bodies.get('ready', false).bytes).status).toBe('pass');
    advance(1);
    state.record('cache', { ...pass(now()), warning: 'warnIf latency > 1ms' });
    expect(json(bodies.get('ready', false).bytes).status).toBe('warn');
  });

  it('body cache: a result turning stale re-renders with no new result (validUntil)', () => {
    const state = stateWithDb();
    state.record('db', pass(T, 1));
    const { bodies, advance } = cacheOver(state);
    expect(bodies.get('ready', true).statusCode).toBe(200);
    advance(3000);
    expect(bodies.get('ready', true).statusCode).toBe(200);
    advance(2);
    const stale = bodies.get('ready', true);
    expect(stale.statusCode).toBe(503);
    expect(json(stale.bytes).checks?.['db:responseTime']?.[0].reason).toBe('stale');
  });

  it('body cache: a check decided within MIN_RERENDER_MS that turns stale before it ends is served stale (validUntil brought forward)', () => {
    const state = createState();
    state.add(checkConfig('db', { groups: ['live'] }), 'datastore');
    state.add(checkConfig('fast', { groups: ['live'], intervalMs: 20, timeoutMs: 10, staleAfterMs: 50 }), 'datastore');
    state.record('db', pass(T));
    const { bodies, advance, now } = cacheOver(state);
    // fast is pending, which live counts as passing: the body holds until db's result turns stale.
    expect(bodies.get('live', false).statusCode).toBe(200);
    advance(1);
    // Its first result keeps live passing, and turns stale 50 ms after it ends.
    state.record('fast', pass(now()));
    expect(bodies.get('live', false).statusCode).toBe(200);
    advance(60);
    expect(state.verdict('live', now()).status).toBe('fail');
    expect(bodies.get('live', false).statusCode).toBe(503);
  });

  it('body cache: a result ending before the one it replaces (the clock stepped back) brings its staleness forward', () => {
    const state = stateWithDb();
    state.record('db', pass(T));
    const { bodies, advance, now } = cacheOver(state);
    advance(10);
    expect(bodies.get('ready', false).statusCode).toBe(200);
    // The wall clock steps back a minute; the next result ends a minute before the last.
    advance(-60_000);
    state.record('db', pass(now() - 3));
    expect(bodies.get('ready', false).statusCode).toBe(200);
    // No result since: db is stale 3 s after its latest result ended, long before its previous would have been.
    advance(3_001);
    expect(state.verdict('ready', now()).status).toBe('fail');
    expect(bodies.get('ready', false).statusCode).toBe(503);
  });

  it('body cache: a new meta (a reload) re-renders, even within MIN_RERENDER_MS', () => {
    const state = stateWithDb();
    state.record('db', pass(T));
    const { bodies, setMeta, calls } = cacheOver(state);
    expect(json(bodies.get(undefined, false).bytes).version).toBe('1');
    setMeta({ version: '2', serviceId: 'pod', description: '' });
    expect(json(bodies.get(undefined, false).bytes).version).toBe('2');
    expect(calls.renders).toBe(2);
  });

  it('body cache: each group, and callers with and without details, have bodies of their own', () => {
    const state = stateWithDb();
    state.record('db', pass(T));
    const { bodies, calls } = cacheOver(state);
    const detailed = bodies.get('ready', true);
    const bare = bodies.get('ready', false);
    const all = bodies.get(undefined, true);
    expect(json(detailed.bytes).checks).toBeDefined();
    expect(json(bare.bytes).checks).toBeUndefined();
    expect(all).not.toBe(detailed);
    expect([bodies.get('ready', true), bodies.get('ready', false), bodies.get(undefined, true)]).toEqual([detailed, bare, all]);
    expect(calls.renders).toBe(3);
  });
});

/** A small seeded generator (the same sequence on every run). */
function seeded(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/**
 * Random results, waits, reloads of a check and a drain, asking after each for the groups' bodies:
 * returns the first body whose status is not the state's verdict at that moment, or undefined.
 * `stepsBack`: results may end before the previous one (the wall clock stepping back).
 */
function firstWrongStatus(seed: number, stepsBack: boolean): string | undefined {
  const random = seeded(seed);
  const pick = <V>(values: readonly V[]): V => values[Math.floor(random() * values.length)]!;
  const state = createState();
  const { bodies, advance, now } = cacheOver(state);
  const names = ['a', 'b', 'c', 'd'];
  const config = (name: string) =>
    checkConfig(name, {
      critical: random() < 0.7,
      staleAfterMs: pick([150, 300, 3000]),
      successThreshold: pick([1, 1, 2, 3]),
      failureThreshold: pick([1, 1, 2]),
      groups: pick([['ready'], ['live'], ['startup'], ['ready', 'live'], ['custom'], ['ready', 'startup']]),
    });
  for (let step = 0; step < 300; step++) {
    const op = random();
    const name = pick(names);
    const present = state.get(name) !== undefined;
    if (op < 0.05 && !present) state.add(config(name), 'datastore');
    else if (op < 0.07 && present) state.update(config(name), 'datastore');
    else if (op < 0.08 && present) state.remove(name);
    else if (op < 0.081) state.setDraining();
    else if (op >= 0.08 && op < 0.6 && present) {
      const durationMs = Math.floor(random() * 50);
      const startedAt = stepsBack ? now() - Math.floor(random() * 200) : now() - durationMs;
      const kind = pick(['pass', 'fail', 'warn'] as const);
      if (kind === 'fail') state.record(name, { ok: false, startedAt, durationMs, reason: 'connect_refused', message: 'refused' });
      else state.record(name, { ok: true, startedAt, durationMs, ...(kind === 'warn' ? { warning: 'warnIf latency > 1ms' } : {}) });
    } else if (op >= 0.6) advance(pick([0, 1, 5, 20, 60, 99, 100, 150, 400]));
    for (const group of [undefined, 'ready', 'live', 'startup', 'custom']) {
      for (const withDetails of [true, false]) {
        if (random() < 0.5) continue;
        const served = json(bodies.get(group, withDetails).bytes).status;
        const verdict = state.verdict(group, now()).status;
        if (served !== verdict) return `seed ${seed}, step ${step}, group ${group ?? '(all)'}: served ${served}, the verdict is ${verdict}`;
      }
    }
  }
  return undefined;
}

describe('body cache against the state', () => {
  it('body cache: whatever happens between requests, every body served has the verdict\'s status', () => {
    const wrong: string[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      for (const stepsBack of [false, true]) {
        const found = firstWrongStatus(seed, stepsBack);
        if (found !== undefined) wrong.push(found);
      }
    }
    expect(wrong).toEqual([]);
  });
});
