// Regular expressions of the config run against what a peer sent (a 64 KiB body, a header), off the
// event loop: in a worker thread of their own with a time limit. A pattern that backtracks
// (nested quantifiers, `^(a+)+$` on a long run of a's) then costs at most the limit on another
// thread, never a stalled agent: probes, scrapes and other checks go on being answered.
import { Worker } from 'node:worker_threads';

/** Most time the patterns of one attempt may take together, ms. */
export const MATCH_TIME_LIMIT_MS = 1000;

export interface MatchJob {
  readonly pattern: string;
  readonly text: string;
}

/** Run inline (CommonJS): no file to find, in the sources under test as in the built agent. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.postMessage(workerData.map(({ pattern, text }) => new RegExp(pattern).test(text)));
`;

/**
 * Whether each job's pattern matches its text (JavaScript regular expressions), or 'too-slow' when
 * they did not finish within `limitMs`. On abort the worker is ended and the signal's reason thrown.
 * The worker is gone when this settles, and no listener is left on the signal.
 */
export function matchBounded(jobs: readonly MatchJob[], limitMs: number, signal: AbortSignal): Promise<boolean[] | 'too-slow'> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: jobs.map(({ pattern, text }) => ({ pattern, text })),
      env: {},
      // Matching needs little: a pattern that grows the heap beyond this ends like one that is too slow.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
      stdout: true,
      stderr: true,
    });
    let outcome: { value: boolean[] | 'too-slow' } | { error: unknown } | undefined;
    const finish = (result: typeof outcome) => {
      outcome ??= result;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      // Settled once the thread is gone: an attempt leaves nothing running behind it.
      void worker.terminate();
    };
    const timer = setTimeout(() => finish({ value: 'too-slow' }), limitMs);
    const onAbort = () => finish({ error: signal.reason });
    signal.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (value: boolean[]) => finish({ value }));
    worker.once('error', (error) => finish((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? { value: 'too-slow' } : { error }));
    worker.once('exit', () => {
      finish({ error: new Error('the pattern worker ended without an answer') });
      if (outcome && 'value' in outcome) resolve(outcome.value);
      else reject(outcome!.error);
    });
  });
}
