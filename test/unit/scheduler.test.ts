import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckContext, CheckResult } from '../../src/check.js';
import type { CheckConfig } from '../../src/config/types.js';
import { CheckError } from '../../src/errors.js';
import { createScheduler, type RunCheck } from '../../src/scheduler.js';
import { checkConfig } from '../helpers/fixtures.js';

/** A fake kind with knobs: how long an attempt takes, whether it fails, whether it honours abort. */
function fakeKind(behaviour: (call: number, ctx: CheckContext) => { delayMs: number; error?: Error; ignoreAbort?: boolean }) {
  let calls = 0;
  let running = 0;
  let maxRunning = 0;
  const signals: AbortSignal[] = [];
  const run: RunCheck = (_check, ctx) => {
    const { delayMs, error, ignoreAbort } = behaviour(++calls, ctx);
    signals.push(ctx.signal);
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        running--;
        if (error) reject(error);
        else resolve();
      }, delayMs);
      if (!ignoreAbort) {
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          running--;
          reject(ctx.signal.reason);
        });
      }
    });
  };
  return { run, calls: () => calls, maxRunning: () => maxRunning, signals };
}

function harness(run: RunCheck) {
  const results: { check: string; at: number; result: CheckResult }[] = [];
  const skips: string[] = [];
  const scheduler = createScheduler({
    run,
    random: () => 0,
    onResult: (check: CheckConfig, result) => results.push({ check: check.name, at: Date.now() - T0, result }),
    onSkip: (check) => skips.push(check.name),
  });
  return { scheduler, results, skips };
}

let T0 = 0;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  T0 = Date.now();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scheduler', () => {
  it('runs the first attempt at once, then every interval', async () => {
    const kind = fakeKind(() => ({ delayMs: 10 }));
    const { scheduler, results } = harness(kind.run);
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(3050);
    expect(results.map((r) => r.at)).toEqual([10, 1010, 2010, 3010]);
    expect(results.every((r) => r.result.ok)).toBe(true);
    scheduler.stop();
  });

  it('fails an attempt at its timeout even when the check ignores the abort signal', async () => {
    const kind = fakeKind(() => ({ delayMs: 60_000, ignoreAbort: true }));
    const { scheduler, results } = harness(kind.run);
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(600);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ at: 500, result: { ok: false, reason: 'timeout' } });
    expect(results[0]!.result.durationMs).toBeCloseTo(500, 0);
    expect(kind.signals[0]!.aborted).toBe(true);
    scheduler.stop();
  });

  it('never overlaps attempts: a straggler that ignores its abort makes the next attempts skip', async () => {
    const kind = fakeKind((call) => ({ delayMs: call === 1 ? 2500 : 10, ignoreAbort: true }));
    const { scheduler, results, skips } = harness(kind.run);
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(3500);
    expect(kind.maxRunning()).toBe(1);
    expect(skips).toEqual(['db', 'db']); // at 1000 and 2000 the first attempt still ran
    expect(kind.calls()).toBe(2); // the next real attempt at 3000
    expect(results.map((r) => r.result.ok)).toEqual([false, true]);
    scheduler.stop();
  });

  it('waits for an aborted attempt that settles a moment later instead of skipping the next one', async () => {
    // Settles 30 ms after its abort (a socket's close event), never on its own.
    const run: RunCheck = (_check, ctx) =>
      new Promise((_, reject) => ctx.signal.addEventListener('abort', () => setTimeout(() => reject(ctx.signal.reason), 30)));
    const results: number[] = [];
    const skips: string[] = [];
    // random 0.99: the second attempt is due half an interval after the first started, before its timeout.
    const scheduler = createScheduler({ run, random: () => 0.99, onResult: () => results.push(Date.now() - T0), onSkip: (c) => skips.push(c.name) });
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 800 }));
    await vi.advanceTimersByTimeAsync(3000);
    expect(skips).toEqual([]);
    // The second attempt starts once the first settled (830), not skipped until the third is due.
    expect(results).toEqual([800, 1631, 2532]);
    scheduler.stop();
  });

  it('keeps running after errors, recording their reason', async () => {
    const kind = fakeKind((call) => ({ delayMs: 5, error: call === 1 ? new Error('boom') : call === 2 ? new CheckError('auth', 'bad password') : undefined }));
    const { scheduler, results } = harness(kind.run);
    scheduler.add(checkConfig('db', { intervalMs: 100, timeoutMs: 50 }));
    await vi.advanceTimersByTimeAsync(250);
    expect(results.map((r) => r.result.reason ?? 'ok')).toEqual(['unknown', 'auth', 'ok']);
    expect(results[0]!.result.message).toContain('boom');
    scheduler.stop();
  });

  it('keeps the loop going when recording a result throws, and reports it', async () => {
    const kind = fakeKind(() => ({ delayMs: 5 }));
    const errors: unknown[] = [];
    let calls = 0;
    const scheduler = createScheduler({
      run: kind.run,
      random: () => 0,
      onResult: () => {
        calls++;
        throw new Error('handler bug');
      },
      onError: (_check, error) => errors.push(error),
    });
    scheduler.add(checkConfig('db', { intervalMs: 100, timeoutMs: 50 }));
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toBe(3);
    expect(errors).toHaveLength(3);
    scheduler.stop();
  });

  it('a hung check never delays another', async () => {
    const run: RunCheck = (check, ctx) =>
      check.name === 'slow'
        ? new Promise(() => undefined) // never settles, ignores abort
        : new Promise((resolve) => setTimeout(resolve, 1 + 0 * ctx.timeoutMs));
    const { scheduler, results } = harness(run);
    scheduler.add(checkConfig('slow', { intervalMs: 1000, timeoutMs: 900 }));
    scheduler.add(checkConfig('fast', { intervalMs: 100, timeoutMs: 50 }));
    await vi.advanceTimersByTimeAsync(1000);
    const fast = results.filter((r) => r.check === 'fast').map((r) => r.at);
    expect(fast).toEqual([1, 101, 201, 301, 401, 501, 601, 701, 801, 901]);
    expect(results.find((r) => r.check === 'slow')).toMatchObject({ at: 900, result: { reason: 'timeout' } });
    scheduler.stop();
  });

  it('stop aborts attempts in flight and records nothing after', async () => {
    const kind = fakeKind(() => ({ delayMs: 400 }));
    const { scheduler, results } = harness(kind.run);
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(100);
    scheduler.stop();
    expect(kind.signals[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(5000);
    expect(results).toEqual([]);
    expect(kind.calls()).toBe(1);
  });

  it('spreads the second attempt over half an interval, later ones by up to 10% (at most 1 s)', async () => {
    const kind = fakeKind(() => ({ delayMs: 10 }));
    const results: number[] = [];
    const scheduler = createScheduler({ run: kind.run, random: () => 0.5, onResult: () => results.push(Date.now() - T0) });
    scheduler.add(checkConfig('db', { intervalMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(results).toEqual([10, 760, 1710]);
    scheduler.stop();
  });
});
