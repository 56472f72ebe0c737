// Every series the agent owns. The per-check series (check-series.ts) are updated when a result
// lands; the agent-level ones live on a registry of the agent's own (vigil_health_status derived from
// state at scrape time); the process metrics on a second registry. /metrics composes them as sources.
import { collectDefaultMetrics, Counter, Gauge, type Registry } from 'prom-client';
import { createCheckSeries, escape } from './check-series.js';
import type { CheckConfig } from './config/types.js';
import { composeSources, refreshedEvery, type OutputSource } from './output-sources.js';
import type { ResultSubscriber } from './result-feed.js';
import type { LagStats } from './event-loop-lag.js';
import { withSelf, type SelfEntry } from './self-health.js';
import type { HealthStatus, State } from './state.js';

const PREFIX = 'vigil_';
/** Gauges whose names end in _total, which `promtool check metrics` rejects. */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const STATUSES: readonly HealthStatus[] = ['pass', 'warn', 'fail'];

/** A result subscriber: each attempt lands in its check's series, with the status state decided. */
export interface Metrics extends ResultSubscriber {
  /** The exposition of every series, encoded once and re-rendered only when something changed. */
  render(): Promise<Uint8Array<ArrayBuffer>>;
  readonly contentType: string;
  /** Starts a check's series at zero so rates work from its first attempt. */
  addCheck(check: CheckConfig, isUp?: boolean): void;
  /** Counts an attempt skipped because the previous one still runs past its timeout. */
  skipped(check: CheckConfig): void;
  /** Forgets every series of a removed check. */
  removeCheck(check: CheckConfig): void;
  configReloaded(ok: boolean, at: number): void;
  /** Counts a refused POST /heartbeat/<check> by why (a bounded set, never the name posted to). */
  heartbeatRejected(reason: string): void;
}

export interface MetricsOptions {
  readonly version: string;
  readonly state: State;
  /** The agent's own entries, which count toward the live group as they do in /health/live. */
  readonly self?: () => readonly SelfEntry[];
  /** Event-loop lag since the previous read (self-health's sampler), for the nodejs_eventloop_lag_* series. */
  readonly eventLoopLag?: () => LagStats;
  readonly now?: () => number;
  /** More parts of the exposition, after the agent's own (e.g. the application's metrics). */
  readonly sources?: readonly OutputSource[];
  /** Connections held per check (vigil_check_connections), for the checks whose type holds one. */
  readonly connections?: ConnectionCounts;
}

export interface ConnectionCounts {
  /** Every check whose type holds connections, with how many it holds now. */
  current(): Iterable<readonly [CheckConfig, number]>;
  /** Grows whenever a count may have changed. */
  readonly version: number;
}

const CONNECTIONS_HEADER =
  '# HELP vigil_check_connections Connections vigil holds to the check\'s dependency now: the kept one (connection: persistent), or those of an attempt in progress (fresh).\n# TYPE vigil_check_connections gauge\n';

/** vigil_check_connections, rendered again only when a count may have changed. */
function connectionsSource(counts: ConnectionCounts): OutputSource {
  let rendered = -1;
  return {
    isCurrent: () => rendered === counts.version,
    render() {
      rendered = counts.version;
      let text = CONNECTIONS_HEADER;
      for (const [check, n] of counts.current()) text += `vigil_check_connections{check="${escape(check.name)}",type="${escape(check.type)}"} ${n}\n`;
      return text;
    },
  };
}

/** The reasons vigil_heartbeat_rejected_total counts, each served from zero. */
const HEARTBEAT_REJECTIONS = ['unauthorized', 'not_found', 'too_large', 'bad_request', 'forbidden_origin'] as const;

/** A resolution so long that prom-client's own event-loop monitor never wakes the process (about 24 days). */
const NEVER_MS = 2 ** 31 - 1;
/** The event-loop series, as prom-client names them: suffix, help, the statistic. */
const LAG_SERIES: readonly (readonly [string, string, (lag: LagStats) => number])[] = [
  ['seconds', 'Lateness of the event loop at its last sample, in seconds (sampled twice a second).', (lag) => lag.last],
  ['min_seconds', 'The smallest event-loop lateness sampled since the previous scrape, in seconds.', (lag) => lag.min],
  ['max_seconds', 'The largest event-loop lateness sampled since the previous scrape, in seconds.', (lag) => lag.max],
  ['mean_seconds', 'The mean event-loop lateness sampled since the previous scrape, in seconds.', (lag) => lag.mean],
  ['stddev_seconds', 'The standard deviation of event-loop lateness since the previous scrape, in seconds.', (lag) => lag.stddev],
  ['p50_seconds', 'The median event-loop lateness since the previous scrape, in seconds.', (lag) => lag.p50],
  ['p90_seconds', 'The 90th percentile of event-loop lateness since the previous scrape, in seconds.', (lag) => lag.p90],
  ['p99_seconds', 'The 99th percentile of event-loop lateness since the previous scrape, in seconds.', (lag) => lag.p99],
];

/** The process metrics (CPU, memory, event loop) change continuously: re-read at most this often. */
const PROCESS_METRICS_TTL_MS = 1000;

/**
 * Keeps the per-check series itself, the agent-level ones on `registry`, the default process metrics
 * on `processRegistry`; render() composes them as output sources, each rendered again only when it
 * changed: the check series when a result lands, the agent's series when state, a reload or a
 * staleness deadline changes them, the process metrics once a second.
 */
export function createMetrics(registry: Registry, processRegistry: Registry, options: MetricsOptions): Metrics {
  const now = options.now ?? Date.now;
  const series = createCheckSeries();
  let seriesVersion = 0;
  let reloadCount = 0;
  const { state } = options;
  const selfFails = () => options.self?.().some((entry) => entry.status === 'fail') === true;
  new Gauge({
    name: `${PREFIX}health_status`,
    help: '1 for the current status of each health group (pass, warn, fail), 0 for the others.',
    labelNames: ['group', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      const at = now();
      for (const group of state.groups()) {
        const verdict = state.verdict(group, at).status;
        const current = group === 'live' && options.self ? withSelf(verdict, options.self()) : verdict;
        for (const status of STATUSES) this.set({ group, status }, status === current ? 1 : 0);
      }
    },
  });
  const reloads = new Counter({ name: `${PREFIX}config_reloads_total`, help: 'Configuration reloads by result (success, failure).', labelNames: ['result'], registers: [registry] });
  const lastReload = new Gauge({ name: `${PREFIX}config_last_reload_success_timestamp_seconds`, help: 'Unix time of the last successful configuration load, in seconds.', registers: [registry] });
  // As Prometheus's own prometheus_config_last_reload_successful: an alert on it lasts as long as the refused edit.
  const lastReloadOk = new Gauge({ name: `${PREFIX}config_last_reload_successful`, help: '1 when the last configuration load or reload succeeded, 0 when it was refused.', registers: [registry] });
  const buildInfo = new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; labels carry the agent and Node.js versions.', labelNames: ['version', 'node'], registers: [registry] });
  buildInfo.set({ version: options.version, node: process.version }, 1);
  const heartbeatRejections = new Counter({
    name: `${PREFIX}heartbeat_rejected_total`,
    help: 'POST /heartbeat/<check> requests refused, by reason (unauthorized, not_found, too_large, bad_request, forbidden_origin).',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of HEARTBEAT_REJECTIONS) heartbeatRejections.inc({ reason }, 0);
  let rejectedCount = 0;
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  lastReload.set(now() / 1000);
  lastReloadOk.set(1);

  // prom-client's event-loop series come from a histogram that wakes the process every 10 ms: its
  // monitor is made to (practically) never wake, its series removed, and the same names served from
  // self-health's sampler, which wakes twice a second.
  collectDefaultMetrics({ register: processRegistry, prefix: PREFIX, eventLoopMonitoringPrecision: NEVER_MS });
  for (const name of [...NON_CONFORMING_DEFAULTS, ...LAG_SERIES.map(([suffix]) => `nodejs_eventloop_lag_${suffix}`)]) {
    processRegistry.removeSingleMetric(`${PREFIX}${name}`);
  }
  let lag: LagStats | undefined;
  if (options.eventLoopLag) {
    for (const [suffix, help, pick] of LAG_SERIES) {
      new Gauge({
        name: `${PREFIX}nodejs_eventloop_lag_${suffix}`,
        help,
        registers: [processRegistry],
        collect() {
          if (lag) this.set(pick(lag));
        },
      });
    }
  }

  let renderedSeriesVersion = -1;
  const checkSeries: OutputSource = {
    isCurrent: () => renderedSeriesVersion === seriesVersion,
    render() {
      renderedSeriesVersion = seriesVersion;
      return series.render();
    },
  };
  // vigil_health_status changes with state, with the agent's own entries (a stall begins or ends)
  // and at staleness deadlines, when no result lands at all.
  let agentRendered = { stateVersion: -1, reloadCount: -1, rejectedCount: -1, selfFails: false, validUntil: -Infinity };
  const agentSeries: OutputSource = {
    isCurrent: (at) =>
      at < agentRendered.validUntil && agentRendered.stateVersion === state.version && agentRendered.reloadCount === reloadCount && agentRendered.rejectedCount === rejectedCount && agentRendered.selfFails === selfFails(),
    render() {
      agentRendered = { stateVersion: state.version, reloadCount, rejectedCount, selfFails: selfFails(), validUntil: state.nextStaleAt() };
      return registry.metrics();
    },
  };
  const processMetrics = refreshedEvery(PROCESS_METRICS_TTL_MS, () => {
    lag = options.eventLoopLag?.();
    return processRegistry.metrics();
  });
  const render = composeSources([checkSeries, ...(options.connections ? [connectionsSource(options.connections)] : []), agentSeries, processMetrics, ...(options.sources ?? [])]);

  return {
    contentType: registry.contentType,
    render: () => render(now()),
    addCheck(check, isUp = false) {
      seriesVersion++;
      series.add(check, isUp);
    },
    onResult(check, result) {
      seriesVersion++;
      series.observe(check, result, state.get(check.name)?.healthy === true);
    },
    skipped(check) {
      seriesVersion++;
      series.skipped(check.name);
    },
    removeCheck(check) {
      seriesVersion++;
      series.remove(check.name);
    },
    configReloaded(ok, at) {
      reloadCount++;
      reloads.inc({ result: ok ? 'success' : 'failure' });
      if (ok) lastReload.set(at / 1000);
      lastReloadOk.set(ok ? 1 : 0);
    },
    heartbeatRejected(reason) {
      rejectedCount++;
      heartbeatRejections.inc({ reason });
    },
  };
}
