// One loop per check: the first attempt at once, the second within half an interval to a full
// one (spreading the checks' phases), then every interval (minus up to 10% jitter), or every
// intervalWhenFailing after a failed attempt; one attempt at a time, unless a gate holds it back
// (dependsOn); every attempt bounded by its timeout, enforced here even when a check ignores its
// abort signal. The loops never throw.
import type { CheckContext, CheckResult, Observation } from './check.js';
import type { CheckConfig } from './config/types.js';
import { CheckError } from './errors.js';
import { capRawMessage } from './output.js';

/** Performs one attempt of a check (the kind's run, with the options of its config). */
export type RunCheck = (check: CheckConfig, ctx: CheckContext) => Promise<Observation | void>;

export interface AttemptOptions {
  /**
   * The attempt's own controller, so the caller can abort it from outside (the agent stopping).
   * One per attempt, never reused: a kind may leave listeners on a signal only while its attempt
   * runs, and a signal that outlives its attempt would collect them.
   */
  readonly controller?: AbortController;
  readonly now?: () => number;
  /** Monotonic ms for latency; default performance.now. */
  readonly monotonic?: () => number;
  /** Called when the check's own work settles, which may be after the attempt when it ignores its abort. */
  readonly onSettled?: () => void;
}

/**
 * Runs one attempt bounded by the check's timeout. Resolves undefined when aborted from outside
 * (through options.controller) before the check settled. Runs once per check per interval: it keeps
 * allocations to one promise, one timer and the result.
 */
export function attempt(check: CheckConfig, run: RunCheck, options: AttemptOptions = {}): Promise<CheckResult | undefined> {
  const now = options.now ?? Date.now;
  const monotonic = options.monotonic ?? performance.now.bind(performance);
  const controller = options.controller ?? new AbortController();
  const startedAt = now();
  const t0 = monotonic();
  return new Promise<CheckResult | undefined>((resolve) => {
    let isSettled = false;
    const finish = (result: CheckResult | undefined) => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      const error = new CheckError('timeout', `${check.type} check ${check.name} did not finish within its ${check.timeoutMs} ms timeout`);
      controller.abort(error);
      finish({ ok: false, startedAt, durationMs: monotonic() - t0, reason: 'timeout', message: error.message });
    }, check.timeoutMs);
    let work: Promise<Observation | void>;
    try {
      work = run(check, { signal: controller.signal, timeoutMs: check.timeoutMs, name: check.name });
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      (observation) => {
        options.onSettled?.();
        finish(observation ? { ok: true, startedAt, durationMs: monotonic() - t0, observation } : { ok: true, startedAt, durationMs: monotonic() - t0 });
      },
      (error: unknown) => {
        options.onSettled?.();
        // Aborted: the deadline already answered, or the caller stopped the attempt.
        if (controller.signal.aborted) return finish(undefined);
        const failure = error instanceof CheckError ? error : new CheckError('unknown', `${check.type} check ${check.name} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
        const failed: CheckResult = { ok: false, startedAt, durationMs: monotonic() - t0, reason: failure.reason, message: capRawMessage(failure.message) };
        finish(failure.observation ? { ...failed, observation: failure.observation } : failed);
      },
    );
  });
}

/**
 * Asked before each attempt: undefined to attempt it; a result to record instead of attempting
 * (the dependency was not asked); a number of ms to ask again after (nothing recorded). Called on
 * every attempt: allocate nothing on the way that most attempts take.
 */
export type Gate = (check: CheckConfig) => CheckResult | number | undefined;

export interface SchedulerOptions {
  readonly run: RunCheck;
  readonly gate?: Gate;
  readonly onResult: (check: CheckConfig, result: CheckResult) => void;
  /** Called when a result handler throws; the loop goes on. */
  readonly onError?: (check: CheckConfig, error: unknown) => void;
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
  /**
   * Asks a check's gate again now rather than at its next attempt (a dependency's status changed):
   * nothing when it is not scheduled, or is attempting (or asking its gate) at this moment, or its
   * last attempt still runs past its timeout.
   */
  wake(name: string): void;
  /** Stops every loop and aborts every attempt in flight. */
  stop(): void;
  /** Epoch ms when any loop last started an attempt (self-health: a wedged scheduler stops moving it). */
  readonly lastAttemptAt: number;
}

const JITTER = 0.1;
/** How long the loop waits for an aborted attempt's work to settle before scheduling the next. */
const SETTLE_GRACE_MS = 250;
const MAX_JITTER_MS = 1000;

export function createScheduler(options: SchedulerOptions): Scheduler {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const loops = new Map<string, { stop(): void; wake(): void }>();
  let lastAttemptAt = now();

  const startLoop = (check: CheckConfig) => {
    let isStopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Each attempt gets a controller of its own: a signal shared across attempts collects every
    // listener a driver forgets to remove (net.connect({ signal }) removes its own only on abort).
    let controller: AbortController | undefined;
    let isWorking = false;
    let isFirst = true;
    /** Inside a tick (asking the gate, attempting, recording): a wake then has nothing to do. */
    let isTicking = false;
    /** The latest attempt failed (or was held back with a failure): the next comes at intervalWhenFailing. */
    let hasFailed = false;
    let onSettledWaiter: (() => void) | undefined;
    const onSettled = () => {
      isWorking = false;
      onSettledWaiter?.();
    };

    const tick = async (): Promise<void> => {
      isTicking = true;
      try {
        await tickOnce();
      } finally {
        isTicking = false;
      }
    };
    const tickOnce = async (): Promise<void> => {
      if (isStopped) return;
      const startedAt = now();
      lastAttemptAt = startedAt;
      try {
        if (isWorking) {
          // The previous attempt ignored its abort and is still running: never overlap it.
          options.onSkip?.(check);
        } else {
          const gated = options.gate?.(check);
          if (typeof gated === 'number') {
            // Held back without a result (a dependency not decided yet): ask again soon, same phase.
            timer = setTimeout(() => void tick(), gated);
            return;
          }
          if (gated) {
            hasFailed = !gated.ok;
            options.onResult(check, gated);
          } else {
            controller = new AbortController();
            isWorking = true;
            const result = await attempt(check, options.run, { controller, now, monotonic: options.monotonic, onSettled });
            if (result) hasFailed = !result.ok;
            if (result && !isStopped) options.onResult(check, result);
          }
          if (isWorking && !isStopped) {
            // Timed out: the kind was told to abort and normally settles within a few event-loop
            // turns (a socket's close event). Give it that long before the next attempt is due, so
            // a prompt abort is never mistaken for a straggler and the next attempt skipped.
            await new Promise<void>((resolve) => {
              const grace = setTimeout(resolve, SETTLE_GRACE_MS);
              onSettledWaiter = () => {
                clearTimeout(grace);
                resolve();
              };
            });
            onSettledWaiter = undefined;
          }
        }
      } catch (error) {
        // A bug in a result handler must not end this check's loop: report it and go on.
        options.onError?.(check, error);
      }
      if (isStopped) return;
      // After the first attempt (all checks at once, so readiness is known within one timeout),
      // each check's phase is spread over half its interval: a thousand checks do not wake together.
      const periodMs = hasFailed && check.intervalWhenFailingMs !== undefined ? check.intervalWhenFailingMs : check.intervalMs;
      const spreadMs = isFirst ? (periodMs / 2) * random() : Math.min(periodMs * JITTER, MAX_JITTER_MS) * random();
      isFirst = false;
      const delay = Math.max(0, startedAt + periodMs - spreadMs - now());
      timer = setTimeout(() => void tick(), delay);
    };
    void tick();
    return {
      stop() {
        isStopped = true;
        clearTimeout(timer);
        controller?.abort(new Error('check stopped'));
      },
      wake() {
        // Attempting, or an attempt still running past its timeout: its own result (or skip) comes anyway.
        if (isStopped || isTicking || isWorking) return;
        clearTimeout(timer);
        timer = setTimeout(() => void tick(), 0);
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
    wake(name) {
      loops.get(name)?.wake();
    },
    stop() {
      for (const loop of loops.values()) loop.stop();
      loops.clear();
    },
    get lastAttemptAt() {
      return lastAttemptAt;
    },
  };
}
