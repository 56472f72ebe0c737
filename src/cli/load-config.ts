// How the commands read the config, with the registry's kinds: on this thread (check, validate) or
// in a worker (serve), so that a large config never stalls the agent's endpoints.
import type { AgentConfig } from '../config/types.js';
import type { Io } from './common.js';
import { KINDS_MODULE, loadKinds } from './kinds.js';

/** `path` undefined: the environment alone declares the checks. */
export async function loadConfigHere(path: string | undefined, env: Io['env']): Promise<AgentConfig> {
  const [kinds, { loadConfig }] = await Promise.all([loadKinds(), import('../config/load.js')]);
  return loadConfig({ path, env, kinds });
}

export async function loadConfigOffThread(path: string | undefined, env: Io['env']): Promise<AgentConfig> {
  const { loadConfigInWorker } = await import('../config/load-in-worker.js');
  return loadConfigInWorker({ path, env, kindsModule: KINDS_MODULE });
}
