// Durations as written in the config and on the command line ("250ms", "2s", "1m30s") to and from
// milliseconds. Every duration must be a whole number of milliseconds that a Node timer can hold:
// a longer delay would fire after 1 ms, turning a loop into a hot one.

const UNIT_MS: Readonly<Record<string, bigint>> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n };
/** What a duration looks like; readDuration also bounds its value. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+)(?:\.(\d+))?(ms|s|m|h)/g;

/** The longest delay a timer holds (2^31 - 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

export type DurationReading = { readonly ms: number; readonly problem?: undefined } | { readonly ms?: undefined; readonly problem: string };

/**
 * Milliseconds for a duration, or what is wrong with it (a sentence to follow the value, e.g.
 * `"600h" ${problem}`). `allowZero` accepts 0 (a delay that may be skipped); otherwise 0 is refused.
 */
export function readDuration(text: string, { allowZero = false }: { allowZero?: boolean } = {}): DurationReading {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return { problem: 'must be a duration such as 250ms, 2s, 1m or 1m30s' };
  // Exact decimal arithmetic: 1.1s is 1100 ms, not 1100.0000000000002, and no length of digits overflows.
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
  if (numerator % denominator !== 0n) return { problem: 'is not a whole number of milliseconds (timers count whole milliseconds)' };
  const ms = numerator / denominator;
  if (ms > BigInt(MAX_DURATION_MS)) return { problem: `is longer than the longest wait a timer can hold (${formatDuration(MAX_DURATION_MS)})` };
  if (ms === 0n && !allowZero) return { problem: 'must be at least 1ms' };
  return { ms: Number(ms) };
}

/** Milliseconds for a duration, or undefined when it is not one a timer can hold (see readDuration). */
export function parseDuration(text: string, options?: { allowZero?: boolean }): number | undefined {
  return readDuration(text, options).ms;
}

/** The shortest readable form: 250ms, 2s, 1.5s, 1m30s, 596h31m23.647s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1000;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds ? `${seconds}s` : ''}`;
}
