// createAgent wires config, kinds, scheduler, state, metrics, server and logs. It owns the agent's
// lifecycle: start, reload (keeping unchanged checks), drain and stop.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Registry } from 'prom-client';
import type { CheckKind, CheckResult } from './check.js';
import type { AgentConfig, CheckConfig } from './config/types.js';
import { createHttpServer, listen } from './http-server.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { Logger } from './log.js';
import { createRedactor, type Redact } from './redact.js';
import { createRunner } from './runner.js';
import { createScheduler, type Scheduler } from './scheduler.js';
import { createSelfHealth } from './self-health.js';
import { createApp, type DetailsPolicy } from './server.js';
import { createState, type State } from './state.js';
import type { BodyMeta } from './health.js';
import { watchFile } from './watch.js';

export interface AgentDeps {
  readonly kinds: readonly CheckKind[];
  readonly log: Logger;
  readonly version: string;
  readonly now?: () => number;
}

export interface Agent {
  readonly state: State;
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly app: ReturnType<typeof createApp>;
  /** Starts polling and, unless `listen` is false, serving. Resolves with the bound address. */
  start(options?: { listen?: boolean }): Promise<AddressInfo | undefined>;
  /** Applies a new config: unchanged checks keep their state and series. */
  reload(config: AgentConfig): Promise<void>;
  /** Readiness fails from now on; everything else keeps answering. */
  drain(): void;
  /** Stops polling (aborting attempts in flight) and closes the listener. */
  stop(): Promise<void>;
  readonly config: AgentConfig;
}

export function createAgent(initial: AgentConfig, deps: AgentDeps): Agent {
  const { kinds, log, version } = deps;
  const now = deps.now ?? Date.now;
  let config = initial;
  let redact: Redact = createRedactor(config.secrets);
  let meta: BodyMeta = metaOf(config, version);
  // No token until the file has been read (at start, before listening).
  let details: DetailsPolicy = { exposeDetails: config.server.exposeDetails, trustLoopback: config.server.trustLoopback };
  const runner = createRunner(kinds);

  const registry = new Registry();
  const processRegistry = new Registry();
  const state = createState();
  const selfHealth = createSelfHealth({
    now,
    lastAttemptAt: () => scheduler.lastAttemptAt,
    longestIntervalMs: () => (config.checks.length ? Math.max(...config.checks.map((c) => c.intervalMs)) : undefined),
  });
  const metrics = createMetrics(registry, processRegistry, { version, state, now, self: () => selfHealth.entries() });

  const onResult = (check: CheckConfig, raw: CheckResult) => {
    const result = raw.message === undefined ? raw : { ...raw, message: redact(raw.message) };
    const transition = state.record(check.name, result);
    metrics.observe(check, result, state.get(check.name)?.healthy === true);
    // Built only when a line is written: this runs on every attempt.
    const fields = () => ({ check: check.name, type: check.type, durationMs: Math.round(result.durationMs * 100) / 100, reason: result.reason, output: result.message });
    if (transition) {
      const line = `check ${check.name} ${transition.to === 'pass' ? 'passes' : 'fails'}`;
      const level = transition.to === 'pass' ? 'info' : check.critical ? 'warn' : 'info';
      log[level](line, { ...fields(), from: transition.from, to: transition.to });
    } else if (log.isLevelEnabled('debug')) {
      log.debug('attempt', { ...fields(), ok: result.ok });
    }
  };

  const scheduler: Scheduler = createScheduler({
    now,
    run: runner.run,
    onResult,
    onError: (check, error) => log.error('recording a result failed', { check: check.name, type: check.type, error: (error as Error)?.message ?? String(error) }),
    // Not a result: the dependency was not asked, so neither a duration nor a timeout is recorded.
    // A check whose attempts keep running past their deadline goes stale instead.
    onSkip: (check) => {
      metrics.skipped(check);
      log.warn('attempt skipped: the previous attempt is still running past its timeout', { check: check.name, type: check.type });
    },
  });

  const addCheck = (check: CheckConfig) => {
    state.add(check, runner.componentTypeOf(check));
    metrics.addCheck(check);
    scheduler.add(check);
  };
  const removeCheck = (check: CheckConfig) => {
    scheduler.remove(check.name);
    state.remove(check.name);
    metrics.removeCheck(check);
  };

  const app = createApp({ state, metrics, log, meta: () => meta, details: () => details, self: () => selfHealth.entries(), now });
  let server: Server | undefined;
  let started = false;

  // The details token: read at start and on reload, and again whenever its file changes.
  let tokenReads = 0;
  const readDetails = async () => {
    const read = ++tokenReads;
    const next = await detailsOf(config, log);
    // A slower read that started earlier must not undo a newer one.
    if (read === tokenReads) details = next;
  };
  let watchedTokenFile: string | undefined;
  let unwatchTokenFile: () => void = () => undefined;
  const watchTokenFile = () => {
    const file = config.server.exposeDetails ? undefined : config.server.detailsTokenFile;
    if (file === watchedTokenFile) return;
    unwatchTokenFile();
    watchedTokenFile = file;
    unwatchTokenFile = file === undefined ? () => undefined : watchFile(file, () => {
      log.info('server.detailsTokenFile changed; the new token applies', { file });
      void readDetails();
    }, log, 'details token file');
  };

  return {
    state,
    registry,
    metrics,
    app,
    get config() {
      return config;
    },
    async start(options = {}) {
      if (started) throw new Error('agent already started');
      started = true;
      for (const warning of config.warnings) log.info(warning);
      await readDetails();
      watchTokenFile();
      await runner.prepare(config.checks);
      for (const check of config.checks) addCheck(check);
      if (options.listen === false) return undefined;
      // HTTP/1.0 requests may come without a Host header (HAProxy's httpchk): answered like any other.
      const listener = getRequestListener(app.fetch, { hostname: 'localhost' });
      server = createHttpServer(listener, { maxConnections: config.server.maxConnections, log });
      const address = await listen(server, config.server.port, config.server.host, log);
      server.on('error', (error) => log.error('server error', { error: error.message }));
      return address;
    },
    async reload(next) {
      await runner.prepare(next.checks);
      const before = new Map(config.checks.map((c) => [c.name, c]));
      const after = new Map(next.checks.map((c) => [c.name, c]));
      let added = 0;
      let removed = 0;
      let changed = 0;
      for (const [name, check] of before) {
        if (!after.has(name)) {
          removeCheck(check);
          removed++;
        }
      }
      for (const [name, check] of after) {
        const old = before.get(name);
        if (!old) {
          addCheck(check);
          added++;
        } else if (JSON.stringify(old) !== JSON.stringify(check)) {
          removeCheck(old);
          addCheck(check);
          changed++;
        }
      }
      if (next.server.port !== config.server.port || next.server.host !== config.server.host || next.server.maxConnections !== config.server.maxConnections) {
        log.warn('server.host, server.port and server.maxConnections take effect at the next restart', { host: next.server.host, port: next.server.port });
      }
      config = next;
      redact = createRedactor(config.secrets);
      log.configure({ level: config.server.logLevel, redact });
      meta = metaOf(config, version);
      await readDetails();
      watchTokenFile();
      for (const warning of config.warnings) log.info(warning);
      metrics.configReloaded(true, now());
      log.info('configuration reloaded', { checks: next.checks.length, added, removed, changed, unchanged: next.checks.length - added - changed });
    },
    drain() {
      state.setDraining();
    },
    async stop() {
      scheduler.stop();
      selfHealth.stop();
      unwatchTokenFile();
      const closing = server;
      server = undefined;
      if (!closing) return;
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    },
  };
}

function metaOf(config: AgentConfig, version: string): BodyMeta {
  return { version, serviceId: config.server.serviceId, description: config.server.description };
}

async function detailsOf(config: AgentConfig, log: Logger): Promise<DetailsPolicy> {
  const { exposeDetails, trustLoopback, detailsTokenFile: file } = config.server;
  const policy: DetailsPolicy = { exposeDetails, trustLoopback };
  if (exposeDetails || !file) return policy;
  const otherwise = trustLoopback ? 'details are shown to loopback callers only' : 'details are shown to no one';
  try {
    const token = (await readTokenFile(file)).trim();
    if (token) return { ...policy, token };
    log.warn(`server.detailsTokenFile is empty: no token unlocks details; ${otherwise}`, { file });
  } catch (error) {
    log.error(`cannot read server.detailsTokenFile; ${otherwise}`, { file, error: (error as { code?: string }).code ?? (error as Error).message });
  }
  return policy;
}

const TOKEN_FILE_MAX_BYTES = 4096;

/**
 * Reads the details token file: a regular file of at most 4 KiB, opened without blocking (opening
 * a FIFO would otherwise wait for a writer) and read off the event loop.
 */
async function readTokenFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) throw new Error('not a regular file');
    const buffer = Buffer.alloc(TOKEN_FILE_MAX_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > TOKEN_FILE_MAX_BYTES) throw new Error(`larger than ${TOKEN_FILE_MAX_BYTES} bytes`);
    return buffer.toString('utf8', 0, bytesRead);
  } finally {
    await handle.close();
  }
}
