// `vigil serve`: reads the flags and the config, starts the agent and hands it to the lifecycle.
// A config error at start is logged (every line serve writes is a log line) and exits 2.
import { parseArgs } from 'node:util';
import type { AgentConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { createRedactor } from '../redact.js';
import { configOptions, configPath, EXIT_UNHEALTHY, EXIT_USAGE, logOptions, logSettings, problemsOf, UsageError, VERSION, type Io } from './common.js';
import { loadKinds } from './kinds.js';
import { holdSignals, supervise } from './lifecycle.js';
import { loadConfigOffThread } from './load-config.js';

export async function serve(argv: readonly string[], io: Io, log: Logger): Promise<number> {
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
  const signals = io.signals ?? holdSignals();
  const path = configPath(values.config, io.env);
  const [kinds, { createAgent }, { watchConfig }] = await Promise.all([loadKinds(), import('../agent.js'), import('../watch.js')]);
  // The flags outrank the file and the environment, at start and on every reload.
  const readConfig = async (): Promise<AgentConfig> => {
    const config = await loadConfigOffThread(path, io.env);
    return Object.freeze({
      ...config,
      server: Object.freeze({
        ...config.server,
        ...(port === undefined ? {} : { port }),
        ...(values.host ? { host: values.host } : {}),
        ...(settings.flagLevel ? { logLevel: settings.flagLevel } : {}),
      }),
    });
  };
  let config: AgentConfig;
  try {
    config = await readConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logConfigError(log, error);
    return EXIT_USAGE;
  }
  log.configure({ level: config.server.logLevel, redact: createRedactor(config.secrets) });
  const agent = createAgent(config, { kinds, log, version: VERSION });
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
    version: VERSION,
    host: address?.address,
    port: address?.port,
    checks: config.checks.length,
    config: path ?? 'environment',
  });
  return await supervise({ agent, log, signals, path, readConfig, watchConfig });
}

/** A config error at start, logged: once serve logs, every line it writes is a log line. */
function logConfigError(log: Logger, error: ConfigError): void {
  log.fatal(`${error.message.split('\n')[0]!}: vigil did not start`, { problems: problemsOf(error) });
}
