// JSON-lines logging with fixed fields (time, level, msg, then context), every string passed through
// the redactor. `pretty` is for people at a terminal.
import type { Redact } from './redact.js';
import type { LogLevel } from './config/types.js';

export type LogFields = Readonly<Record<string, string | number | boolean | undefined | null>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Changes the level or the redactor, e.g. after a reload. */
  configure(options: { level?: LogLevel; redact?: Redact }): void;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: 'json' | 'pretty';
  readonly redact?: Redact;
  /** Where lines go; default stderr. */
  readonly write?: (line: string) => void;
  readonly now?: () => number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: LoggerOptions = {}): Logger {
  let level = options.level ?? 'info';
  let redact: Redact = options.redact ?? ((text) => text);
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.now ?? Date.now;
  const pretty = options.format === 'pretty';

  const emit = (lineLevel: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[lineLevel] < RANK[level]) return;
    const record: Record<string, unknown> = { time: new Date(now()).toISOString(), level: lineLevel, msg: redact(msg) };
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value !== undefined) record[key] = typeof value === 'string' ? redact(value) : value;
    }
    write(pretty ? formatPretty(record) : `${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    configure(next) {
      if (next.level) level = next.level;
      if (next.redact) redact = next.redact;
    },
    isLevelEnabled: (candidate) => RANK[candidate] >= RANK[level],
  };
}

function formatPretty(record: Record<string, unknown>): string {
  const { time, level, msg, ...rest } = record;
  const context = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`)
    .join(' ');
  return `${String(time).slice(11, 23)} ${String(level).toUpperCase().padEnd(5)} ${msg}${context ? `  ${context}` : ''}\n`;
}
