// loadConfig: the file (or environment-only mode) -> parseConfig. The only config code that reads disk;
// load-in-worker.ts does the same off the agent's event loop.
import type { CheckKind } from '../check.js';
import { ConfigError } from '../errors.js';
import { parseConfig } from './parse.js';
import { readConfigFile, readSecretFile } from './read-file.js';
import type { AgentConfig } from './types.js';

export interface LoadOptions {
  /** The config file; undefined for environment-only mode. */
  readonly path: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly kinds: readonly CheckKind[];
}

export function loadConfig({ path, env, kinds }: LoadOptions): AgentConfig {
  let text: string | undefined;
  if (path !== undefined) {
    try {
      text = readConfigFile(path);
    } catch (error) {
      throw new ConfigError([{ path: '', message: `cannot read the config file: ${(error as Error).message}` }], path);
    }
  }
  return parseConfig(text, { kinds, env, readFile: readSecretFile, source: path });
}
