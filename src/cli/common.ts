// What every command shares: the process it runs against (Io), exit codes, usage errors, the
// --config and log flags with the log settings they make, and the package's version.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger } from '../log.js';
import type { HeldSignals } from './lifecycle.js';

export const EXIT_OK = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_USAGE = 2;

/** A command line vigil cannot run: exit 2, with a pointer to --help. */
export class UsageError extends Error {}

export interface Io {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The process's logger (serve and check set its format, level and redaction); made when absent. */
  readonly log?: Logger;
  /** Signals caught since the process started; serve handles them once it runs. */
  readonly signals?: HeldSignals;
}

/** A command: its arguments (after the command's name) in, its exit code out. */
export type Command = (args: readonly string[], io: Io, log: Logger) => Promise<number>;

export function configOptions() {
  return { config: { type: 'string', short: 'c' } } as const;
}

/** --config, else VIGIL_CONFIG; undefined means the environment alone declares the checks. */
export function configPath(flag: string | undefined, env: Io['env']): string | undefined {
  return flag ?? (env.VIGIL_CONFIG || undefined);
}

export function logOptions() {
  return { 'log-level': { type: 'string' }, 'log-format': { type: 'string' } } as const;
}

export interface LogSettings {
  readonly format: LogFormat;
  /** Before the config is read: --log-level, else a valid VIGIL_LOG_LEVEL, else info. */
  readonly level: LogLevel;
  /** --log-level, which outranks the environment and the file. */
  readonly flagLevel?: LogLevel;
}

/**
 * The log format and level of --log-format and --log-level, else of the environment. An unknown
 * flag value is a usage error; an unknown VIGIL_LOG_FORMAT a config error (VIGIL_LOG_LEVEL is
 * checked with the config), never silently JSON.
 */
export function logSettings(values: { 'log-level'?: string; 'log-format'?: string }, env: Io['env']): LogSettings {
  const envFormat = env.VIGIL_LOG_FORMAT ? env.VIGIL_LOG_FORMAT.toLowerCase() : undefined;
  if (envFormat !== undefined && !isOneOf(envFormat, LOG_FORMATS)) {
    throw new ConfigError([{ path: 'VIGIL_LOG_FORMAT', message: `${JSON.stringify(env.VIGIL_LOG_FORMAT)} must be one of ${LOG_FORMATS.join(', ')}` }]);
  }
  const flagFormat = values['log-format'];
  if (flagFormat !== undefined && !isOneOf(flagFormat, LOG_FORMATS)) throw new UsageError(`--log-format ${flagFormat}: must be one of ${LOG_FORMATS.join(', ')}`);
  const flagLevel = values['log-level'];
  if (flagLevel !== undefined && !isOneOf(flagLevel, LOG_LEVELS)) throw new UsageError(`--log-level ${flagLevel}: must be one of ${LOG_LEVELS.join(', ')}`);
  const envLevel = env.VIGIL_LOG_LEVEL?.toLowerCase();
  return {
    format: flagFormat ?? envFormat ?? 'json',
    level: flagLevel ?? (envLevel !== undefined && isOneOf(envLevel, LOG_LEVELS) ? envLevel : 'info'),
    ...(flagLevel === undefined ? {} : { flagLevel }),
  };
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** The package's version, as package.json states it. */
export const VERSION = readVersion();

function readVersion(): string {
  // dist/src/cli/ or src/cli/: the package.json is the nearest one above.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A config error's problems, one line each (file:line:column: path: message), for a log line. */
export function problemsOf(error: ConfigError): string[] {
  return error.message
    .split('\n')
    .slice(1)
    .map((line) => line.replace(/^ {2}- /, ''));
}
