// loadConfigInWorker: loadConfig (load.ts) in a worker thread, for a running agent. This module does
// not import the parser: the agent's own thread never loads yaml or the config schemas.
import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { deepFreeze } from './freeze.js';
import type { AgentConfig } from './types.js';

/** The heap a worker may use to parse a config: far above what the largest accepted config needs. */
export const PARSE_HEAP_MB = 64;
/** A parse that takes longer than this is abandoned (no accepted config comes near it). */
const PARSE_DEADLINE_MS = 30_000;

export interface WorkerLoadOptions {
  readonly path: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The URL of a module exporting `kinds` (the worker imports the check types itself). */
  readonly kindsModule: string;
}

/**
 * loadConfig in a worker thread, for a running agent: the event loop keeps answering probes while a
 * large config parses, and a config that needs more than PARSE_HEAP_MB of heap is refused rather
 * than growing the agent. Resolves with the same frozen AgentConfig, rejects with the same ConfigError.
 */
export function loadConfigInWorker(options: WorkerLoadOptions): Promise<AgentConfig> {
  const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
    workerData: { path: options.path, env: { ...options.env }, kindsModule: options.kindsModule },
    resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB, maxYoungGenerationSizeMb: 8 },
    stdout: false,
    stderr: false,
  });
  const tooLarge = (why: string) => new ConfigError([{ path: '', message: `the config ${why}; make it smaller` }], options.path);
  return new Promise<AgentConfig>((resolve, reject) => {
    const deadline = setTimeout(() => {
      reject(tooLarge(`took longer than ${PARSE_DEADLINE_MS / 1000}s to parse`));
      void worker.terminate();
    }, PARSE_DEADLINE_MS);
    deadline.unref();
    worker.once('message', (reply: WorkerReply) => {
      clearTimeout(deadline);
      if ('config' in reply) resolve(deepFreeze(reply.config));
      else if ('issues' in reply) reject(new ConfigError(reply.issues, options.path));
      else reject(new Error(reply.error));
    });
    worker.once('error', (error) => {
      clearTimeout(deadline);
      const code = (error as { code?: string }).code;
      reject(code === 'ERR_WORKER_OUT_OF_MEMORY' ? tooLarge(`needs more than ${PARSE_HEAP_MB} MiB to parse`) : error);
    });
    worker.once('exit', () => {
      clearTimeout(deadline);
      // After a reply or an error this changes nothing; otherwise the worker ended without either.
      reject(new Error('the config loader ended without an answer'));
    });
  });
}

export type WorkerReply = { readonly config: AgentConfig } | { readonly issues: readonly ConfigIssue[] } | { readonly error: string };
