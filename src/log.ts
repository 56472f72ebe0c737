// JSON-lines logging with fixed fields (time, level, severity, msg, then context), every string passed
// through the redactor. `severity` carries Google Cloud Logging's names, which other collectors read
// too; `pretty` is for people at a terminal.
import type { Redact } from './redact.js';
import type { LogLevel } from './config/types.js';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined | null | readonly string[]>>;

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** The process is about to end because of this; written whatever the level. */
  fatal(msg: string, fields?: LogFields): void;
  /** Changes the level, the format or the redactor, e.g. after a reload. */
  configure(options: { level?: LogLevel; format?: LogFormat; redact?: Redact }): void;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  readonly redact?: Redact;
  /** Where lines go; default stderr. */
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

type LineLevel = LogLevel | 'fatal';

const RANK: Record<LineLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };
const SEVERITY: Record<LineLevel, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' };

export function createLogger(options: LoggerOptions = {}): Logger {
  let level: LogLevel = options.level ?? 'info';
  let redact: Redact = options.redact ?? ((text) => text);
  let format: LogFormat = options.format ?? 'json';
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;

  const emit = (lineLevel: LineLevel, msg: string, fields?: LogFields) => {
    if (RANK[lineLevel] < RANK[level]) return;
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level: lineLevel, severity: SEVERITY[lineLevel], msg: redact(msg) };
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value === undefined) continue;
      if (typeof value === 'string') record[key] = redact(value);
      else if (Array.isArray(value)) record[key] = value.map((item: string) => redact(item));
      else record[key] = value;
    }
    write(format === 'pretty' ? formatPretty(record) : `${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    fatal: (msg, fields) => emit('fatal', msg, fields),
    configure(next) {
      if (next.level) level = next.level;
      if (next.format) format = next.format;
      if (next.redact) redact = next.redact;
    },
    isLevelEnabled: (candidate) => RANK[candidate] >= RANK[level],
  };
}

function formatPretty(record: Record<string, unknown>): string {
  const { time, level, severity: _severity, msg, ...rest } = record;
  const context: string[] = [];
  // A list (such as every problem of a config) reads best one item per line.
  const items: string[] = [];
  for (const [key, value] of Object.entries(rest)) {
    if (Array.isArray(value)) for (const item of value) items.push(`\n  ${key}: ${String(item)}`);
    else context.push(`${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`);
  }
  return `${String(time).slice(11, 23)} ${String(level).toUpperCase().padEnd(5)} ${msg}${context.length ? `  ${context.join(' ')}` : ''}${items.join('')}\n`;
}
