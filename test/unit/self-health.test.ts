import { describe, expect, it } from 'vitest';
import { createSelfHealth } from '../../src/self-health.js';

describe('self-health', () => {
  it('fails the scheduler entry when no attempt started for three of the longest interval', () => {
    let now = 1_000_000;
    const self = createSelfHealth({ now: () => now, lastAttemptAt: () => 1_000_000, longestIntervalMs: () => 1000 });
    expect(self.entries().find((e) => e.key === 'vigil:scheduler')).toMatchObject({ status: 'pass', observedValue: 0 });
    now += 3001;
    expect(self.entries().find((e) => e.key === 'vigil:scheduler')).toMatchObject({ status: 'fail', observedValue: 3001 });
    self.stop();
  });

  it('has no scheduler entry without checks', () => {
    const self = createSelfHealth({ lastAttemptAt: () => 0, longestIntervalMs: () => undefined });
    expect(self.entries().map((e) => e.key)).toEqual(['vigil:eventLoopDelay']);
    self.stop();
  });

  it('fails the event-loop entry after a stall longer than the limit', async () => {
    const self = createSelfHealth({ lastAttemptAt: () => Date.now(), longestIntervalMs: () => undefined, maxEventLoopDelayMs: 300 });
    // Sampled twice a second: a stall of 1.2 s delays a tick by at least 0.7 s.
    const until = Date.now() + 1200;
    while (Date.now() < until) {
      // a stalled event loop
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const entry = self.entries()[0]!;
    expect(entry.status).toBe('fail');
    expect(entry.observedValue).toBeGreaterThan(600);
    expect(entry.output).toMatch(/stalled/);
    self.stop();
  });
});
