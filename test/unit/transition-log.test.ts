// The transition log as a result subscriber: a line per change of status, each attempt at debug only.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createTransitionLog } from '../../src/transition-log.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

const T = 1_000_000;

function logAt(level: 'debug' | 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level, write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>), now: () => 0 });
  return { lines, subscriber: createTransitionLog(log) };
}

describe('the transition log', () => {
  it('transition log: a critical check failing is a warning, passing and a non-critical failure are info, with the fixed fields', () => {
    const { lines, subscriber } = logAt('info');
    subscriber.onResult(checkConfig('db'), fail(T, 'auth', 'password refused'), { from: 'pending', to: 'fail' });
    subscriber.onResult(checkConfig('db'), pass(T, 1.234), { from: 'fail', to: 'pass' });
    subscriber.onResult(checkConfig('cache', { critical: false }), fail(T), { from: 'pass', to: 'fail' });
    subscriber.onResult(checkConfig('db'), pass(T), undefined);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'warn', msg: 'check db fails', check: 'db', type: 'fake', durationMs: 2, reason: 'auth', output: 'password refused', from: 'pending', to: 'fail' }),
      expect.objectContaining({ level: 'info', msg: 'check db passes', check: 'db', durationMs: 1.23, from: 'fail', to: 'pass' }),
      expect.objectContaining({ level: 'info', msg: 'check cache fails', from: 'pass', to: 'fail' }),
    ]);
  });

  it('transition log: starting and stopping to warn are info lines, the warning as output', () => {
    const { lines, subscriber } = logAt('info');
    const warned = { ...pass(T, 812.4), warning: 'warnIf latency > 500ms: observed 812.4 ms' };
    subscriber.onResult(checkConfig('api'), warned, { from: 'pass', to: 'warn' });
    subscriber.onResult(checkConfig('api'), pass(T), { from: 'warn', to: 'pass' });
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'check api passes with a warning', output: 'warnIf latency > 500ms: observed 812.4 ms', from: 'pass', to: 'warn' }),
      expect.objectContaining({ level: 'info', msg: 'check api passes', from: 'warn', to: 'pass' }),
    ]);
  });

  it('transition log: an attempt that changes nothing is logged at debug only', () => {
    const { lines, subscriber } = logAt('debug');
    subscriber.onResult(checkConfig('db'), fail(T, 'timeout', 'too slow'), undefined);
    expect(lines).toEqual([expect.objectContaining({ level: 'debug', msg: 'attempt', check: 'db', ok: false, reason: 'timeout', output: 'too slow' })]);
  });
});
