import { describe, expect, it } from 'vitest';
import { createLagSampler } from '../../src/event-loop-lag.js';

describe('event-loop lag sampled twice a second', () => {
  it('records how late each tick runs: a stall shows in full, an idle loop as (nearly) nothing', async () => {
    const sampler = createLagSampler({ windowMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // two quiet ticks
    const quiet = sampler.drain();
    expect(quiet.max).toBeLessThan(0.2);
    const until = Date.now() + 1500;
    while (Date.now() < until) {
      // a stalled event loop
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stalled = sampler.drain();
    expect(stalled.max).toBeGreaterThan(0.9);
    expect(stalled.max).toBeLessThan(2);
    expect(sampler.stallMs()).toBeGreaterThan(900);
    // Read and reset per scrape: the next read starts afresh.
    expect(sampler.drain().max).toBeLessThan(stalled.max);
    sampler.stop();
  });
});
