// Numbers in a comparison that a double cannot hold: refused where the config is read, never
// compared as something else nor shown as something else.
import { describe, expect, it } from 'vitest';
import { comparisonProblem, parseComparison, showComparison } from '../../../../checks/support/condition.js';
import { jsonConditionProblem } from '../../../../checks/support/json-conditions.js';

describe('comparison numbers out of range', () => {
  it('refuses 1e400 (Infinity) rather than comparing with Infinity and showing it as null', () => {
    // Today: accepted, compared as Infinity, and a failure reads "$.x == null fails: $.x is 5".
    expect(comparisonProblem('== 1e400')).toBeDefined();
    expect(jsonConditionProblem('$.x < -1e400')).toBeDefined();
  });

  it('never shows an accepted comparison as other than a number it compares with', () => {
    for (const text of ['== 0', '< 1e300', '> -2.5', '== 1E2']) {
      const comparison = parseComparison(text);
      expect(showComparison(comparison)).not.toContain('null');
      expect(Number.isFinite(comparison.operand)).toBe(true);
    }
  });

  it('refuses an integer beyond 2^53, which a double cannot hold exactly, written or read by YAML', () => {
    expect(comparisonProblem('== 9007199254740993')).toMatch(/integer beyond 2\^53 .*cannot be compared exactly/);
    expect(jsonConditionProblem('$.id != -12345678901234567890')).toMatch(/cannot be compared exactly/);
    expect(comparisonProblem(2 ** 60)).toMatch(/cannot be compared exactly/);
    expect(comparisonProblem(Infinity)).toBeDefined();
    // 2^53 - 1 is exact; a fraction or an exponent says the writer means a double.
    expect(comparisonProblem('== 9007199254740991')).toBeUndefined();
    expect(comparisonProblem('< 1e300')).toBeUndefined();
    expect(comparisonProblem(42)).toBeUndefined();
  });
});
