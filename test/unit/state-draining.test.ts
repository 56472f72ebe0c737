// Group verdicts while draining and with no checks at all.
import { describe, expect, it } from 'vitest';
import { createState } from '../../src/state.js';
import { checkConfig, pass } from '../helpers/fixtures.js';

const T = 1_000_000;

describe('drain: while draining, every group except live fails', () => {
  it('drain: ready, startup, custom groups and a group with no members fail with reason draining; live passes', () => {
    const state = createState();
    state.add(checkConfig('db', { groups: ['ready', 'startup', 'batch'] }), 'datastore');
    state.add(checkConfig('disk', { groups: ['live'] }), 'system');
    state.record('db', pass(T));
    state.record('disk', pass(T));
    for (const group of ['ready', 'startup', 'batch', 'live']) expect(state.verdict(group, T).status).toBe('pass');
    state.setDraining();
    for (const group of ['ready', 'startup', 'batch']) expect(state.verdict(group, T)).toMatchObject({ status: 'fail', reason: 'draining' });
    expect(state.verdict('live', T)).toMatchObject({ status: 'pass' });
    expect(state.verdict('live', T).reason).toBeUndefined();
  });
});

describe('an empty config (no checks)', () => {
  it('empty config: every group passes, saying in its output that no checks are configured', () => {
    const state = createState();
    for (const group of ['ready', 'startup', undefined]) {
      expect(state.verdict(group, T)).toMatchObject({ status: 'pass', entries: [], output: 'no checks are configured' });
    }
    expect(state.verdict('live', T).output).toBeUndefined();
    state.add(checkConfig('db'), 'datastore');
    expect(state.verdict('ready', T).output).toBeUndefined();
  });
});
