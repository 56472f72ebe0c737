import { describe, expect, it } from 'vitest';
import { createState } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

const T = 1_000_000;

function stateWith(...configs: ReturnType<typeof checkConfig>[]) {
  const state = createState();
  for (const config of configs) state.add(config, 'datastore');
  return state;
}

describe('aggregation', () => {
  it('keeps a group failing while a check has no result (pending)', () => {
    const state = stateWith(checkConfig('db'));
    const verdict = state.verdict('ready', T);
    expect(verdict.status).toBe('fail');
    expect(verdict.entries[0]).toMatchObject({ status: 'fail', reason: 'pending' });
  });

  it.each([
    // critical, result, expected group status
    [true, 'pass', 'pass'],
    [true, 'fail', 'fail'],
    [false, 'pass', 'pass'],
    [false, 'fail', 'warn'],
  ] as const)('critical=%s and a %s gives %s', (critical, outcome, expected) => {
    const state = stateWith(checkConfig('db', { critical }), checkConfig('ok'));
    state.record('ok', pass(T));
    state.record('db', outcome === 'pass' ? pass(T) : fail(T));
    expect(state.verdict('ready', T).status).toBe(expected);
  });

  it('counts a non-critical pending check as warn, a critical one as fail', () => {
    expect(stateWith(checkConfig('a', { critical: false })).verdict('ready', T).status).toBe('warn');
  });

  it('aggregates each group over its own members only', () => {
    const state = stateWith(checkConfig('db', { groups: ['ready', 'batch'] }), checkConfig('queue', { groups: ['batch'] }));
    state.record('db', pass(T));
    state.record('queue', fail(T));
    expect(state.verdict('ready', T).status).toBe('pass');
    expect(state.verdict('batch', T).status).toBe('fail');
    expect(state.verdict(undefined, T).status).toBe('fail');
    expect(state.groups()).toEqual(expect.arrayContaining(['live', 'ready', 'startup', 'batch']));
  });

  it('passes liveness whatever the dependencies do, unless a check joins live', () => {
    const state = stateWith(checkConfig('db'));
    state.record('db', fail(T));
    expect(state.verdict('live', T)).toMatchObject({ status: 'pass', entries: [] });
    const opted = stateWith(checkConfig('disk', { groups: ['live'] }));
    expect(opted.verdict('live', T).status).toBe('pass'); // pending never fails liveness
    opted.record('disk', fail(T));
    expect(opted.verdict('live', T).status).toBe('fail');
  });

  it('fails readiness with reason draining once draining, whatever the checks', () => {
    const state = stateWith(checkConfig('db'));
    state.record('db', pass(T));
    state.setDraining();
    expect(state.verdict('ready', T)).toMatchObject({ status: 'fail', reason: 'draining' });
    expect(state.verdict('live', T).status).toBe('pass');
  });
});

describe('thresholds and staleness', () => {
  it('turns failing only after failureThreshold consecutive failures', () => {
    const state = stateWith(checkConfig('db', { failureThreshold: 3 }));
    expect(state.record('db', pass(T))).toEqual({ from: 'pending', to: 'pass' });
    expect(state.record('db', fail(T + 1))).toBeUndefined();
    expect(state.record('db', fail(T + 2))).toBeUndefined();
    expect(state.verdict('ready', T + 2).status).toBe('pass');
    expect(state.record('db', fail(T + 3))).toEqual({ from: 'pass', to: 'fail' });
    expect(state.get('db')).toMatchObject({ consecutiveFailures: 3, consecutiveSuccesses: 0 });
  });

  it('turns passing only after successThreshold consecutive successes', () => {
    const state = stateWith(checkConfig('db', { successThreshold: 2 }));
    state.record('db', fail(T));
    expect(state.record('db', pass(T + 1))).toBeUndefined();
    expect(state.verdict('ready', T + 1).status).toBe('fail');
    expect(state.record('db', pass(T + 2))).toEqual({ from: 'fail', to: 'pass' });
  });

  it('successThreshold > 1: a first success is pending with a reason that says why, not a bare fail', () => {
    const state = stateWith(checkConfig('db', { successThreshold: 3 }));
    state.record('db', pass(T));
    const [entry] = state.verdict('ready', T + 1).entries;
    expect(entry).toMatchObject({ status: 'fail', reason: 'pending', message: '1 of 3 consecutive successes needed (successThreshold)' });
    // Recovering from a failure: the failure's reason stays, and the message says how far along it is.
    state.record('db', fail(T + 2, 'auth', 'password refused'));
    state.record('db', pass(T + 3));
    expect(state.verdict('ready', T + 4).entries[0]).toMatchObject({
      status: 'fail',
      reason: 'auth',
      message: 'password refused (recovering: 1 of 3 consecutive successes needed (successThreshold))',
    });
  });

  it('a reload must not blip readiness: a changed check keeps its result until the new definition has one', () => {
    const state = stateWith(checkConfig('db'));
    state.record('db', pass(T));
    state.update(checkConfig('db', { timeoutMs: 700 }), 'datastore');
    expect(state.verdict('ready', T + 1)).toMatchObject({ status: 'pass' });
    expect(state.get('db')?.config.timeoutMs).toBe(700);
    state.record('db', fail(T + 2));
    expect(state.verdict('ready', T + 3)).toMatchObject({ status: 'fail' });
  });

  it('counts a result older than staleAfter as failing with reason stale', () => {
    const state = stateWith(checkConfig('db', { staleAfterMs: 3000 }));
    state.record('db', pass(T, 10));
    expect(state.verdict('ready', T + 3000).status).toBe('pass');
    const late = state.verdict('ready', T + 3011);
    expect(late.status).toBe('fail');
    expect(late.entries[0]).toMatchObject({ reason: 'stale' });
  });

  it('keeps startup passed once every critical member passed once', () => {
    const state = stateWith(checkConfig('db'), checkConfig('cache'));
    state.record('db', pass(T));
    expect(state.verdict('startup', T).status).toBe('fail');
    state.record('cache', pass(T));
    expect(state.verdict('startup', T).status).toBe('pass');
    state.record('db', fail(T + 1));
    expect(state.verdict('startup', T + 1).status).toBe('pass');
    expect(state.verdict('ready', T + 1).status).toBe('fail');
  });

  it('uses the startup group alone when any check declares it', () => {
    const state = stateWith(checkConfig('db'), checkConfig('migrations', { groups: ['startup'] }));
    state.record('migrations', pass(T));
    expect(state.verdict('startup', T).status).toBe('pass');
  });
});
