// intervalWhenFailing and the gate before an attempt, on a fake clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckResult } from '../../src/check.js';
import { createDependencyGate, createDependencyWake, DEPENDENCY_WAIT_MS } from '../../src/dependencies.js';
import { CheckError } from '../../src/errors.js';
import { createScheduler, type Gate, type RunCheck } from '../../src/scheduler.js';
import { createState } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

let T0 = 0;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  T0 = Date.now();
});
afterEach(() => {
  vi.useRealTimers();
});

function harness(run: RunCheck, gate?: Gate, random = () => 0) {
  const results: { at: number; result: CheckResult }[] = [];
  const scheduler = createScheduler({ run, gate, random, onResult: (_check, result) => results.push({ at: Date.now() - T0, result }) });
  return { scheduler, results };
}

describe('scheduler: intervalWhenFailing', () => {
  it('after a failed attempt the next comes at intervalWhenFailing, after a passing one at interval again', async () => {
    let call = 0;
    const outcomes = [false, false, true, true];
    const run: RunCheck = async () => {
      if (!outcomes[call++]) throw new CheckError('connect_refused', 'refused');
    };
    const { scheduler, results } = harness(run);
    scheduler.add(checkConfig('db', { intervalMs: 30_000, intervalWhenFailingMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(40_000);
    expect(results.map((r) => [r.at, r.result.ok])).toEqual([
      [0, false],
      [1000, false],
      [2000, true],
      [32_000, true],
    ]);
    scheduler.stop();
  });

  it('a timeout is a failed attempt: the next comes at intervalWhenFailing', async () => {
    const run: RunCheck = (_c, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
    const { scheduler, results } = harness(run);
    scheduler.add(checkConfig('db', { intervalMs: 30_000, intervalWhenFailingMs: 1000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(2600);
    expect(results.map((r) => [r.at, r.result.reason])).toEqual([
      [500, 'timeout'],
      [1500, 'timeout'],
      [2500, 'timeout'],
    ]);
    scheduler.stop();
  });

  it('applies the same jitter rules to the shorter interval: up to 10% early, never later', async () => {
    const run: RunCheck = async () => {
      throw new CheckError('connect_refused', 'refused');
    };
    // random() close to 1: the largest spread. First spread: half the period; later: 10%.
    const { scheduler, results } = harness(run, undefined, () => 0.999);
    scheduler.add(checkConfig('db', { intervalMs: 30_000, intervalWhenFailingMs: 2000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(6000);
    const gaps = results.slice(1).map((r, i) => r.at - results[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(1000);
    expect(gaps[0]).toBeLessThanOrEqual(2000);
    for (const gap of gaps.slice(1)) {
      expect(gap).toBeGreaterThanOrEqual(1800);
      expect(gap).toBeLessThanOrEqual(2000);
    }
    scheduler.stop();
  });

  it('without intervalWhenFailing a failing check keeps its interval', async () => {
    const run: RunCheck = async () => {
      throw new CheckError('connect_refused', 'refused');
    };
    const { scheduler, results } = harness(run);
    scheduler.add(checkConfig('db', { intervalMs: 5000, timeoutMs: 500 }));
    await vi.advanceTimersByTimeAsync(10_100);
    expect(results.map((r) => r.at)).toEqual([0, 5000, 10_000]);
    scheduler.stop();
  });
});

describe('dependency gate', () => {
  const root = checkConfig('root');
  const middle = checkConfig('middle', { dependsOn: ['root'] });
  const leaf = checkConfig('leaf', { dependsOn: ['middle'] });

  it('lets a check without dependencies, or with passing ones, be attempted', () => {
    const state = createState();
    for (const c of [root, middle]) state.add(c, 'component');
    const gate = createDependencyGate(state);
    expect(gate(root)).toBeUndefined();
    state.record('root', pass(1));
    expect(gate(middle)).toBeUndefined();
  });

  it('holds a check back while a dependency has no decision yet (pending), without a result', () => {
    const state = createState();
    for (const c of [root, middle]) state.add(c, 'component');
    expect(createDependencyGate(state)(middle)).toBe(DEPENDENCY_WAIT_MS);
  });

  it('holds a check back while a dependency is not known (yet): undecided, never absent', () => {
    const state = createState();
    state.add(middle, 'component');
    expect(createDependencyGate(state)(middle)).toBe(DEPENDENCY_WAIT_MS);
  });

  it('in the scheduler: a dependency turning fail wakes its dependent, which records dependency_failed at once without an attempt; turning pass again, it is attempted at once', async () => {
    const state = createState();
    const dependent = checkConfig('dependent', { dependsOn: ['root'], intervalMs: 30_000 });
    for (const c of [root, dependent]) state.add(c, 'component');
    state.record('root', pass(1));
    let attempts = 0;
    const wake = createDependencyWake((name) => scheduler.wake(name));
    wake.configure([root, dependent]);
    const { scheduler, results } = harness(async () => void attempts++, createDependencyGate(state));
    scheduler.add(dependent);
    await vi.advanceTimersByTimeAsync(1000);
    expect(attempts).toBe(1);
    // root fails at 1 s: the dependent's next attempt is ~29 s away.
    wake.onResult(root, fail(1000), state.record('root', fail(1000)));
    await vi.advanceTimersByTimeAsync(1);
    expect(results.at(-1)).toMatchObject({ at: 1000, result: { reason: 'dependency_failed' } });
    expect(attempts).toBe(1);
    // A result that changes nothing wakes nobody.
    wake.onResult(root, fail(2000), state.record('root', fail(2000)));
    await vi.advanceTimersByTimeAsync(1000);
    expect(results).toHaveLength(2);
    wake.onResult(root, pass(3000), state.record('root', pass(3000)));
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    expect(results.at(-1)).toMatchObject({ at: 2001, result: { ok: true } });
    scheduler.stop();
  });

  it('fails a check with dependency_failed while a dependency fails, naming the root, not an intermediate', () => {
    const state = createState();
    for (const c of [root, middle, leaf]) state.add(c, 'component');
    const gate = createDependencyGate(state, () => 42);
    state.record('root', fail(1, 'timeout', 'no answer'));
    const middleResult = gate(middle) as CheckResult;
    expect(middleResult).toEqual({ ok: false, startedAt: 42, durationMs: 0, reason: 'dependency_failed', message: 'not attempted: root fails (timeout)', isHeldBack: true });
    state.record('middle', middleResult);
    expect(gate(leaf)).toMatchObject({ reason: 'dependency_failed', message: 'not attempted: root fails (timeout)' });
  });

  it('counts the thresholded status: a dependency below its failureThreshold still passes', () => {
    const state = createState();
    state.add(checkConfig('root', { failureThreshold: 3 }), 'component');
    state.add(middle, 'component');
    const gate = createDependencyGate(state);
    state.record('root', pass(1));
    state.record('root', fail(2));
    expect(gate(middle)).toBeUndefined();
    state.record('root', fail(3));
    state.record('root', fail(4));
    expect(gate(middle)).toMatchObject({ reason: 'dependency_failed' });
  });

  it('in the scheduler: a held-back check is not attempted and records dependency_failed at its failing interval', async () => {
    const state = createState();
    const dependent = checkConfig('dependent', { dependsOn: ['root'], intervalMs: 30_000, intervalWhenFailingMs: 1000 });
    for (const c of [root, dependent]) state.add(c, 'component');
    state.record('root', fail(1));
    let attempts = 0;
    const { scheduler, results } = harness(async () => void attempts++, createDependencyGate(state));
    scheduler.add(dependent);
    await vi.advanceTimersByTimeAsync(2500);
    expect(attempts).toBe(0);
    expect(results.map((r) => [r.at, r.result.reason])).toEqual([
      [0, 'dependency_failed'],
      [1000, 'dependency_failed'],
      [2000, 'dependency_failed'],
    ]);
    state.record('root', pass(2600));
    await vi.advanceTimersByTimeAsync(600);
    expect(attempts).toBe(1);
    expect(results.at(-1)).toMatchObject({ at: 3000, result: { ok: true } });
    scheduler.stop();
  });

  it('in the scheduler: waits for an undecided dependency, then attempts at once', async () => {
    const state = createState();
    for (const c of [root, middle]) state.add(c, 'component');
    let attempts = 0;
    const { scheduler, results } = harness(async () => void attempts++, createDependencyGate(state));
    scheduler.add(middle);
    await vi.advanceTimersByTimeAsync(1000);
    expect([attempts, results.length]).toEqual([0, 0]);
    state.record('root', pass(1000));
    await vi.advanceTimersByTimeAsync(DEPENDENCY_WAIT_MS);
    expect(attempts).toBe(1);
    scheduler.stop();
  });
});
