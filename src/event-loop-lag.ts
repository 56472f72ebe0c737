// How late the event loop runs, measured by a timer that wakes twice a second: each tick records how
// much later than due it ran. Cheap when idle (a high-resolution histogram woke the process 50 to
// 100 times a second, most of an idle agent's CPU), and a stall shows in full in the tick it delays.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

/** Lag statistics since the previous read, in seconds, as prom-client's default metrics name them. */
export interface LagStats {
  /** The latest sample. */
  readonly last: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface LagSampler {
  /** The longest lateness seen in the current and the previous half-window, ms. */
  stallMs(): number;
  /** Statistics since the previous call (a scrape), then starts afresh. */
  drain(): LagStats;
  stop(): void;
}

/** Between ticks: a stall longer than this shows as a lateness of at least (stall - period). */
export const LAG_PERIOD_MS = 500;

/**
 * Samples lateness every `periodMs`; `windowMs` is the stall window: a stall is reported for at
 * least half of it and at most all of it after it ended.
 */
export function createLagSampler(options: { periodMs?: number; windowMs: number; monotonic?: () => number }): LagSampler {
  const periodMs = options.periodMs ?? LAG_PERIOD_MS;
  const monotonic = options.monotonic ?? (() => performance.now());
  const ticksPerHalf = Math.max(1, Math.round(options.windowMs / 2 / periodMs));
  // Recorded in microseconds: a histogram holds integers of at least 1.
  const forScrape: RecordableHistogram = createHistogram();
  let previousHalfMaxMs = 0;
  let halfMaxMs = 0;
  let ticks = 0;
  let lastMs = 0;
  let due = monotonic() + periodMs;
  const timer = setInterval(() => {
    const now = monotonic();
    const lateMs = Math.max(0, now - due);
    lastMs = lateMs;
    due = now + periodMs;
    forScrape.record(Math.max(1, Math.round(lateMs * 1000)));
    halfMaxMs = Math.max(halfMaxMs, lateMs);
    if (++ticks % ticksPerHalf === 0) {
      previousHalfMaxMs = halfMaxMs;
      halfMaxMs = 0;
    }
  }, periodMs);
  timer.unref();
  const seconds = (us: number) => (Number.isFinite(us) ? us / 1e6 : 0);
  return {
    stallMs: () => Math.max(previousHalfMaxMs, halfMaxMs, Math.max(0, monotonic() - due)),
    drain() {
      const stats = forScrape.count
        ? {
            last: lastMs / 1000,
            min: seconds(forScrape.min),
            max: seconds(forScrape.max),
            mean: seconds(forScrape.mean),
            stddev: seconds(forScrape.stddev),
            p50: seconds(forScrape.percentile(50)),
            p90: seconds(forScrape.percentile(90)),
            p99: seconds(forScrape.percentile(99)),
          }
        : { last: lastMs / 1000, min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
      forScrape.reset();
      return stats;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
