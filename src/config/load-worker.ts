// The worker thread of loadConfigInWorker: loads the config once (with the registry's kinds and the built-in ones) and posts the result (the config,
// the issues of a ConfigError, or an unexpected error's message) to the agent, then ends.
import { parentPort, workerData } from 'node:worker_threads';
import type { CheckKind } from '../check.js';
import { ConfigError } from '../errors.js';
import { withBuiltins } from '../kinds.js';
import { loadConfig } from './load.js';
import type { WorkerLoadOptions, WorkerReply } from './load-in-worker.js';

const { path, env, kindsModule } = workerData as WorkerLoadOptions;
let reply: WorkerReply;
try {
  const { kinds } = (await import(kindsModule)) as { kinds: readonly CheckKind[] };
  reply = { config: loadConfig({ path, env, kinds: withBuiltins(kinds) }) };
} catch (error) {
  reply = error instanceof ConfigError ? { issues: error.issues } : { error: (error as Error).message };
}
parentPort!.postMessage(reply);
