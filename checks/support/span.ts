// Spans of time that options compare with dates (how long a certificate has left), never waits a
// timer holds: the config's duration syntax plus `d` for days (14d, 3d12h), from 0 to 100 years.
import { z } from 'zod';

const UNIT_MS: Readonly<Record<string, bigint>> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n, d: 86_400_000n };
/** What a span looks like; readSpan also bounds its value. */
export const SPAN_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+)(?:\.(\d+))?(ms|s|m|h|d)/g;
export const DAY_MS = 86_400_000;
/** The longest span: a hundred years of days, far beyond any certificate's life. */
export const MAX_SPAN_MS = 36_500 * DAY_MS;

/** Milliseconds for a span, or what is wrong with it (a sentence to follow the value). */
export function readSpan(text: string): { readonly ms: number; readonly problem?: undefined } | { readonly ms?: undefined; readonly problem: string } {
  const trimmed = text.trim();
  if (!SPAN_PATTERN.test(trimmed)) return { problem: 'must be a span of time such as 14d, 36h or 3d12h' };
  // Exact decimal arithmetic, as for durations: 1.5d is 129600000 ms exactly.
  let numerator = 0n;
  let denominator = 1n;
  for (const [, whole, fraction = '', unit] of trimmed.matchAll(PART)) {
    const scale = 10n ** BigInt(fraction.length);
    const value = BigInt(whole! + fraction) * UNIT_MS[unit!]!;
    if (scale > denominator) {
      numerator *= scale / denominator;
      denominator = scale;
    }
    numerator += value * (denominator / scale);
  }
  if (numerator % denominator !== 0n) return { problem: 'is not a whole number of milliseconds' };
  const ms = numerator / denominator;
  if (ms > BigInt(MAX_SPAN_MS)) return { problem: 'is longer than 36500d (a hundred years)' };
  return { ms: Number(ms) };
}

/** Milliseconds of a span the options schema accepted. */
export function spanMs(text: string): number {
  const { ms, problem } = readSpan(text);
  if (problem !== undefined) throw new Error(`"${text}" ${problem}`);
  return ms;
}

/** A span option: the pattern (also in config.schema.json), then its bounds. `0d` is allowed. */
export const span = () =>
  z
    .string()
    .regex(SPAN_PATTERN, { message: 'must be a span of time such as 14d, 36h or 3d12h' })
    .superRefine((value, ctx) => {
      // A value that is not a span at all is reported by the pattern above.
      if (!SPAN_PATTERN.test(value.trim())) return;
      const { problem } = readSpan(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    });

/** Days with two decimals, as reported: 13.98. */
export function days(ms: number): number {
  return Math.round(ms / DAY_MS * 100) / 100;
}

/** A span in its shortest form with days: 14d, 3d12h, 36h30m, 0s. */
export function formatSpan(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', DAY_MS], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest) parts.push(`${rest / 1000}s`);
  return parts.join('');
}
