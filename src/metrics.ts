// Every series the agent owns, on a registry of its own. Check series are set when a result lands;
// vigil_health_status is derived from state at scrape time.
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';
import { FAILURE_REASONS } from './errors.js';
import type { HealthStatus, State } from './state.js';

const PREFIX = 'vigil_';
/** Gauges whose names end in _total, which `promtool check metrics` rejects. */
const NON_CONFORMING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];
const STATUSES: readonly HealthStatus[] = ['pass', 'warn', 'fail'];

export interface Metrics {
  /** The exposition text of every series, rendered only when something changed. */
  render(): Promise<string>;
  readonly contentType: string;
  /** Starts a check's series at zero so rates work from its first attempt. */
  addCheck(check: CheckConfig): void;
  /** Records one attempt of a check; `isUp` is the check's thresholded status after it. */
  observe(check: CheckConfig, result: CheckResult, isUp: boolean): void;
  /** Forgets every series of a removed check. */
  removeCheck(check: CheckConfig): void;
  configReloaded(ok: boolean, at: number): void;
}

export interface MetricsOptions {
  readonly version: string;
  readonly state: State;
  readonly now?: () => number;
}

/** The process metrics (CPU, memory, event loop) change continuously: re-read at most this often. */
const PROCESS_METRICS_TTL_MS = 1000;

/**
 * Registers the check series on `registry` and the default process metrics on `processRegistry`;
 * render() caches each part: the first until a result, a reload or a staleness deadline changes
 * it, the second for a second.
 */
export function createMetrics(registry: Registry, processRegistry: Registry, options: MetricsOptions): Metrics {
  const now = options.now ?? Date.now;
  let changes = 0;
  // Label sets per check, made once: observe() runs on every attempt.
  type RunLabels = Record<'check' | 'type' | 'result', string>;
  const labelsOf = new Map<string, { base: { check: string; type: string }; pass: RunLabels; fail: RunLabels; timeout: RunLabels }>();
  const labelSets = (check: CheckConfig) => {
    let sets = labelsOf.get(check.name);
    if (!sets || sets.base.type !== check.type) {
      const base = { check: check.name, type: check.type };
      sets = { base, pass: { ...base, result: 'pass' }, fail: { ...base, result: 'fail' }, timeout: { ...base, result: 'timeout' } };
      labelsOf.set(check.name, sets);
    }
    return sets;
  };
  let checksText: { key: string; validUntil: number; text: string } | undefined;
  let processText: { at: number; text: string } | undefined;
  const labelNames = ['check', 'type'] as const;
  const up = new Gauge({ name: `${PREFIX}check_up`, help: '1 while the check passes (after thresholds), 0 otherwise.', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: `${PREFIX}check_duration_seconds`,
    help: 'Latency of check attempts in seconds.',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const runs = new Counter({ name: `${PREFIX}check_runs_total`, help: 'Check attempts by result (pass, fail, timeout).', labelNames: ['check', 'type', 'result'], registers: [registry] });
  const failures = new Counter({ name: `${PREFIX}check_failures_total`, help: 'Failed check attempts by reason.', labelNames: ['check', 'type', 'reason'], registers: [registry] });
  const lastSuccess = new Gauge({ name: `${PREFIX}check_last_success_timestamp_seconds`, help: 'Unix time of the last passing attempt, in seconds.', labelNames, registers: [registry] });
  const { state } = options;
  new Gauge({
    name: `${PREFIX}health_status`,
    help: '1 for the current status of each health group (pass, warn, fail), 0 for the others.',
    labelNames: ['group', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      const at = now();
      for (const group of state.groups()) {
        const current = state.verdict(group, at).status;
        for (const status of STATUSES) this.set({ group, status }, status === current ? 1 : 0);
      }
    },
  });
  const reloads = new Counter({ name: `${PREFIX}config_reloads_total`, help: 'Configuration reloads by result (success, failure).', labelNames: ['result'], registers: [registry] });
  const lastReload = new Gauge({ name: `${PREFIX}config_last_reload_success_timestamp_seconds`, help: 'Unix time of the last successful configuration load, in seconds.', registers: [registry] });
  const buildInfo = new Gauge({ name: `${PREFIX}build_info`, help: 'Always 1; labels carry the agent and Node.js versions.', labelNames: ['version', 'node'], registers: [registry] });
  buildInfo.set({ version: options.version, node: process.version }, 1);
  reloads.inc({ result: 'success' }, 0);
  reloads.inc({ result: 'failure' }, 0);
  lastReload.set(now() / 1000);

  collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  for (const name of NON_CONFORMING_DEFAULTS) processRegistry.removeSingleMetric(`${PREFIX}${name}`);

  return {
    contentType: registry.contentType,
    async render() {
      const at = now();
      const key = `${changes}/${state.version}`;
      if (!checksText || checksText.key !== key || at >= checksText.validUntil) {
        // Staleness changes vigil_health_status with no new result: re-render at the next deadline.
        const validUntil = state.verdict(undefined, at).validUntil;
        checksText = { key, validUntil, text: await registry.metrics() };
      }
      if (!processText || at - processText.at >= PROCESS_METRICS_TTL_MS) {
        processText = { at, text: await processRegistry.metrics() };
      }
      return `${checksText.text}\n${processText.text}`;
    },
    addCheck(check) {
      changes++;
      const labels = { check: check.name, type: check.type };
      up.set(labels, 0);
      for (const result of ['pass', 'fail', 'timeout']) runs.inc({ ...labels, result }, 0);
    },
    observe(check, result, isUp) {
      changes++;
      const sets = labelSets(check);
      up.set(sets.base, isUp ? 1 : 0);
      duration.observe(sets.base, result.durationMs / 1000);
      if (result.ok) {
        runs.inc(sets.pass);
        lastSuccess.set(sets.base, (result.startedAt + result.durationMs) / 1000);
      } else {
        runs.inc(result.reason === 'timeout' ? sets.timeout : sets.fail);
        failures.inc({ ...sets.base, reason: result.reason ?? 'unknown' });
      }
    },
    removeCheck(check) {
      changes++;
      labelsOf.delete(check.name);
      const labels = { check: check.name, type: check.type };
      for (const metric of [up, duration, lastSuccess]) metric.remove(labels);
      // Series with a third label: remove every combination of this check's.
      for (const result of ['pass', 'fail', 'timeout']) runs.remove({ ...labels, result });
      for (const reason of FAILURE_REASONS) failures.remove({ ...labels, reason });
    },
    configReloaded(ok, at) {
      changes++;
      reloads.inc({ result: ok ? 'success' : 'failure' });
      if (ok) lastReload.set(at / 1000);
    },
  };
}
