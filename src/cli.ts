#!/usr/bin/env -S node --single-threaded-gc
// The vigil command: serve, check, validate, probe. The only module that reads process state,
// handles signals and exits. Exit codes: 0 ok, 1 unhealthy or failed, 2 usage or configuration.
// It imports only light modules itself: the agent, the checks and the config code load on demand,
// after the signal handlers and the process's log routing are in place.
import { Console } from 'node:console';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Agent } from './agent.js';
import type { ConfigWatcher } from './watch.js';
import type { CheckResult } from './check.js';
import { readDuration } from './config/duration.js';
import type { AgentConfig, LogLevel } from './config/types.js';
import { ConfigError } from './errors.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger } from './log.js';
import { boundOutput } from './output.js';
import { createRedactor } from './redact.js';

const EXIT_OK = 0;
const EXIT_UNHEALTHY = 1;
const EXIT_USAGE = 2;

const HELP = `vigil — health and metrics sidecar for an application's dependencies

Usage:
  vigil serve    [-c FILE] [-p PORT] [--host ADDR] [LOG]    run the agent (the default command)
  vigil check    [-c FILE] [-w DURATION] [--json] [LOG]     run every check once (or until all critical
                                                             checks pass, up to DURATION); exit 0 when
                                                             all critical checks pass, 1 otherwise
  vigil validate [-c FILE]                                  exit 0 when the config is valid, 2 otherwise
  vigil probe    [URL] [-c FILE] [-t DURATION]              GET URL (default /health/live of the agent
                                                             that FILE, VIGIL_CONFIG and VIGIL_PORT
                                                             describe); exit 0 on 2xx, 1 otherwise
  vigil schema                                              print the JSON Schema of the config file
  vigil -h | --help | --version

Options:
  -c, --config FILE        the config file (default VIGIL_CONFIG; without one, the environment alone)
  -p, --port N             listen port, 0 for a free one (overrides VIGIL_PORT and server.port)
      --host ADDR          listen address (overrides VIGIL_HOST and server.host)
  -w, --wait DURATION      check: retry the failing checks for up to DURATION (such as 30s or 2m)
      --json               check: print the report as JSON
  -t, --timeout DURATION   probe: give up after DURATION (default 5s)
  LOG: --log-level LEVEL   debug, info, warn or error (overrides VIGIL_LOG_LEVEL and server.logLevel)
       --log-format FMT    json (default) or pretty (overrides VIGIL_LOG_FORMAT)

Without a config file, checks can be declared as VIGIL_CHECK_<NAME>=<url> (postgres://, redis://,
rediss://, http://, https://, tcp://host:port). VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL override
server settings; VIGIL_LOG_FORMAT=pretty prints readable logs. Log lines go to standard error.
Signals: SIGHUP reloads the config; SIGTERM drains and exits 0.
Exit codes: 0 ok, 1 unhealthy, 2 usage or configuration error.
`;

class UsageError extends Error {}

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
      io.stdout(HELP);
      return EXIT_OK;
    }
    if (args.includes('--version') || command === 'version') {
      io.stdout(`vigil ${version()}\n`);
      return EXIT_OK;
    }
    switch (command) {
      case 'serve':
        return await serve(args, io, log);
      case 'check':
        return await check(args, io, log);
      case 'validate':
        return await validate(args, io);
      case 'probe':
        return await probe(args, io);
      case 'schema': {
        const [{ kinds }, { configJsonSchema }] = await Promise.all([import('../checks/index.js'), import('./config/schema.js')]);
        io.stdout(`${JSON.stringify(configJsonSchema(kinds), null, 2)}\n`);
        return EXIT_OK;
      }
      default:
        throw new UsageError(`unknown command "${command}" (serve, check, validate, probe, schema)`);
    }
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

function configOptions() {
  return { config: { type: 'string', short: 'c' } } as const;
}

function logOptions() {
  return { 'log-level': { type: 'string' }, 'log-format': { type: 'string' } } as const;
}

async function load(path: string | undefined, io: Io): Promise<AgentConfig> {
  const [{ kinds }, { loadConfig }] = await Promise.all([import('../checks/index.js'), import('./config/load.js')]);
  return loadConfig({ path: path ?? (io.env.VIGIL_CONFIG || undefined), env: io.env, kinds });
}

/** load() off the event loop, for the agent: a large config never stalls the endpoints. */
async function loadOffThread(path: string | undefined, io: Io): Promise<AgentConfig> {
  const { loadConfigInWorker } = await import('./config/load.js');
  return loadConfigInWorker({ path, env: io.env, kindsModule: new URL('../checks/index.js', import.meta.url).href });
}

interface LogSettings {
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
function logSettings(values: { 'log-level'?: string; 'log-format'?: string }, env: Io['env']): LogSettings {
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

/** A config error at start, logged: once serve logs, every line it writes is a log line. */
function logConfigError(log: Logger, error: ConfigError): void {
  const [head, ...problems] = error.message.split('\n');
  log.fatal(`${head!}: vigil did not start`, { problems: problems.map((line) => line.replace(/^ {2}- /, '')) });
}

async function serve(argv: readonly string[], io: Io, log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), port: { type: 'string', short: 'p' }, host: { type: 'string' }, ...logOptions() },
    allowPositionals: false,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(/^\d+$/.test(values.port!) && port <= 65535)) {
    throw new UsageError(`--port ${values.port} is not a port number (0-65535)`);
  }
  const settings = logSettings(values, io.env);
  log.configure({ format: settings.format, level: settings.level });
  // Signals that arrive from here on wait until the agent runs; the entry point catches them even earlier.
  const signals = io.signals ?? holdSignals(HELD_SIGNALS);
  const path = values.config ?? (io.env.VIGIL_CONFIG || undefined);
  const [{ kinds }, { createAgent }, { watchConfig }] = await Promise.all([
    import('../checks/index.js'),
    import('./agent.js'),
    import('./watch.js'),
  ]);
  const applyFlags = (config: AgentConfig): AgentConfig =>
    Object.freeze({
      ...config,
      server: Object.freeze({
        ...config.server,
        ...(port === undefined ? {} : { port }),
        ...(values.host ? { host: values.host } : {}),
        ...(settings.flagLevel ? { logLevel: settings.flagLevel } : {}),
      }),
    });
  let config: AgentConfig;
  try {
    config = applyFlags(await loadOffThread(path, io));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logConfigError(log, error);
    return EXIT_USAGE;
  }
  log.configure({ level: config.server.logLevel, redact: createRedactor(config.secrets) });
  const agent = createAgent(config, { kinds, log, version: version() });
  let address;
  try {
    address = await agent.start();
  } catch (error) {
    await agent.stop();
    const code = (error as { code?: string }).code;
    const why = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    log.fatal(`cannot listen on ${config.server.host}:${config.server.port}: ${why}`, { host: config.server.host, port: config.server.port });
    return EXIT_UNHEALTHY;
  }
  // The bound port, which differs from the configured one when that is 0.
  log.info('vigil started', {
    version: version(),
    host: address?.address,
    port: address?.port,
    checks: config.checks.length,
    config: path ?? 'environment',
  });

  // Reloads run one after another: a SIGHUP during a file-triggered reload waits its turn.
  let watcher: ConfigWatcher | undefined;
  let reloading = Promise.resolve();
  const reload = (trigger: string) => {
    reloading = reloading.then(() => reloadOnce(trigger));
  };
  const reloadOnce = async (trigger: string) => {
    try {
      const next = applyFlags(await loadOffThread(path, io));
      await agent.reload(next);
      watcher?.update([path!, ...(next.files ?? [])]);
    } catch (error) {
      agent.metrics.configReloaded(false, Date.now());
      const issues = error instanceof ConfigError ? error.issues.length : 1;
      log.error(`configuration reload failed (${trigger}); the running configuration stays`, {
        trigger,
        problems: issues,
        error: (error as Error).message,
      });
    }
  };
  // The config file and every file it names (secrets, the details token): a change to any reloads.
  if (path) watcher = watchConfig([path, ...(config.files ?? [])], () => reload('file change'), log);
  return await new Promise<number>((resolve) => {
    let draining = false;
    signals.deliver((signal, held) => {
      if (held) log.info('signal received during start-up: handled now', { signal });
      if (signal === 'SIGHUP') {
        reload('SIGHUP');
        return;
      }
      if (draining) {
        log.warn('second signal: exiting at once', { signal });
        resolve(signal === 'SIGINT' ? 130 : 143);
        return;
      }
      draining = true;
      const { drainDelayMs, drainMode } = agent.config.server;
      agent.drain();
      log.info('draining: every health group but live fails from now on', { signal, drainDelayMs, drainMode });
      const delay = new Promise<void>((wake) => setTimeout(wake, drainDelayMs).unref());
      // requests: nobody reads readiness any more (a native sidecar outlives its app), so the agent
      // stays only as long as a request is being answered.
      const drained = drainMode === 'requests' ? Promise.race([agent.idle(), delay]) : delay;
      void drained
        .then(() => {
          watcher?.close();
          return shutdown(agent, log);
        })
        .then(() => resolve(EXIT_OK));
    });
  });
}

async function shutdown(agent: Agent, log: Logger): Promise<void> {
  await agent.stop();
  log.info('vigil stopped');
}

async function check(argv: readonly string[], io: Io, log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), wait: { type: 'string', short: 'w' }, json: { type: 'boolean' }, ...logOptions() },
    allowPositionals: false,
  });
  const wait = values.wait === undefined ? { ms: 0 } : readDuration(values.wait, { allowZero: true });
  if (wait.problem !== undefined) throw new UsageError(`--wait ${values.wait} ${wait.problem}`);
  const waitMs = wait.ms;
  const settings = logSettings(values, io.env);
  log.configure({ format: settings.format, level: settings.level });
  const config = await load(values.config, io);
  const redact = createRedactor(config.secrets);
  log.configure({ level: settings.flagLevel ?? config.server.logLevel, redact });
  const [{ kinds }, { createRunner }, { attempt }] = await Promise.all([import('../checks/index.js'), import('./runner.js'), import('./scheduler.js')]);
  const { run, prepare } = createRunner(kinds);
  await prepare(config.checks);
  const deadline = Date.now() + waitMs;
  const results = new Map<string, CheckResult>();
  let round = 0;
  for (;;) {
    round++;
    const todo = config.checks.filter((c) => !results.get(c.name)?.ok);
    await Promise.all(
      todo.map(async (c) => {
        const result = await attempt(c, run);
        if (result) results.set(c.name, result);
      }),
    );
    const failing = config.checks.filter((c) => c.critical && !results.get(c.name)?.ok);
    if (failing.length === 0 || Date.now() >= deadline) break;
    log.info(`waiting for ${failing.map((c) => `${c.name} (${results.get(c.name)?.reason ?? 'pending'})`).join(', ')} — round ${round}`, { round });
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }

  const rows = config.checks.map((c) => {
    const result = results.get(c.name)!;
    const status = result.ok ? 'pass' : c.critical ? 'fail' : 'warn';
    return {
      name: c.name,
      type: c.type,
      critical: c.critical,
      status,
      durationMs: Math.round(result.durationMs * 100) / 100,
      ...(result.ok ? {} : { reason: result.reason, output: boundOutput(redact(result.message ?? '')) }),
    };
  });
  const isHealthy = rows.every((r) => r.status !== 'fail');
  if (values.json) {
    io.stdout(`${JSON.stringify({ status: isHealthy ? (rows.some((r) => r.status === 'warn') ? 'warn' : 'pass') : 'fail', checks: rows }, null, 2)}\n`);
  } else {
    const table = [['CHECK', 'TYPE', 'STATUS', 'LATENCY', 'DETAIL'], ...rows.map((r) => [r.name, r.type, r.status.toUpperCase(), `${r.durationMs} ms`, r.output ? `${r.reason}: ${r.output}` : ''])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    io.stdout(table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n');
  }
  return isHealthy ? EXIT_OK : EXIT_UNHEALTHY;
}

async function validate(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: configOptions(), allowPositionals: false });
  const path = values.config ?? (io.env.VIGIL_CONFIG || undefined);
  // The log format is configuration too: a deployment that sets a wrong one fails here, not at start.
  logSettings({}, io.env);
  const config = await load(values.config, io);
  const redact = createRedactor(config.secrets);
  for (const warning of config.warnings) io.stderr(`warning: ${redact(warning)}\n`);
  io.stdout(redact(`${path ?? 'environment'}: valid, ${config.checks.length} check${config.checks.length === 1 ? '' : 's'} (${config.checks.map((c) => `${c.name}: ${c.type}`).join(', ')})\n`));
  return EXIT_OK;
}

async function probe(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), timeout: { type: 'string', short: 't' } },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError('probe takes at most one URL');
  const timeout = readDuration(values.timeout ?? '5s');
  if (timeout.problem !== undefined) throw new UsageError(`--timeout ${values.timeout} ${timeout.problem}`);
  const timeoutMs = timeout.ms;
  let targets: string[];
  if (positionals[0] !== undefined) {
    targets = [positionals[0]];
  } else {
    // The agent's own address, from the sources serve reads; a problem elsewhere in the file must
    // not turn a running agent's HEALTHCHECK unhealthy.
    const { listenAddressOf, loopbackAddresses } = await import('./config/address.js');
    const { readConfigFile } = await import('./config/read-file.js');
    // The running agent's own flags and VIGIL_* environment, where it can be found: a container's
    // HEALTHCHECK does not see `serve --port N` or `serve --config FILE`. PID 1 when it is the agent
    // (a container); otherwise the only agent running, unless the probe was told where to look.
    const isTold = io.env.VIGIL_CONFIG !== undefined || io.env.VIGIL_PORT !== undefined;
    const { findServingAgent } = await import('./config/serving-agent.js');
    const serving = values.config === undefined ? findServingAgent(fileURLToPath(import.meta.url), { onlyPid1: isTold }) : undefined;
    const env = serving ? { ...withoutVigilVariables(io.env), ...serving.env } : io.env;
    const path = values.config ?? serving?.config ?? (env.VIGIL_CONFIG || undefined);
    const found = listenAddressOf({ path, env, readFile: readConfigFile });
    for (const note of found.notes) io.stderr(`vigil probe: ${note}\n`);
    // As serve reads them: its flags outrank the environment and the file.
    const flagPort = serving?.port !== undefined && /^\d+$/.test(serving.port) && Number(serving.port) <= 65535 ? Number(serving.port) : undefined;
    const address = { host: serving?.host ?? found.host, port: flagPort ?? found.port };
    if (address.port === 0) throw new UsageError('server.port is 0 (a port picked at start): give the URL to probe');
    targets = loopbackAddresses(address.host).map((host) => `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/health/live`);
  }
  const urls = targets.map((target) => {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new UsageError(`"${target}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`"${target}" is not an http:// or https:// URL`);
    return url;
  });
  const failures: string[] = [];
  for (const url of urls) {
    const outcome = await get(url, timeoutMs);
    if (typeof outcome === 'number') {
      if (outcome >= 200 && outcome < 300) return EXIT_OK;
      io.stderr(`vigil probe: ${createRedactor([])(`${url.href}: HTTP ${outcome}`)}\n`);
      return EXIT_UNHEALTHY;
    }
    failures.push(`${url.href}: ${outcome.message}`);
    // Nothing listens on this address (IPv4 or IPv6 turned off, or the agent bound the other family): try the next.
    if (!['ECONNREFUSED', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EAFNOSUPPORT'].includes(outcome.code ?? '')) break;
  }
  io.stderr(`vigil probe: ${createRedactor([])(failures.join('; '))}\n`);
  return EXIT_UNHEALTHY;
}

/** The status code of a GET, or why there was none. */
function get(url: URL, timeoutMs: number): Promise<number | { message: string; code?: string }> {
  return new Promise((resolve) => {
    const req = (url.protocol === 'https:' ? httpsRequest : request)(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ message: error.message, code: (error as { code?: string }).code }));
    req.end();
  });
}

function withoutVigilVariables(env: Io['env']): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('VIGIL_')));
}

const VERSION = readVersion();
function version(): string {
  return VERSION;
}

function readVersion(): string {
  // dist/src/cli.js or src/cli.ts: the package.json is the nearest one above.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

// SIGHUP last: its handler appearing (SigCgt in /proc/<pid>/status) means the others are installed
// too; Node itself catches SIGTERM and SIGINT from its first instant, so their bits say nothing.
const HELD_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export interface HeldSignals {
  /** Hands every signal caught so far (held: true), then each new one, to the handler. */
  deliver(handler: (signal: NodeJS.Signals, held: boolean) => void): void;
}

/**
 * Catches these signals from now on and holds them until a handler is ready. Without it a SIGHUP
 * (or SIGTERM) during start-up would kill the process with the default action: start-up loads
 * hundreds of milliseconds of modules before the agent could install a handler of its own.
 */
function holdSignals(names: readonly NodeJS.Signals[]): HeldSignals {
  const held: NodeJS.Signals[] = [];
  let handler: ((signal: NodeJS.Signals, held: boolean) => void) | undefined;
  for (const name of names) {
    process.on(name, (signal: NodeJS.Signals) => {
      if (handler) handler(signal, false);
      // Several SIGHUPs before the agent runs ask for one reload of what it will have loaded.
      else if (!(signal === 'SIGHUP' && held.includes(signal))) held.push(signal);
    });
  }
  return {
    deliver(next) {
      handler = next;
      for (const signal of held.splice(0)) next(signal, true);
    },
  };
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
    ...(commandOf(argv).command === 'serve' ? { signals: holdSignals(HELD_SIGNALS) } : {}),
  });
  // Exit explicitly: a socket left by a hung dependency must not keep the process alive.
  process.exitCode = code;
  if (process.stdout.writable) process.stdout.write('', () => process.exit(code));
  else process.exit(code);
}
