// The comparison grammar of expect conditions, and the bounded regular-expression matcher.
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchBounded } from '../../../../checks/support/bounded-match.js';
import { ConditionSyntaxError, judge, parseComparison, splitCondition } from '../../../../checks/support/condition.js';
import { parseJsonCondition } from '../../../../checks/support/json-conditions.js';
import { waitFor } from '../../../helpers/net.js';

const syntaxError = (parse: () => unknown) => {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConditionSyntaxError) return `${error.index}: ${error.message}`;
    throw error;
  }
  return 'parsed';
};

describe('comparisons', () => {
  it('reads every operator and JSON scalar', () => {
    expect(parseComparison('== "UP"')).toEqual({ operator: '==', operand: 'UP' });
    expect(parseComparison('  !=  null ')).toEqual({ operator: '!=', operand: null });
    expect(parseComparison('<= -1.5e3')).toEqual({ operator: '<=', operand: -1500 });
    expect(parseComparison('>= 0')).toEqual({ operator: '>=', operand: 0 });
    expect(parseComparison('< 30')).toEqual({ operator: '<', operand: 30 });
    expect(parseComparison('> 2')).toEqual({ operator: '>', operand: 2 });
    expect(parseComparison('== true')).toEqual({ operator: '==', operand: true });
    expect(parseComparison('== "say \\"hi\\"\\u0021"')).toEqual({ operator: '==', operand: 'say "hi"!' });
  });

  it('says where a comparison stops being one', () => {
    expect(syntaxError(() => parseComparison('primary'))).toBe('0: expected an operator (==, !=, <=, >=, <, >)');
    expect(syntaxError(() => parseComparison("== 'UP'"))).toBe('3: expected a number, a "string" in double quotes, true, false or null: strings take double quotes');
    expect(syntaxError(() => parseComparison('== "UP'))).toBe('3: has a string with no closing double quote');
    expect(syntaxError(() => parseComparison('== 1 2'))).toBe('5: unexpected "2" after the value');
    expect(syntaxError(() => parseComparison('== 12abc'))).toMatch(/^3: expected a number/);
    expect(syntaxError(() => parseComparison('> true'))).toBe('2: > compares numbers: true is not a number');
    expect(syntaxError(() => parseComparison('=='))).toBe('2: expected a number, a "string" in double quotes, true, false or null');
  });

  it('splits a condition at the first operator outside brackets, quotes and parentheses', () => {
    expect(splitCondition('$.checks[?@.status == "x"].name != "db"')).toMatchObject({ path: '$.checks[?@.status == "x"].name', comparison: { operator: '!=', operand: 'db' } });
    expect(splitCondition("$['a==b'] == 1")).toMatchObject({ path: "$['a==b']", comparison: { operator: '==', operand: 1 } });
    expect(syntaxError(() => splitCondition(' == 1'))).toBe('1: expected a path before the operator, such as $.status');
  });

  it('judges by type and value: 1 is not "1", an ordering needs a number', () => {
    expect(judge(1, parseComparison('== 1'))).toBeUndefined();
    expect(judge('1', parseComparison('== 1'))).toBe('is "1" (a string)');
    expect(judge('1', parseComparison('!= 1'))).toBeUndefined();
    expect(judge(null, parseComparison('< 1'))).toBe('is null, null, not a number');
    expect(judge([1], parseComparison('== 1'))).toBe('is [1] (a list)');
    expect(judge(5, parseComparison('< 5'))).toBe('is 5');
    expect(judge(5, parseComparison('<= 5'))).toBeUndefined();
  });

  it('quotes a long value cut short, without control characters', () => {
    const why = judge(`x\u001b[31m${'y'.repeat(500)}`, parseComparison('== "z"'))!;
    expect(why.length).toBeLessThan(200);
    expect(why).not.toMatch(/\u001b/);
    expect(why).toMatch(/more characters\)$/);
  });
});

describe('JSON conditions', () => {
  it('refuses a path that runs a regular expression (match, search)', () => {
    expect(syntaxError(() => parseJsonCondition('$[?match(@.a, "(a+)+")] == 1'))).toMatch(/^3: the path calls match\(\), which vigil does not run/);
    expect(parseJsonCondition('$[?@.a == "b"].c == 1')).toMatchObject({ path: '$[?@.a == "b"].c' });
  });
});

describe('judging nothing', () => {
  it('a value that is not there reads "nothing", never "a undefined"', () => {
    expect(judge(undefined, parseComparison('== 7'))).toBe('is nothing');
    expect(judge(undefined, parseComparison('< 7'))).toBe('is nothing');
    expect(judge(undefined, parseComparison('!= 7'))).toBeUndefined();
  });
});

describe('matchBounded', () => {
  const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

  it('answers each pattern, reusing its workers: repeated and concurrent matches start no thread for good', async () => {
    const controller = new AbortController();
    expect(await matchBounded([{ pattern: '^a+b$', text: 'aaab' }, { pattern: 'x', text: 'aaab' }], 1000, controller.signal)).toEqual([true, false]);
    // Counted after a first run: the worker it kept, and whatever Node starts once for workers.
    const before = threads();
    for (let i = 0; i < 20; i++) expect(await matchBounded([{ pattern: '"status":"UP"', text: '{"status":"UP"}' }], 1000, controller.signal)).toEqual([true]);
    expect(threads()).toBe(before);
    const together = await Promise.all(Array.from({ length: 6 }, (_, i) => matchBounded([{ pattern: `^${i}$`, text: String(i) }], 1000, controller.signal)));
    expect(together).toEqual(Array.from({ length: 6 }, () => [true]));
    // One stays idle: the others' threads end.
    await waitFor('the extra workers to end', () => threads() <= before || undefined);
  });

  it('ends a backtracking pattern at the limit with its worker, leaving no listener on the signal', async () => {
    const controller = new AbortController();
    await matchBounded([{ pattern: 'a', text: 'a' }], 1000, controller.signal);
    const before = threads();
    const started = Date.now();
    expect(await matchBounded([{ pattern: '^(a+)+$', text: `${'a'.repeat(40)}b` }], 200, controller.signal)).toBe('too-slow');
    expect(Date.now() - started).toBeLessThan(2000);
    // The worker that ran out of time is ended, not kept (the idle one it was is gone).
    await waitFor('the worker to end', () => threads() < before || undefined);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // The next match starts a fresh worker and works.
    expect(await matchBounded([{ pattern: 'b$', text: 'ab' }], 1000, controller.signal)).toEqual([true]);
  });

  it('queues matches for one worker, each timed from its own start: a slow one ahead does not use up the others\' limits', async () => {
    const controller = new AbortController();
    await matchBounded([{ pattern: 'a', text: 'a' }], 1000, controller.signal);
    const before = threads();
    // Ahead: a pattern that backtracks until its 400 ms limit. Behind: trivial ones with 150 ms each.
    const slow = matchBounded([{ pattern: '^(a+)+$', text: `${'a'.repeat(40)}b` }], 400, controller.signal);
    const quick = Array.from({ length: 20 }, (_, i) => matchBounded([{ pattern: `^${i}$`, text: String(i) }], 150, new AbortController().signal));
    expect(await slow).toBe('too-slow');
    expect(await Promise.all(quick)).toEqual(Array.from({ length: 20 }, () => [true]));
    // One worker at a time: the slow one's was ended and one fresh one took the queue.
    expect(threads()).toBeLessThanOrEqual(before);
  });

  it('a match still waiting for the worker is taken off the queue when its signal aborts', async () => {
    const ahead = matchBounded([{ pattern: '^(a+)+$', text: `${'a'.repeat(40)}b` }], 300, new AbortController().signal);
    const controller = new AbortController();
    const waiting = matchBounded([{ pattern: 'a', text: 'a' }], 1000, controller.signal);
    controller.abort(new Error('attempt timed out'));
    await expect(waiting).rejects.toThrow('attempt timed out');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(await ahead).toBe('too-slow');
  });

  it('rejects with the reason when the signal aborts, and at once when it already has', async () => {
    const controller = new AbortController();
    const running = matchBounded([{ pattern: '^(a+)+$', text: `${'a'.repeat(40)}b` }], 5000, controller.signal);
    setTimeout(() => controller.abort(new Error('deadline')), 100);
    const started = Date.now();
    await expect(running).rejects.toThrow('deadline');
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(matchBounded([{ pattern: 'a', text: 'a' }], 1000, controller.signal)).rejects.toThrow('deadline');
  });
});
