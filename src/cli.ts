#!/usr/bin/env -S node --single-threaded-gc
// The vigil command: serve, check, validate, probe. The only module that reads process state,
// handles signals and exits. Exit codes: 0 ok, 1 unhealthy or failed, 2 usage or configuration.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { kinds } from '../checks/index.js';
import { createAgent, type Agent } from './agent.js';
import type { CheckResult } from './check.js';
import { readDuration } from './config/duration.js';
import { loadConfig, loadConfigInWorker } from './config/load.js';
import { configJsonSchema } from './config/schema.js';
import type { AgentConfig, LogLevel } from './config/types.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { createRedactor } from './redact.js';
import { createRunner } from './runner.js';
import { attempt } from './scheduler.js';
import { watchConfig, type ConfigWatcher } from './watch.js';

const EXIT_OK = 0;
const EXIT_UNHEALTHY = 1;
const EXIT_USAGE = 2;

const HELP = `vigil — health and metrics sidecar for an application's dependencies

Usage:
  vigil serve    [--config FILE] [--port N] [--host ADDR]   run the agent (the default command)
  vigil check    [--config FILE] [--wait DURATION] [--json] run every check once (or until all critical
                                                             checks pass, up to DURATION); exit 0 when
                                                             all critical checks pass, 1 otherwise
  vigil validate [--config FILE]                            exit 0 when the config is valid, 2 otherwise
  vigil probe    [URL] [--timeout DURATION]                 GET URL (default the local agent's
                                                             /health/live); exit 0 on 2xx, 1 otherwise
  vigil schema                                              print the JSON Schema of the config file
  vigil --help | --version

The config file may also come from VIGIL_CONFIG. Without one, checks can be declared as
VIGIL_CHECK_<NAME>=<url> (postgres://, redis://, rediss://, http://, https://, tcp://host:port).
VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL override server settings; VIGIL_LOG_FORMAT=pretty
prints readable logs. Signals: SIGHUP reloads the config; SIGTERM drains and exits 0.
Exit codes: 0 ok, 1 unhealthy, 2 usage or configuration error.
`;

class UsageError extends Error {}

export interface Io {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Runs a command and resolves with its exit code (serve resolves only when it stops). */
export async function main(io: Io): Promise<number> {
  const [first, ...rest] = io.argv;
  const command = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = first === undefined || first.startsWith('-') ? io.argv : rest;
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
        return await serve(args, io);
      case 'check':
        return await check(args, io);
      case 'validate':
        return validate(args, io);
      case 'probe':
        return await probe(args, io);
      case 'schema':
        io.stdout(`${JSON.stringify(configJsonSchema(kinds), null, 2)}\n`);
        return EXIT_OK;
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
    io.stderr(`vigil: ${(error as Error).message}\n`);
    return EXIT_UNHEALTHY;
  }
}

function configOptions() {
  return { config: { type: 'string', short: 'c' } } as const;
}

function load(path: string | undefined, io: Io): AgentConfig {
  return loadConfig({ path: path ?? (io.env.VIGIL_CONFIG || undefined), env: io.env, kinds });
}

/** load() off the event loop, for the agent: a large config never stalls the endpoints. */
function loadOffThread(path: string | undefined, io: Io): Promise<AgentConfig> {
  return loadConfigInWorker({ path, env: io.env, kindsModule: new URL('../checks/index.js', import.meta.url).href });
}

function createCliLogger(io: Io, level?: LogLevel): Logger {
  const envLevel = io.env.VIGIL_LOG_LEVEL?.toLowerCase();
  const known = ['debug', 'info', 'warn', 'error'];
  return createLogger({
    level: level ?? (known.includes(envLevel ?? '') ? (envLevel as LogLevel) : 'info'),
    format: io.env.VIGIL_LOG_FORMAT === 'pretty' ? 'pretty' : 'json',
    write: io.stderr,
  });
}

async function serve(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), port: { type: 'string', short: 'p' }, host: { type: 'string' } },
    allowPositionals: false,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new UsageError(`--port ${values.port} is not a port number (0-65535)`);
  }
  const path = values.config ?? (io.env.VIGIL_CONFIG || undefined);
  const log = createCliLogger(io);
  const applyFlags = (config: AgentConfig): AgentConfig =>
    Object.freeze({
      ...config,
      server: Object.freeze({ ...config.server, ...(port === undefined ? {} : { port }), ...(values.host ? { host: values.host } : {}) }),
    });
  const config = applyFlags(await loadOffThread(path, io));
  log.configure({ level: config.server.logLevel, redact: createRedactor(config.secrets) });
  const agent = createAgent(config, { kinds, log, version: version() });
  let address;
  try {
    address = await agent.start();
  } catch (error) {
    await agent.stop();
    const code = (error as { code?: string }).code;
    const why = code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    io.stderr(`vigil: cannot listen on ${config.server.host}:${config.server.port}: ${why}\n`);
    return EXIT_UNHEALTHY;
  }
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
    process.on('SIGHUP', () => reload('SIGHUP'));
    let draining = false;
    const onStop = (signal: NodeJS.Signals) => {
      if (draining) {
        log.warn('second signal: exiting at once', { signal });
        resolve(signal === 'SIGINT' ? 130 : 143);
        return;
      }
      draining = true;
      const delayMs = agent.config.server.drainDelayMs;
      agent.drain();
      log.info('draining: readiness fails from now on', { signal, drainDelayMs: delayMs });
      setTimeout(() => {
        watcher?.close();
        void shutdown(agent, log).then(() => resolve(EXIT_OK));
      }, delayMs).unref();
    };
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
  });
}

async function shutdown(agent: Agent, log: Logger): Promise<void> {
  await agent.stop();
  log.info('vigil stopped');
}

async function check(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), wait: { type: 'string', short: 'w' }, json: { type: 'boolean' } },
    allowPositionals: false,
  });
  const wait = values.wait === undefined ? { ms: 0 } : readDuration(values.wait, { allowZero: true });
  if (wait.problem !== undefined) throw new UsageError(`--wait ${values.wait} ${wait.problem}`);
  const waitMs = wait.ms;
  const config = load(values.config, io);
  const redact = createRedactor(config.secrets);
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
    io.stderr(`vigil: waiting for ${failing.map((c) => `${c.name} (${results.get(c.name)?.reason ?? 'pending'})`).join(', ')} — round ${round}\n`);
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
      ...(result.ok ? {} : { reason: result.reason, output: redact(result.message ?? '') }),
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

function validate(argv: readonly string[], io: Io): number {
  const { values } = parseArgs({ args: [...argv], options: configOptions(), allowPositionals: false });
  const path = values.config ?? (io.env.VIGIL_CONFIG || undefined);
  const config = load(values.config, io);
  for (const warning of config.warnings) io.stderr(`warning: ${warning}\n`);
  io.stdout(`${path ?? 'environment'}: valid, ${config.checks.length} check${config.checks.length === 1 ? '' : 's'} (${config.checks.map((c) => `${c.name}: ${c.type}`).join(', ')})\n`);
  return EXIT_OK;
}

async function probe(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: { timeout: { type: 'string', short: 't' } }, allowPositionals: true });
  if (positionals.length > 1) throw new UsageError('probe takes at most one URL');
  const timeout = readDuration(values.timeout ?? '5s');
  if (timeout.problem !== undefined) throw new UsageError(`--timeout ${values.timeout} ${timeout.problem}`);
  const timeoutMs = timeout.ms;
  const port = io.env.VIGIL_PORT || '9898';
  const target = positionals[0] ?? `http://127.0.0.1:${port}/health/live`;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new UsageError(`"${target}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`"${target}" is not an http:// or https:// URL`);
  const status = await new Promise<number | string>((resolve) => {
    const req = (url.protocol === 'https:' ? httpsRequest : request)(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve((error as Error).message));
    req.end();
  });
  if (typeof status === 'number' && status >= 200 && status < 300) return EXIT_OK;
  io.stderr(`vigil probe: ${url.href}: ${typeof status === 'number' ? `HTTP ${status}` : status}\n`);
  return EXIT_UNHEALTHY;
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

const isEntryPoint = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
if (isEntryPoint) {
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', msg: 'unhandled rejection', error: String((error as Error)?.message ?? error) })}\n`);
    process.exit(EXIT_UNHEALTHY);
  });
  const code = await main({
    argv: process.argv.slice(2),
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  });
  // Exit explicitly: a socket left by a hung dependency must not keep the process alive.
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}
