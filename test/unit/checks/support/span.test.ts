import { describe, expect, it } from 'vitest';
import { days, formatSpan, readSpan } from '../../../../checks/support/span.js';
import { windows } from '../../../../checks/support/cert-expiry.js';

const DAY = 86_400_000;

describe('spans: durations of days for options compared with dates, not timers', () => {
  it.each([
    ['14d', 14 * DAY],
    ['3d12h', 3.5 * DAY],
    ['1.5d', 1.5 * DAY],
    ['36h', 36 * 3_600_000],
    ['90m', 90 * 60_000],
    ['0s', 0],
    ['0d', 0],
    ['250ms', 250],
    // Beyond what a timer holds (about 24.8 days): a span is never waited for.
    ['30d', 30 * DAY],
    ['36500d', 36_500 * DAY],
  ])('reads %s as %d ms', (text, ms) => expect(readSpan(text)).toEqual({ ms }));

  it.each([
    ['', 'must be a span of time such as 14d, 36h or 3d12h'],
    ['14', 'must be a span of time such as 14d, 36h or 3d12h'],
    ['14 days', 'must be a span of time such as 14d, 36h or 3d12h'],
    ['-1d', 'must be a span of time such as 14d, 36h or 3d12h'],
    ['1w', 'must be a span of time such as 14d, 36h or 3d12h'],
    ['0.5ms', 'is not a whole number of milliseconds'],
    ['36501d', 'is longer than 36500d (a hundred years)'],
  ])('refuses %j: %s', (text, problem) => expect(readSpan(text)).toEqual({ problem }));

  it('formats in its shortest form with days, and reports days with two decimals', () => {
    expect([14 * DAY, 3.5 * DAY, 36 * 3_600_000, 90 * 60_000, 0, 1500].map(formatSpan)).toEqual(['14d', '3d12h', '1d12h', '1h30m', '0s', '1.5s']);
    expect([29.999 * DAY, 10.004 * DAY, -1.5 * DAY].map(days)).toEqual([30, 10, -1.5]);
  });
});

describe('tls check: warnBefore and failBefore defaults never contradict what is set', () => {
  it.each([
    [{}, { warnMs: 14 * DAY, failMs: 3 * DAY }],
    [{ warnBefore: '30d' }, { warnMs: 30 * DAY, failMs: 3 * DAY }],
    [{ warnBefore: '1d' }, { warnMs: DAY, failMs: DAY }],
    [{ failBefore: '7d' }, { warnMs: 14 * DAY, failMs: 7 * DAY }],
    [{ failBefore: '20d' }, { warnMs: 20 * DAY, failMs: 20 * DAY }],
    [{ warnBefore: '0s', failBefore: '0s' }, { warnMs: 0, failMs: 0 }],
  ])('%j -> %j', (options, expected) => expect(windows(options)).toEqual(expected));
});
