#!/usr/bin/env -S node --single-threaded-gc --max-semi-space-size=2
// The vigil command's entry point: the process-level setup that must come first (signals held for
// serve, output routed through the logger, last-resort handlers), dispatch to a command in cli/, exit.
// Its imports stay light: a command's module, and the agent, checks and config code, load on demand.
import { Console } from 'node:console';
import { realpathSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { createRedactor } from './redact.js';
import { EXIT_OK, EXIT_UNHEALTHY, EXIT_USAGE, UsageError, VERSION, type Command, type Io } from './cli/common.js';
import { holdSignals } from './cli/lifecycle.js';

const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./cli/serve.js')).serve,
  check: async () => (await import('./cli/check.js')).check,
  validate: async () => (await import('./cli/validate.js')).validate,
  probe: async () => (await import('./cli/probe.js')).probe,
  schema: async () => (await import('./cli/schema.js')).schema,
};

/** The command and its arguments: serve when the first argument is not a command. */
function commandOf(argv: readonly string[]): { command: string; args: readonly string[] } {
  const [first, ...rest] = argv;
  const isImplicit = first === undefined || first.startsWith('-');
  return { command: isImplicit ? 'serve' : first, args: isImplicit ? argv : rest };
}

/** Runs a command and resolves with its exit code (serve resolves only when it stops). */
export async function main(io: Io): Promise<number> {
  const { command, args } = commandOf(io.argv);
  const log = io.log ?? createLogger({ write: io.stderr });
  try {
    if (args.includes('--help') || args.includes('-h') || command === 'help') {
      const [{ helpText }, { loadKinds }] = await Promise.all([import('./cli/help.js'), import('./cli/kinds.js')]);
      io.stdout(helpText(await loadKinds()));
      return EXIT_OK;
    }
    if (args.includes('--version') || command === 'version') {
      io.stdout(`vigil ${VERSION}\n`);
      return EXIT_OK;
    }
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!load) throw new UsageError(`unknown command "${command}" (${Object.keys(COMMANDS).join(', ')})`);
    return await (await load())(args, io, log);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`vigil: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`vigil: ${(error as Error).message}\nRun "vigil --help" for usage.\n`);
      return EXIT_USAGE;
    }
    // No config to know its secrets from: at least no URL's credentials or query values.
    io.stderr(`vigil: ${createRedactor([])((error as Error).message)}\n`);
    return EXIT_UNHEALTHY;
  }
}

/** Writes to a standard stream while it can: a reader that went away (EPIPE) costs lines, not the agent. */
function writeTo(stream: NodeJS.WriteStream): (text: string) => void {
  return (text) => {
    if (stream.writable) stream.write(text);
  };
}

/**
 * Whatever the process itself would print goes through the logger, so that in JSON mode standard
 * output and error carry nothing but JSON lines: runtime warnings (Node prints them itself unless
 * its own listener goes), drivers' console calls (pg's and ioredis's notices), and the last words of
 * an exception that escaped everything else. A closed log pipe is survived.
 */
function guardProcess(log: Logger): void {
  process.on('uncaughtException', (error) => {
    log.fatal('uncaught exception: vigil stops', { error: describe(error), stack: (error as Error)?.stack });
    process.exit(EXIT_UNHEALTHY);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal('unhandled rejection: vigil stops', { error: describe(reason), stack: (reason as Error)?.stack });
    process.exit(EXIT_UNHEALTHY);
  });
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    log.warn(warning.message, { warning: warning.name, code: (warning as { code?: string }).code });
  });
  const lines = (level: 'info' | 'warn') =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        log[level](String(chunk).trimEnd(), { source: 'console' });
        done();
      },
    });
  const routed = new Console({ stdout: lines('info'), stderr: lines('warn') }) as unknown as Record<string, unknown>;
  const global = console as unknown as Record<string, unknown>;
  for (const key of Object.keys(global)) if (typeof routed[key] === 'function') global[key] = routed[key];
  for (const stream of [process.stdout, process.stderr]) {
    // EPIPE: the reader is gone (`vigil serve | head`); what would have gone there is dropped.
    stream.on('error', () => undefined);
  }
  // The drivers' `debug` output (DEBUG=ioredis:*, mqttjs*) shows the commands they send, passwords
  // among them, straight to stderr: it is turned off before any driver loads. vigil's own debug
  // level goes through the redacting logger.
  if (process.env.DEBUG) {
    log.warn('DEBUG is ignored: the drivers\' debug output shows credentials; use --log-level debug', { variable: 'DEBUG' });
    delete process.env.DEBUG;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const isEntryPoint = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isEntryPoint) {
  const stderr = writeTo(process.stderr);
  const log = createLogger({ write: stderr });
  guardProcess(log);
  const argv = process.argv.slice(2);
  const code = await main({
    argv,
    env: process.env,
    stdout: writeTo(process.stdout),
    stderr,
    log,
    ...(commandOf(argv).command === 'serve' ? { signals: holdSignals() } : {}),
  });
  // Exit explicitly: a socket left by a hung dependency must not keep the process alive.
  process.exitCode = code;
  if (process.stdout.writable) process.stdout.write('', () => process.exit(code));
  else process.exit(code);
}
