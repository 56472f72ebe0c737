// The built-in groups' rules as data, the startup latch set by results (never by a query), and the
// reasons an entry or a group can carry.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { FAILURE_REASONS, type FailureReason } from '../../src/errors.js';
import { AGENT_REASONS, createState, GROUP_RULES, type AgentReason, type Entry, type GroupReason, type Verdict } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

const T = 1_000_000;

describe('group rules as data', () => {
  it('group rules: the built-in groups are the rows of GROUP_RULES, listed before any declared group', () => {
    const state = createState();
    state.add(checkConfig('queue', { groups: ['batch'] }), 'component');
    expect(state.groups()).toEqual([...Object.keys(GROUP_RULES), 'batch']);
    expect(GROUP_RULES).toMatchObject({ live: { pendingPasses: true }, startup: { fallbackTo: 'ready', latches: true } });
  });

  it('group rules: a declared group follows the ready rule (pending fails, draining fails), live its own', () => {
    const state = createState();
    state.add(checkConfig('queue', { groups: ['batch'] }), 'component');
    state.add(checkConfig('disk', { groups: ['live'] }), 'system');
    expect(state.verdict('batch', T)).toMatchObject({ status: 'fail', entries: [{ reason: 'pending' }] });
    expect(state.verdict('live', T)).toMatchObject({ status: 'pass', entries: [{ status: 'pass', reason: 'pending' }] });
    state.setDraining();
    expect(state.verdict('batch', T)).toMatchObject({ status: 'fail', reason: 'draining' });
    expect(state.verdict('live', T).status).toBe('pass');
  });

  it('group rules: startup latches when the last critical member\'s first pass is recorded, whether or not anyone asked', () => {
    const state = createState();
    state.add(checkConfig('db'), 'datastore');
    state.add(checkConfig('cache'), 'datastore');
    state.add(checkConfig('optional', { critical: false }), 'datastore');
    state.record('db', pass(T));
    state.record('cache', pass(T));
    // A reload adds a critical check that has no result yet: started stays started.
    state.add(checkConfig('api'), 'component');
    expect(state.verdict('startup', T + 1)).toMatchObject({ status: 'pass' });
    expect(state.verdict('ready', T + 1).status).toBe('fail');
  });

  it('group rules: startup waits for every critical member whatever the order of first passes, asks and changes (a kept count)', () => {
    const state = createState();
    for (const name of ['a', 'b', 'c']) state.add(checkConfig(name), 'component');
    state.add(checkConfig('optional', { critical: false }), 'component');
    state.add(checkConfig('batch', { groups: ['batch'] }), 'component');
    expect(state.verdict('startup', T).status).toBe('fail');
    state.record('b', pass(T));
    state.record('b', pass(T));
    state.record('optional', pass(T));
    state.record('batch', pass(T));
    expect(state.verdict('startup', T).status).toBe('fail');
    // A reload makes the optional check critical: it has passed already, so it is not waited for.
    state.update(checkConfig('optional'), 'component');
    state.record('a', fail(T));
    state.record('a', pass(T));
    expect(state.verdict('startup', T).status).toBe('fail');
    // The last critical member is removed before it passed: the others have all passed.
    state.remove('c');
    expect(state.verdict('startup', T).status).toBe('pass');
    // Not latched by the query: a critical member added now is waited for; its first pass latches.
    state.add(checkConfig('d'), 'component');
    expect(state.verdict('startup', T).status).toBe('fail');
    state.record('d', pass(T));
    state.add(checkConfig('e'), 'component');
    expect(state.verdict('startup', T).status).toBe('pass');
  });

  it('group rules: a query never latches startup; the same history gives the same answer, asked or not', () => {
    const history = (ask: boolean) => {
      const state = createState();
      state.add(checkConfig('db'), 'datastore');
      state.add(checkConfig('cache'), 'datastore');
      state.record('db', fail(T));
      state.record('cache', pass(T));
      state.remove('db');
      const version = state.version;
      // Every critical member left has passed: startup passes, though nothing latched it.
      if (ask) expect(state.verdict('startup', T + 1).status).toBe('pass');
      expect(state.version).toBe(version);
      state.add(checkConfig('api'), 'component');
      return state.verdict('startup', T + 2).status;
    };
    expect(history(true)).toBe(history(false));
    expect(history(true)).toBe('fail');
  });
});

describe('reasons are typed', () => {
  it('reasons: an entry carries a failure reason or one of the agent\'s own, a group only draining', () => {
    expectTypeOf<NonNullable<Entry['reason']>>().toEqualTypeOf<FailureReason | AgentReason>();
    expectTypeOf<NonNullable<Verdict['reason']>>().toEqualTypeOf<GroupReason>();
    const state = createState();
    state.add(checkConfig('pending'), 'component');
    state.add(checkConfig('refused'), 'component');
    state.add(checkConfig('old', { staleAfterMs: 10 }), 'component');
    state.add(checkConfig('recovering', { successThreshold: 2 }), 'component');
    state.record('refused', fail(T, 'connect_refused'));
    state.record('old', pass(T - 1000));
    state.record('recovering', fail(T, 'auth'));
    state.record('recovering', pass(T));
    const reasons = state.verdict('ready', T).entries.map((entry) => entry.reason);
    expect(reasons).toEqual(['pending', 'connect_refused', 'stale', 'auth']);
    for (const reason of reasons) expect([...FAILURE_REASONS, ...AGENT_REASONS]).toContain(reason);
    state.setDraining();
    expect(state.verdict('ready', T).reason).toBe('draining');
  });
});
