// The per-check series (up, duration histogram, runs, failures, last success, observations) in Prometheus text
// format, kept per check and re-rendered only for the checks that changed since the last scrape.
// With a thousand checks the exposition is over a megabyte; rendering all of it on every scrape
// (as a registry does) blocked the event loop for tens of milliseconds and delayed health answers.
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';

/** Upper bounds of the latency histogram, seconds: loopback checks are sub-millisecond. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RESULTS = ['pass', 'fail', 'timeout'] as const;

const FAMILIES = [
  { name: 'vigil_check_up', type: 'gauge', help: '1 while the check passes (after thresholds), 0 otherwise.' },
  { name: 'vigil_check_duration_seconds', type: 'histogram', help: 'Latency of check attempts in seconds.' },
  { name: 'vigil_check_runs_total', type: 'counter', help: 'Check attempts by result (pass, fail, timeout).' },
  { name: 'vigil_check_failures_total', type: 'counter', help: 'Failed check attempts by reason.' },
  { name: 'vigil_check_last_success_timestamp_seconds', type: 'gauge', help: 'Unix time of the last passing attempt, in seconds.' },
  { name: 'vigil_check_skipped_total', type: 'counter', help: 'Attempts not started because the previous one was still running past its timeout.' },
  {
    name: 'vigil_check_observation',
    type: 'gauge',
    help: "The latest value of each numeric observation of a check, in the observation's unit (latency ms, tls*DaysLeft days, *Seconds seconds, *Ratio 0-1, counts).",
  },
] as const;

const HEADERS = FAMILIES.map((f) => `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);

interface Series {
  readonly labels: string;
  up: number;
  readonly buckets: number[];
  sum: number;
  count: number;
  readonly runs: Record<(typeof RESULTS)[number], number>;
  readonly failures: Map<string, number>;
  lastSuccess: number | undefined;
  skipped: number;
  /** The latest attempt's numeric observations, by name: names come from the kind's declared set. */
  observations: readonly { readonly name: string; readonly value: number }[];
  /** The rendered lines of each family, or undefined when stale. */
  text: string[] | undefined;
}

export interface CheckSeries {
  /** Starts a check's series at zero; `isUp` for a check that keeps its status across a reload. */
  add(check: CheckConfig, isUp?: boolean): void;
  remove(name: string): void;
  observe(check: CheckConfig, result: CheckResult, isUp: boolean): void;
  /** Counts an attempt not started because the previous one still runs: no run, no duration. */
  skipped(name: string): void;
  /** The families, every check's lines under each, encoded. */
  render(): Buffer;
}

export function createCheckSeries(): CheckSeries {
  const series = new Map<string, Series>();

  const renderOne = (s: Series): string[] => {
    const { labels } = s;
    let histogram = '';
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      histogram += `vigil_check_duration_seconds_bucket{le="${DURATION_BUCKETS[i]}",${labels}} ${s.buckets[i]}\n`;
    }
    histogram += `vigil_check_duration_seconds_bucket{le="+Inf",${labels}} ${s.count}\n`;
    histogram += `vigil_check_duration_seconds_sum{${labels}} ${s.sum}\nvigil_check_duration_seconds_count{${labels}} ${s.count}\n`;
    let runs = '';
    for (const result of RESULTS) runs += `vigil_check_runs_total{${labels},result="${result}"} ${s.runs[result]}\n`;
    let failures = '';
    for (const [reason, n] of s.failures) failures += `vigil_check_failures_total{${labels},reason="${reason}"} ${n}\n`;
    let observed = '';
    for (const { name, value } of s.observations) observed += `vigil_check_observation{${labels},name="${name}"} ${value}\n`;
    return [
      `vigil_check_up{${labels}} ${s.up}\n`,
      histogram,
      runs,
      failures,
      s.lastSuccess === undefined ? '' : `vigil_check_last_success_timestamp_seconds{${labels}} ${s.lastSuccess}\n`,
      `vigil_check_skipped_total{${labels}} ${s.skipped}\n`,
      observed,
    ];
  };

  return {
    add(check, isUp = false) {
      series.set(check.name, {
        labels: `check="${escape(check.name)}",type="${escape(check.type)}"`,
        up: isUp ? 1 : 0,
        buckets: DURATION_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
        runs: { pass: 0, fail: 0, timeout: 0 },
        failures: new Map(),
        lastSuccess: undefined,
        skipped: 0,
        observations: [],
        text: undefined,
      });
    },
    remove(name) {
      series.delete(name);
    },
    observe(check, result, isUp) {
      const s = series.get(check.name);
      if (!s) return;
      const seconds = result.durationMs / 1000;
      s.up = isUp ? 1 : 0;
      // No attempt, no latency: a check held back by dependsOn leaves the histogram alone.
      if (result.isHeldBack !== true) {
        for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) s.buckets[i]!++;
        s.sum += seconds;
        s.count++;
      }
      if (result.ok) {
        s.runs.pass++;
        s.lastSuccess = (result.startedAt + result.durationMs) / 1000;
      } else {
        s.runs[result.reason === 'timeout' ? 'timeout' : 'fail']++;
        const reason = result.reason ?? 'unknown';
        s.failures.set(reason, (s.failures.get(reason) ?? 0) + 1);
      }
      // The latest attempt's set replaces the previous one: a value the attempt did not measure (a
      // failed handshake's days left, a primary's replication lag) is absent, never stale.
      s.observations = result.measures ?? [];
      s.text = undefined;
    },
    skipped(name) {
      const s = series.get(name);
      if (!s) return;
      s.skipped++;
      s.text = undefined;
    },
    render() {
      // Each check's lines are rendered once per change, then copied into one buffer. The text is
      // ASCII (names, types and reasons are restricted by the config and the code), so latin1
      // writes it byte for byte: no string of every line is built, and no object per line made.
      // Joining and encoding such a string took tens of milliseconds with a thousand checks.
      let length = 0;
      for (const s of series.values()) {
        s.text ??= renderOne(s);
        for (const text of s.text) length += text.length;
      }
      for (const header of HEADERS) length += header.length + 1;
      const out = Buffer.allocUnsafe(length);
      let offset = 0;
      for (let i = 0; i < FAMILIES.length; i++) {
        if (i > 0) offset += out.write('\n', offset, 'latin1');
        offset += out.write(HEADERS[i]!, offset, 'latin1');
        for (const s of series.values()) offset += out.write(s.text![i]!, offset, 'latin1');
      }
      return out.subarray(0, offset);
    },
  };
}

/** Label values in the text format: backslash, double quote and newline escaped. */
export function escape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
