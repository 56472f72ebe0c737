// What a peer sent (a 64 KiB body, a header) is judged by the config's regular expressions and
// JSON conditions off the event loop: in a worker thread with a time limit. A pattern that
// backtracks (nested quantifiers, `^(a+)+$` on a long run of a's), or a JSONPath that is costly on
// a hostile body, then costs at most the limit on another thread, never a stalled agent: probes,
// scrapes and other checks go on being answered.
//
// One worker serves the whole process, one job at a time: jobs wait in a queue (each takes a
// millisecond or less), and a job's time limit runs from when the worker starts it, never while it
// waits (the attempt's own timeout bounds the wait). A worker costs ~25 ms of CPU and ~40 ms to
// start, and 9 MiB (Node 20) to 16 MiB (Node 24) of RSS: one per overlapping match made thirty
// checks starting together fail their 1 s limit and peak at ~250 MB. It is started ahead of the
// first attempt (prepareWorker) when a config has anything for it to do.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { holds, type Comparison } from './condition.js';

/** Most time the patterns of one attempt may take together, ms; as much for its JSON conditions. */
export const MATCH_TIME_LIMIT_MS = 1000;

export interface MatchJob {
  readonly pattern: string;
  readonly text: string;
}

/** A JSON condition as the worker runs it: the path (validated) and the comparison. */
export interface JsonJob {
  readonly path: string;
  readonly comparison: Comparison;
}

/** Per condition: how many values the path found, and the first that fails (value and normalized path). */
export interface JsonFinding {
  readonly found: number;
  readonly failed?: { readonly value: unknown; readonly path: readonly (string | number)[] };
}

/** The body is not JSON: JSON.parse's message. */
export interface NotJson {
  readonly notJson: string;
}

/** Run inline (CommonJS): no file to find, in the sources under test as in the built agent. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const holds = (${holds.toString()});
let jsonpath;
parentPort.on('message', ({ id, kind, payload }) => {
  if (kind === 'match') return parentPort.postMessage({ id, value: payload.map(({ pattern, text }) => new RegExp(pattern).test(text)) });
  let document;
  try {
    document = JSON.parse(payload.body);
  } catch (error) {
    return parentPort.postMessage({ id, value: { notJson: String(error && error.message) } });
  }
  jsonpath ??= require(workerData.jsonpath);
  parentPort.postMessage({ id, value: payload.conditions.map(({ path, comparison }) => {
    let found = 0;
    let failed;
    jsonpath.exec(document, path, (value, at) => {
      found++;
      if (failed === undefined && !holds(value, comparison)) failed = { value, path: at };
    });
    return failed === undefined ? { found } : { found, failed };
  }) });
});
`;

const require = createRequire(import.meta.url);

interface Pending {
  readonly id: number;
  readonly kind: 'match' | 'json';
  readonly payload: unknown;
  readonly limitMs: number;
  readonly signal: AbortSignal;
  readonly settle: (outcome: { value: unknown } | { tooSlowMs: number } | { error: unknown }) => void;
}

let worker: Worker | undefined;
let isReady = false;
let running: { job: Pending; timer: NodeJS.Timeout } | undefined;
const queue: Pending[] = [];
let nextId = 0;

function startWorker(): void {
  const started = new Worker(WORKER_SOURCE, {
    eval: true,
    env: {},
    workerData: { jsonpath: require.resolve('jsonpath-rfc9535') },
    // Judging needs little: a job that grows the heap beyond this fails as too slow, not the agent.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    stdout: true,
    stderr: true,
  });
  worker = started;
  isReady = false;
  // Never keeps the process alive while idle; referenced while a job runs or waits (keepAlive).
  started.unref();
  started.once('online', () => {
    if (worker !== started) return;
    isReady = true;
    pump();
  });
  started.on('message', ({ id, value }: { id: number; value: unknown }) => {
    if (worker === started && running?.job.id === id) finish({ value });
  });
  started.on('error', (error: Error) => {
    if (worker !== started) return;
    // Out of memory: the job's input made the worker grow too far, which is as much as too slow.
    if (running) finish((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? { tooSlowMs: running.job.limitMs } : { error }, true);
  });
  let isOnline = false;
  started.once('online', () => (isOnline = true));
  started.once('exit', () => {
    if (worker !== started) return;
    worker = undefined;
    if (running) finish({ error: new Error('the matching worker ended without an answer') }, true);
    else if (!isOnline) {
      // It never started (out of memory or threads): the waiting jobs fail rather than retry forever.
      for (const job of queue.splice(0)) job.settle({ error: new Error('the matching worker could not start') });
    } else if (queue.length > 0) startWorker();
  });
}

/** Settles the running job; `retire` ends its worker (out of time, aborted, broken) and starts another if jobs wait. */
function finish(outcome: { value: unknown } | { tooSlowMs: number } | { error: unknown }, retire = false): void {
  const current = running;
  if (!current) return;
  running = undefined;
  clearTimeout(current.timer);
  current.job.signal.removeEventListener('abort', abortRunning);
  if (retire && worker) {
    const ended = worker;
    worker = undefined;
    void ended.terminate();
  }
  current.job.settle(outcome);
  if (!worker && queue.length > 0) startWorker();
  pump();
}

function abortRunning(): void {
  if (running) finish({ error: running.job.signal.reason }, true);
}

/** Starts the next waiting job when the worker is free. */
function pump(): void {
  keepAlive();
  if (running || !worker || !isReady) return;
  const job = queue.shift();
  if (!job) return;
  // Referenced: a one-shot `vigil check` waits for the answer.
  const timer = setTimeout(() => finish({ tooSlowMs: job.limitMs }, true), job.limitMs);
  running = { job, timer };
  job.signal.addEventListener('abort', abortRunning, { once: true });
  worker.postMessage({ id: job.id, kind: job.kind, payload: job.payload });
  keepAlive();
}

function keepAlive(): void {
  if (!worker) return;
  if (running || queue.length > 0) worker.ref();
  else worker.unref();
}

/** Starts the worker ahead of the first job (its start-up is then no attempt's latency). */
export function prepareWorker(): void {
  if (!worker) startWorker();
}

/**
 * Runs a job on the worker: its outcome, or { tooSlowMs } when it did not finish within `limitMs`
 * of starting (the worker is then ended). On abort (waiting or running) the signal's reason is
 * thrown. No listener is left on the signal once this settles.
 */
function runBounded<T>(kind: Pending['kind'], payload: unknown, limitMs: number, signal: AbortSignal): Promise<{ value: T } | { tooSlowMs: number }> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbortWaiting = () => {
      const at = queue.indexOf(job);
      if (at === -1) return;
      queue.splice(at, 1);
      keepAlive();
      reject(signal.reason);
    };
    const job: Pending = {
      id: nextId++,
      kind,
      payload,
      limitMs,
      signal,
      settle: (outcome) => {
        signal.removeEventListener('abort', onAbortWaiting);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome as { value: T } | { tooSlowMs: number });
      },
    };
    signal.addEventListener('abort', onAbortWaiting, { once: true });
    queue.push(job);
    if (!worker) startWorker();
    pump();
  });
}

/**
 * Whether each job's pattern matches its text (JavaScript regular expressions), or 'too-slow' when
 * they did not finish within `limitMs` of starting (the worker is then ended). On abort the signal's
 * reason is thrown.
 */
export async function matchBounded(jobs: readonly MatchJob[], limitMs: number, signal: AbortSignal): Promise<boolean[] | 'too-slow'> {
  const outcome = await runBounded<boolean[]>(
    'match',
    jobs.map(({ pattern, text }) => ({ pattern, text })),
    limitMs,
    signal,
  );
  return 'value' in outcome ? outcome.value : 'too-slow';
}

/**
 * The body parsed as JSON and each condition's path run on it, in the worker: per condition what
 * the path found and the first value failing the comparison; NotJson when the body does not parse;
 * 'too-slow' past `limitMs` of work.
 */
export async function judgeJsonBounded(body: string, conditions: readonly JsonJob[], limitMs: number, signal: AbortSignal): Promise<JsonFinding[] | NotJson | 'too-slow'> {
  const outcome = await runBounded<JsonFinding[] | NotJson>(
    'json',
    { body, conditions: conditions.map(({ path, comparison }) => ({ path, comparison })) },
    limitMs,
    signal,
  );
  return 'value' in outcome ? outcome.value : 'too-slow';
}
