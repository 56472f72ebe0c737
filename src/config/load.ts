// loadConfig: the file (or environment-only mode) -> parseConfig. The only config code that reads disk.
import { readFileSync } from 'node:fs';
import type { CheckKind } from '../check.js';
import { ConfigError } from '../errors.js';
import { parseConfig } from './parse.js';
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
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new ConfigError([{ path: '', message: `cannot read the config file: ${why}` }], path);
    }
  }
  return parseConfig(text, { kinds, env, readFile: (file) => readFileSync(file, 'utf8'), source: path });
}
