// `vigil probe`: one GET of a URL, by default the local agent's /health/live (or another path of
// it: `vigil probe /health/startup`), for a container HEALTHCHECK without curl; exit 0 on 2xx, 1
// otherwise. Its own small HTTP client: no agent code loads.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readDuration } from '../config/duration.js';
import { createRedactor } from '../redact.js';
import { configOptions, EXIT_OK, EXIT_UNHEALTHY, UsageError, type Io } from './common.js';

/** The entry point a serving agent runs (dist/src/cli.js), to find that agent among the processes. */
const CLI_SCRIPT = fileURLToPath(new URL('../cli.js', import.meta.url));

export async function probe(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), timeout: { type: 'string', short: 't' } },
    allowPositionals: true,
  });
  if (positionals.length > 1) throw new UsageError('probe takes at most one URL');
  const timeout = readDuration(values.timeout ?? '5s');
  if (timeout.problem !== undefined) throw new UsageError(`--timeout ${values.timeout} ${timeout.problem}`);
  const timeoutMs = timeout.ms;
  const [given] = positionals;
  // A URL as given; a path (or nothing: /health/live) on the local agent, wherever it listens.
  const targets = given !== undefined && !given.startsWith('/') ? [given] : await ownAgentUrls(values.config, io, given ?? '/health/live');
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

/**
 * The URLs of `path` at the agent's own address, on each loopback address its host answers on,
 * from the sources serve reads; a problem elsewhere in the file must not turn a running agent's
 * HEALTHCHECK unhealthy.
 */
async function ownAgentUrls(configFlag: string | undefined, io: Io, path: string): Promise<string[]> {
  const [{ listenAddressOf, loopbackAddresses }, { readConfigFile }, { findServingAgent }] = await Promise.all([
    import('../config/address.js'),
    import('../config/read-file.js'),
    import('../config/serving-agent.js'),
  ]);
  // The running agent's own flags and VIGIL_* environment, where it can be found: a container's
  // HEALTHCHECK does not see `serve --port N` or `serve --config FILE`. PID 1 when it is the agent
  // (a container); otherwise the only agent running, unless the probe was told where to look.
  const isTold = io.env.VIGIL_CONFIG !== undefined || io.env.VIGIL_PORT !== undefined;
  const serving = configFlag === undefined ? findServingAgent(CLI_SCRIPT, { onlyPid1: isTold }) : undefined;
  const env = serving ? { ...withoutVigilVariables(io.env), ...serving.env } : io.env;
  const config = configFlag ?? serving?.config ?? (env.VIGIL_CONFIG || undefined);
  const found = listenAddressOf({ path: config, env, readFile: readConfigFile });
  for (const note of found.notes) io.stderr(`vigil probe: ${note}\n`);
  // As serve reads them: its flags outrank the environment and the file.
  const flagPort = serving?.port !== undefined && /^\d+$/.test(serving.port) && Number(serving.port) <= 65535 ? Number(serving.port) : undefined;
  const address = { host: serving?.host ?? found.host, port: flagPort ?? found.port };
  if (address.port === 0) throw new UsageError('server.port is 0 (a port picked at start): give the URL to probe');
  return loopbackAddresses(address.host).map((host) => `http://${host.includes(':') ? `[${host}]` : host}:${address.port}${path}`);
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
