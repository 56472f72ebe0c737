// Every default of the config, written once: the value resolution fills in and the line that
// describes its key in config.schema.json. docs/configuration.md's default columns are tested against it.
import { hostname } from 'node:os';
import type { ConnectionMode, DrainMode, LogLevel } from './types.js';

/** One key's default. */
export interface Default<T> {
  readonly value: T;
  /** What the key is for, in one line: its description in config.schema.json, before "Default …". */
  readonly description: string;
  /** The default in words, where it is a rule rather than a value as written. */
  readonly shown?: string;
  /** What the default amounts to, said after it in the description. */
  readonly note?: string;
}

function entry<T>(value: T, description: string, more: { shown?: string; note?: string } = {}): Default<T> {
  return Object.freeze({ value: Array.isArray(value) ? (Object.freeze([...value]) as T) : value, description, ...more });
}

export const CONFIG_DEFAULTS = Object.freeze({
  server: Object.freeze({
    /** Dual-stack; the agent falls back to 0.0.0.0 where IPv6 is turned off. */
    host: entry('::', 'Listen address.', { note: ' (IPv6 and IPv4; 0.0.0.0 where IPv6 is off)' }),
    port: entry(9898, 'Listen port; 0 picks a free one (logged at start).'),
    /**
     * The kubelet's probes, a Prometheus or two and a few people with curl need a handful; 256 is
     * ample headroom while bounding what idle or slow clients can hold (each costs a socket and up to
     * 16 KiB of headers).
     */
    maxConnections: entry(256, 'Open connections at most; beyond it the longest-waiting idle one is closed.'),
    drainDelay: entry('5s', 'After SIGTERM: every group but live fails at once, liveness and metrics answer this long.'),
    drainMode: entry<DrainMode>(
      'delay',
      'delay: answer for the whole drainDelay (classic sidecar). requests: exit once no request is in flight, at most drainDelay (native sidecar, whose app has already stopped).',
    ),
    /** The port is reachable cluster-wide and entries name hosts, databases and roles. */
    exposeDetails: entry(false, 'Show per-check entries to every caller.', { note: ': only to loopback callers (see trustLoopback) and bearers of the details token' }),
    trustLoopback: entry(true, 'Loopback callers see details. false behind a reverse proxy in the pod, where every caller is loopback.'),
    /** Under Kubernetes the host name is the pod's name. */
    serviceId: entry(() => hostname(), 'serviceId of health bodies.', { shown: 'the host name' }),
    description: entry('health of the application dependencies, as seen by vigil', 'description of health bodies.'),
    logLevel: entry<LogLevel>('info', 'Lines less severe than this are not logged; debug logs every attempt.'),
  }),
  /** The defaults section's own defaults; every check takes these unless it sets its own. */
  defaults: Object.freeze({
    interval: entry('10s', 'Time between attempts.'),
    timeout: entry('2s', 'Hard deadline of one attempt; at most interval.'),
    failureThreshold: entry(1, 'Consecutive failures before a check turns failing.'),
    successThreshold: entry(1, 'Consecutive successes before a check turns passing.'),
    /** Unset: a failing check is polled at its interval, like a passing one. */
    intervalWhenFailing: entry<string | undefined>(undefined, 'After a failed attempt, the time until the next one, until an attempt passes; at most interval.', { shown: 'the interval' }),
    connection: entry<ConnectionMode>(
      'fresh',
      'fresh: a new connection per attempt. persistent: one connection per check kept between attempts (types that hold one: postgres, redis, mysql, amqp, nats, mqtt, grpc); types that cannot keep one stay fresh.',
    ),
    /** 0: a kept connection serves attempts until it fails. */
    reconnectEvery: entry(0, 'With connection persistent: open a new connection every this many attempts (a kept one does not meet max_connections or a changed password).', {
      shown: 'never',
      note: ' (a kept connection is replaced only when it fails)',
    }),
  }),
  /** Keys of every check that are not taken from the defaults section. */
  check: Object.freeze({
    critical: entry(true, 'false: a failure makes its groups warn, not fail.'),
    groups: entry<readonly string[]>(['ready'], 'The /health/<group> endpoints it counts toward.'),
    /** In intervals: a result is stale once this many intervals have passed without a new one. */
    staleAfter: entry(3, 'A result older than this counts as failing.', { shown: 'three intervals' }),
    dependsOn: entry<readonly string[]>([], 'Checks this one depends on: while one of them fails, this one is not attempted and fails with reason dependency_failed.'),
    warnIf: entry<Readonly<Record<string, string>>>({}, 'Observation name to comparison, e.g. latency: "> 500ms": crossed, the passing check warns (its groups stay 200, status warn).', { shown: 'none' }),
    failIf: entry<Readonly<Record<string, string>>>({}, 'Observation name to comparison, e.g. latency: "> 2s": crossed, the attempt fails with reason threshold.', { shown: 'none' }),
  }),
});

/** Keys of a check that default to the defaults section's key of the same name. */
export type InheritedKey = keyof typeof CONFIG_DEFAULTS.defaults;

/** The default as a description says it: the words for a rule, a value with spaces in quotes. */
export function shownDefault(entry: Default<unknown>): string {
  if (entry.shown !== undefined) return entry.shown;
  if (Array.isArray(entry.value)) return `[${entry.value.join(', ')}]`;
  return typeof entry.value === 'string' && entry.value.includes(' ') ? JSON.stringify(entry.value) : String(entry.value);
}

/** A key's description in config.schema.json: what it is for, then its default. */
export function describeDefault(entry: Default<unknown>): string {
  return `${entry.description} Default ${shownDefault(entry)}${entry.note ?? ''}.`;
}

/** A check key's description, whose default is the defaults section's key of the same name. */
export function describeInherited(key: InheritedKey): string {
  return `${CONFIG_DEFAULTS.defaults[key].description} Default defaults.${key}.`;
}
