// The agent watching itself, for /health/live: an event loop that stalls or a scheduler that stopped
// starting attempts means a wedged agent, which the orchestrator should restart.
import { createLagSampler, type LagStats } from './event-loop-lag.js';
import type { HealthStatus } from './state.js';

/** An entry of the live body about the agent itself. */
export interface SelfEntry {
  readonly key: string;
  readonly observedValue: number;
  readonly observedUnit: string;
  readonly status: 'pass' | 'fail';
  readonly output?: string;
}

export interface SelfHealthOptions {
  /** Epoch ms when the scheduler last started an attempt. */
  readonly lastAttemptAt: () => number;
  /** The longest interval of any check, ms; undefined with no checks. */
  readonly longestIntervalMs: () => number | undefined;
  readonly now?: () => number;
  /** Longest tolerated event-loop stall within a window, ms; default 2000. */
  readonly maxEventLoopDelayMs?: number;
}

export interface SelfHealth {
  entries(): readonly SelfEntry[];
  /** Event-loop lag statistics since the previous call, for /metrics (a scrape). */
  eventLoopLag(): LagStats;
  stop(): void;
}

/**
 * A stall fails liveness for at most this long after it ended. The delay reported is the worst of
 * the current half-window and the previous one, so a stall shows for half a window at least.
 */
export const STALL_WINDOW_MS = 10_000;
/** The scheduler counts as wedged when no attempt started for this many of the longest interval. */
const WEDGED_INTERVALS = 3;

export function createSelfHealth(options: SelfHealthOptions): SelfHealth {
  const now = options.now ?? Date.now;
  const maxDelayMs = options.maxEventLoopDelayMs ?? 2000;
  const lag = createLagSampler({ windowMs: STALL_WINDOW_MS });

  return {
    entries() {
      const delayMs = lag.stallMs();
      const entries: SelfEntry[] = [
        {
          key: 'vigil:eventLoopDelay',
          observedValue: Math.round(delayMs * 10) / 10,
          observedUnit: 'ms',
          status: delayMs > maxDelayMs ? 'fail' : 'pass',
          ...(delayMs > maxDelayMs ? { output: `the event loop stalled for ${Math.round(delayMs)} ms (limit ${maxDelayMs} ms)` } : {}),
        },
      ];
      const longest = options.longestIntervalMs();
      if (longest !== undefined) {
        const idleMs = Math.max(0, now() - options.lastAttemptAt());
        const limitMs = WEDGED_INTERVALS * longest;
        entries.push({
          key: 'vigil:scheduler',
          observedValue: Math.round(idleMs),
          observedUnit: 'ms',
          status: idleMs > limitMs ? 'fail' : 'pass',
          ...(idleMs > limitMs ? { output: `no attempt started for ${Math.round(idleMs)} ms (limit ${limitMs} ms)` } : {}),
        });
      }
      return entries;
    },
    eventLoopLag: () => lag.drain(),
    stop() {
      lag.stop();
    },
  };
}

/** The status of the live group once the agent's own entries count: any failing entry fails it. */
export function withSelf(status: HealthStatus, self: readonly SelfEntry[]): HealthStatus {
  return self.some((entry) => entry.status === 'fail') ? 'fail' : status;
}
