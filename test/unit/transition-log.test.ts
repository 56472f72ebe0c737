// The transition log as a result subscriber: a line per change of status, each attempt at debug only.
import { afterEach, describe, expect, it, vi } from 'vitest';
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

  describe('a heartbeat check flapping', () => {
    afterEach(() => vi.useRealTimers());

    it('transition log: 4,000 alternating beats over 2 s write one line a second per heartbeat check, each later line saying how many changes it stands for; other checks are not limited', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const lines: Record<string, unknown>[] = [];
      const log = createLogger({ level: 'info', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>), now: () => 0 });
      const subscriber = createTransitionLog(log);
      const worker = checkConfig('worker', { type: 'heartbeat' });
      const other = checkConfig('other', { type: 'heartbeat' });
      const polled = checkConfig('db');
      for (let i = 0; i < 4000; i++) {
        const failing = i % 2 === 0;
        subscriber.onResult(worker, failing ? fail(T, 'reported', 'reported failing') : pass(T), failing ? { from: 'pass', to: 'fail' } : { from: 'fail', to: 'pass' });
        if (i < 3) subscriber.onResult(other, pass(T), { from: 'fail', to: 'pass' });
        if (i < 5) subscriber.onResult(polled, failing ? fail(T) : pass(T), failing ? { from: 'pass', to: 'fail' } : { from: 'fail', to: 'pass' });
        await vi.advanceTimersByTimeAsync(0.5);
      }
      await vi.advanceTimersByTimeAsync(5000);
      const of = (name: string) => lines.filter((line) => line.check === name);
      // 2 s of flapping: the first change, then one line at the end of each second after it.
      expect(of('worker').map((line) => [line.msg, line.suppressed])).toEqual([
        ['check worker fails', undefined],
        ['check worker passes', 1999],
        ['check worker passes', 2000],
      ]);
      expect(of('worker').at(-1)).toMatchObject({ from: 'fail', to: 'pass' });
      // Each heartbeat check has its own limit; a polled check is never limited.
      expect(of('other').map((line) => line.suppressed)).toEqual([undefined, 2]);
      expect(of('db')).toHaveLength(5);
      // Quiet for more than a second: the next change is logged at once.
      subscriber.onResult(worker, fail(T, 'reported'), { from: 'pass', to: 'fail' });
      expect(of('worker')).toHaveLength(4);
      expect(of('worker').at(-1)).toMatchObject({ msg: 'check worker fails' });
      expect(of('worker').at(-1)).not.toHaveProperty('suppressed');
    });
  });
});
