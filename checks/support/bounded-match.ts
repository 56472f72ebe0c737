// Regular expressions of the config run against what a peer sent (a 64 KiB body, a header), off the
// event loop: in a worker thread with a time limit. A pattern that backtracks (nested quantifiers,
// `^(a+)+$` on a long run of a's) then costs at most the limit on another thread, never a stalled
// agent: probes, scrapes and other checks go on being answered.
import { Worker } from 'node:worker_threads';

/** Most time the patterns of one attempt may take together, ms. */
export const MATCH_TIME_LIMIT_MS = 1000;
/**
 * Workers kept idle for the next match. Starting one costs ~25 ms of CPU and ~40 ms before it
 * answers (measured here), which would count in the check's latency; a kept one answers in well
 * under a millisecond, and holds 9 MiB (Node 20) to 16 MiB (Node 24) of RSS. Matches rarely
 * overlap (each takes a millisecond or less), so one is kept; a worker that ran out of time is
 * ended, never kept.
 */
const MAX_IDLE_WORKERS = 1;

export interface MatchJob {
  readonly pattern: string;
  readonly text: string;
}

/** Run inline (CommonJS): no file to find, in the sources under test as in the built agent. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (jobs) => parentPort.postMessage(jobs.map(({ pattern, text }) => new RegExp(pattern).test(text))));
`;

/**
 * The workers waiting for a match, shared by every check of the process as a loaded driver is:
 * they hold nothing of an attempt, and never keep the process alive (unref).
 */
const idle: Worker[] = [];

function startWorker(): Worker {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    env: {},
    // Matching needs little: a pattern that grows the heap beyond this fails the match, not the agent.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    stdout: true,
    stderr: true,
  });
  worker.unref();
  // A match listens for its own errors; an idle worker runs nothing, but an 'error' with no
  // listener would be thrown into the agent.
  worker.on('error', () => undefined);
  // An idle worker that dies (out of memory in an earlier match is handled there) leaves the pool.
  worker.once('exit', () => {
    const at = idle.indexOf(worker);
    if (at !== -1) idle.splice(at, 1);
  });
  return worker;
}

/**
 * Whether each job's pattern matches its text (JavaScript regular expressions), or 'too-slow' when
 * they did not finish within `limitMs` (the worker is then ended). On abort the worker is ended
 * and the signal's reason thrown. No listener is left on the signal once this settles.
 */
export function matchBounded(jobs: readonly MatchJob[], limitMs: number, signal: AbortSignal): Promise<boolean[] | 'too-slow'> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const worker = idle.pop() ?? startWorker();
  return new Promise((resolve, reject) => {
    const finish = (outcome: { value: boolean[] | 'too-slow' } | { error: unknown }, keep = false) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (keep && idle.length < MAX_IDLE_WORKERS) idle.push(worker);
      else void worker.terminate();
      if ('value' in outcome) resolve(outcome.value);
      else reject(outcome.error);
    };
    const onMessage = (value: boolean[]) => finish({ value }, true);
    const onError = (error: Error) => finish((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? { value: 'too-slow' } : { error });
    const onExit = () => finish({ error: new Error('the pattern worker ended without an answer') });
    const onAbort = () => finish({ error: signal.reason });
    // Referenced: a one-shot `vigil check` waits for the answer (the worker itself is unref'd).
    const timer = setTimeout(() => finish({ value: 'too-slow' }), limitMs);
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', onMessage).once('error', onError).once('exit', onExit);
    worker.postMessage(jobs.map(({ pattern, text }) => ({ pattern, text })));
  });
}
