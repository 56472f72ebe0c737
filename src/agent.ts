// createAgent wires config, kinds, scheduler, state, metrics, server and logs. It owns the agent's
// lifecycle: start, reload (keeping unchanged checks), drain and stop.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Registry } from 'prom-client';
import type { CheckKind, CheckResult } from './check.js';
import { readSecretFile } from './config/read-file.js';
import type { AgentConfig, CheckConfig } from './config/types.js';
import { createHttpServer, listen } from './http-server.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { Logger } from './log.js';
import { boundOutput } from './output.js';
import { createRedactor, type Redact } from './redact.js';
import { createResultFeed, type ResultSubscriber } from './result-feed.js';
import { createRunner } from './runner.js';
import { createScheduler, type Scheduler } from './scheduler.js';
import { createSelfHealth } from './self-health.js';
import { createDependencyGate, createDependencyWake } from './dependencies.js';
import { createHeartbeats } from './heartbeat.js';
import { heartbeatRoute } from './heartbeat-route.js';
import { createInFlight } from './in-flight.js';
import { createApp, type DetailsPolicy } from './server.js';
import { createState, type State } from './state.js';
import { createTransitionLog } from './transition-log.js';
import type { BodyMeta } from './health.js';

export interface AgentDeps {
  readonly kinds: readonly CheckKind[];
  readonly log: Logger;
  readonly version: string;
  readonly now?: () => number;
  /** Hear every result after state, metrics and the log, in the order given (status history, heartbeats). */
  readonly subscribers?: readonly ResultSubscriber[];
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
  /** Every group but live fails from now on; everything else keeps answering. */
  drain(): void;
  /** Resolves once no HTTP request is in flight. */
  idle(): Promise<void>;
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
  const runner = createRunner(kinds, { log });

  const registry = new Registry();
  const processRegistry = new Registry();
  const state = createState();
  const selfHealth = createSelfHealth({
    now,
    lastAttemptAt: () => scheduler.lastAttemptAt,
    // Pushed checks (heartbeats) start no attempts: only polled ones say how often the scheduler must tick.
    longestIntervalMs: () => {
      const polled = config.checks.filter((c) => !runner.isPushed(c));
      return polled.length ? Math.max(...polled.map((c) => c.intervalMs)) : undefined;
    },
  });
  const connections = {
    *current() {
      for (const check of config.checks) {
        const n = runner.connections(check);
        if (n !== undefined) yield [check, n] as const;
      }
    },
    // A reload changes the list of checks as well as the counts.
    get version() {
      return runner.connectionsVersion + reloads;
    },
  };
  let reloads = 0;
  const metrics = createMetrics(registry, processRegistry, { version, state, now, self: () => selfHealth.entries(), eventLoopLag: () => selfHealth.eventLoopLag(), connections });

  // A dependency's status change wakes its dependents (after the log has said it changed).
  const dependencyWake = createDependencyWake((name) => scheduler.wake(name));
  // State records first: metrics and the log read the thresholded status it decides.
  const results = createResultFeed((check, result) => state.record(check.name, result), [metrics, createTransitionLog(log), ...(deps.subscribers ?? []), dependencyWake]);
  const onResult = (check: CheckConfig, attempted: CheckResult) => {
    const raw = runner.judge(check, attempted);
    results.publish(check, raw.message === undefined && raw.warning === undefined ? raw : redactResult(raw, redact));
  };

  const scheduler: Scheduler = createScheduler({
    now,
    run: runner.run,
    gate: createDependencyGate(state, now),
    onResult,
    onError: (check, error) => log.error('recording a result failed', { check: check.name, type: check.type, error: (error as Error)?.message ?? String(error) }),
    // Not a result: the dependency was not asked, so neither a duration nor a timeout is recorded.
    // A check whose attempts keep running past their deadline goes stale instead.
    onSkip: (check) => {
      metrics.skipped(check);
      log.warn('attempt skipped: the previous attempt is still running past its timeout', { check: check.name, type: check.type });
    },
  });

  // Heartbeats: fed by POST /heartbeat/<check>, their results take the same way as attempts'.
  const heartbeats = createHeartbeats({ now, publish: onResult });
  /** What feeds a check its results: the scheduler polls it, or the heartbeat endpoint is told. */
  const feederOf = (check: CheckConfig): { add(check: CheckConfig): void; remove(name: string): void } => (runner.isPushed(check) ? heartbeats : scheduler);

  // Every check is in state before any is fed: a dependent's gate never sees its dependency
  // missing (which would let it run), whatever the order checks are declared or added in.
  const addCheck = (check: CheckConfig) => {
    state.add(check, runner.componentTypeOf(check));
    metrics.addCheck(check);
  };
  // A changed definition keeps the check's latest result and, while its type (a label) is the
  // same, its series: the new definition's first result replaces them, so readiness never blips.
  // A check moved between polled and pushed (heartbeat) starts over, pending: the old kind's result
  // says nothing about the new one (a passing tcp result must not stand for a heartbeat's grace).
  const changeCheck = (old: CheckConfig, check: CheckConfig) => {
    // The old loop's attempt is aborted by scheduler.add; the kept connection closes before the new
    // definition's first attempt, which scheduler.add starts at once.
    runner.release(old.name);
    const isMoved = feederOf(old) !== feederOf(check);
    if (isMoved) state.add(check, runner.componentTypeOf(check));
    else state.update(check, runner.componentTypeOf(check));
    if (old.type !== check.type) {
      metrics.removeCheck(old);
      metrics.addCheck(check, state.get(check.name)?.healthy === true);
    }
    if (isMoved) feederOf(old).remove(old.name);
  };
  const removeCheck = (check: CheckConfig) => {
    feederOf(check).remove(check.name);
    runner.release(check.name);
    state.remove(check.name);
    metrics.removeCheck(check);
  };

  const routes = [heartbeatRoute({ heartbeats, trustLoopback: () => config.server.trustLoopback, log, rejected: (reason) => metrics.heartbeatRejected(reason) })];
  const app = createApp({ state, metrics, log, meta: () => meta, details: () => details, self: () => selfHealth.entries(), now, routes });
  // Heartbeat tokens: read at start and on every reload, like the details token.
  const readHeartbeatTokens = () => {
    for (const { file, error } of heartbeats.readTokens(config.server.heartbeatTokenFile)) {
      log.error('cannot read a heartbeat token file: no caller may post the heartbeats it guards', { file, error });
    }
  };
  let server: Server | undefined;
  let started = false;
  const inFlight = createInFlight();

  // The details token: read at start and on every reload (the config watcher watches its file and
  // reloads when it changes).
  let tokenReads = 0;
  const readDetails = async () => {
    const read = ++tokenReads;
    const next = await detailsOf(config, log);
    // A slower read that started earlier must not undo a newer one.
    if (read === tokenReads) details = next;
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
      for (const warning of config.warnings) log.warn(warning);
      await readDetails();
      await runner.prepare(config.checks);
      for (const check of config.checks) addCheck(check);
      dependencyWake.configure(config.checks);
      for (const check of config.checks) feederOf(check).add(check);
      readHeartbeatTokens();
      if (options.listen === false) return undefined;
      // HTTP/1.0 requests may come without a Host header (HAProxy's httpchk): answered like any other.
      const listener = getRequestListener(app.fetch, { hostname: 'localhost' });
      server = createHttpServer(listener, { maxConnections: config.server.maxConnections, log });
      server.on('request', inFlight.track);
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
      const toFeed: CheckConfig[] = [];
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
          toFeed.push(check);
          added++;
        } else if (JSON.stringify(old) !== JSON.stringify(check)) {
          changeCheck(old, check);
          toFeed.push(check);
          changed++;
        }
      }
      dependencyWake.configure(next.checks);
      for (const check of toFeed) feederOf(check).add(check);
      if (next.server.port !== config.server.port || next.server.host !== config.server.host || next.server.maxConnections !== config.server.maxConnections) {
        log.warn('server.host, server.port and server.maxConnections take effect at the next restart', { host: next.server.host, port: next.server.port });
      }
      config = next;
      reloads++;
      redact = createRedactor(config.secrets);
      log.configure({ level: config.server.logLevel, redact });
      meta = metaOf(config, version);
      await readDetails();
      readHeartbeatTokens();
      for (const warning of config.warnings) log.warn(warning);
      metrics.configReloaded(true, now());
      log.info('configuration reloaded', { checks: next.checks.length, added, removed, changed, unchanged: next.checks.length - added - changed });
    },
    drain() {
      state.setDraining();
    },
    idle: () => inFlight.idle(),
    async stop() {
      scheduler.stop();
      heartbeats.stop();
      // Kept connections end their server sessions cleanly (each bounded by its kind to about a second).
      const connections = runner.closeAll();
      selfHealth.stop();
      const closing = server;
      server = undefined;
      if (closing) {
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          closing.closeAllConnections();
        });
      }
      await connections;
    },
  };
}

/** Messages of a result as they may leave the agent: secrets masked, bounded. */
function redactResult(result: CheckResult, redact: Redact): CheckResult {
  return {
    ...result,
    ...(result.message === undefined ? {} : { message: boundOutput(redact(result.message)) }),
    ...(result.warning === undefined ? {} : { warning: boundOutput(redact(result.warning)) }),
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
    // Bounded, regular files only, opened without blocking: a FIFO never stalls the agent.
    const token = readSecretFile(file).trim();
    if (token) return { ...policy, token };
    log.warn(`server.detailsTokenFile is empty: no token unlocks details; ${otherwise}`, { file });
  } catch (error) {
    log.error(`cannot read server.detailsTokenFile; ${otherwise}`, { file, error: (error as Error).message });
  }
  return policy;
}
