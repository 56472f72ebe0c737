import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/config/duration.js';

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
  ])('parses %s as %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '10', 's', '1d', '-1s', '1 s'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
  it('formats back', () => {
    expect([250, 2000, 1500, 90_000, 3_600_000].map(formatDuration)).toEqual(['250ms', '2s', '1.5s', '1m30s', '1h']);
  });
});
