// One loop per check: the first attempt at once, then every interval (minus up to 10% jitter);
// one attempt at a time; every attempt bounded by its timeout, enforced here even when a check
// ignores its abort signal. The loops never throw.
import type { CheckContext, CheckResult, Observation } from './check.js';
import type { CheckConfig } from './config/types.js';
import { CheckError } from './errors.js';

/** Performs one attempt of a check (the kind's run, with the options of its config). */
export type RunCheck = (check: CheckConfig, ctx: CheckContext) => Promise<Observation | void>;

export interface AttemptOptions {
  /** Aborts the attempt from outside (the agent stopping); such an attempt resolves undefined. */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
  /** Monotonic ms for latency; default performance.now. */
  readonly monotonic?: () => number;
  /** Receives the check's own work, which may outlive the attempt when a check ignores its abort. */
  readonly onWork?: (work: Promise<unknown>) => void;
}

/** Runs one attempt bounded by the check's timeout. Resolves undefined only when stopped from outside. */
export async function attempt(check: CheckConfig, run: RunCheck, options: AttemptOptions = {}): Promise<CheckResult | undefined> {
  const now = options.now ?? Date.now;
  const monotonic = options.monotonic ?? (() => performance.now());
  const controller = new AbortController();
  const startedAt = now();
  const t0 = monotonic();
  const elapsed = () => monotonic() - t0;
  const outer = options.signal;
  if (outer?.aborted) return undefined;

  let timer: ReturnType<typeof setTimeout> | undefined;
  let onOuterAbort: (() => void) | undefined;
  const deadline = new Promise<CheckResult | undefined>((resolve) => {
    timer = setTimeout(() => {
      const error = new CheckError('timeout', `${check.type} check ${check.name} did not finish within its ${check.timeoutMs} ms timeout`);
      controller.abort(error);
      resolve({ ok: false, startedAt, durationMs: elapsed(), reason: 'timeout', message: error.message });
    }, check.timeoutMs);
    onOuterAbort = () => {
      controller.abort(outer?.reason);
      resolve(undefined);
    };
    outer?.addEventListener('abort', onOuterAbort, { once: true });
  });
  const work = (async (): Promise<CheckResult | undefined> => {
    try {
      const observation = await run(check, { signal: controller.signal, timeoutMs: check.timeoutMs, name: check.name });
      return { ok: true, startedAt, durationMs: elapsed(), ...(observation ? { observation } : {}) };
    } catch (error) {
      if (controller.signal.aborted) return undefined; // the deadline or a stop already answered
      const failure = error instanceof CheckError ? error : new CheckError('unknown', `${check.type} check ${check.name} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      return { ok: false, startedAt, durationMs: elapsed(), reason: failure.reason, message: failure.message };
    }
  })();
  options.onWork?.(work);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    if (onOuterAbort) outer?.removeEventListener('abort', onOuterAbort);
    // Whatever happened, the check's resources are no longer wanted.
    if (!controller.signal.aborted) controller.abort(new Error('attempt finished'));
  }
}

export interface SchedulerOptions {
  readonly run: RunCheck;
  readonly onResult: (check: CheckConfig, result: CheckResult) => void;
  /** Called when an attempt is skipped because the previous one ignored its abort and still runs. */
  readonly onSkip?: (check: CheckConfig) => void;
  readonly now?: () => number;
  readonly monotonic?: () => number;
  /** [0, 1); default Math.random. */
  readonly random?: () => number;
}

export interface Scheduler {
  add(check: CheckConfig): void;
  /** Stops a check's loop, aborting its attempt in flight. */
  remove(name: string): void;
  /** Stops every loop and aborts every attempt in flight. */
  stop(): void;
  /** Epoch ms when any loop last started an attempt (self-health: a wedged scheduler stops moving it). */
  readonly lastAttemptAt: number;
  readonly size: number;
}

const JITTER = 0.1;
const MAX_JITTER_MS = 1000;

export function createScheduler(options: SchedulerOptions): Scheduler {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const loops = new Map<string, { stop(): void }>();
  let lastAttemptAt = now();

  const startLoop = (check: CheckConfig) => {
    const stopper = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let isWorking = false;
    const onWork = (work: Promise<unknown>) => {
      isWorking = true;
      void work.finally(() => {
        isWorking = false;
      });
    };

    const tick = async (): Promise<void> => {
      if (stopper.signal.aborted) return;
      const startedAt = now();
      lastAttemptAt = startedAt;
      try {
        if (isWorking) {
          // The previous attempt ignored its abort and is still running: never overlap it.
          options.onSkip?.(check);
        } else {
          const result = await attempt(check, options.run, { signal: stopper.signal, now, monotonic: options.monotonic, onWork });
          if (result && !stopper.signal.aborted) options.onResult(check, result);
        }
      } catch {
        // onResult belongs to the agent; a bug there must not end this loop. Reported by the agent.
      }
      if (stopper.signal.aborted) return;
      const jitterMs = Math.min(check.intervalMs * JITTER, MAX_JITTER_MS) * random();
      const delay = Math.max(0, startedAt + check.intervalMs - jitterMs - now());
      timer = setTimeout(() => void tick(), delay);
    };
    void tick();
    return {
      stop() {
        stopper.abort(new Error('check stopped'));
        clearTimeout(timer);
      },
    };
  };

  return {
    add(check) {
      loops.get(check.name)?.stop();
      loops.set(check.name, startLoop(check));
    },
    remove(name) {
      loops.get(name)?.stop();
      loops.delete(name);
    },
    stop() {
      for (const loop of loops.values()) loop.stop();
      loops.clear();
    },
    get lastAttemptAt() {
      return lastAttemptAt;
    },
    get size() {
      return loops.size;
    },
  };
}
