// Resolution: validated input -> the resolved types (config/types.ts), every default read from
// config/defaults.ts, with the rules between keys (timeout within interval, staleAfter beyond it)
// and the warnings they give.
import type { z } from 'zod';
import { observationsOf, type CheckKind, type PushMode } from '../check.js';
import { parseComparison, type Threshold } from '../observations.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { formatDuration, parseDuration } from './duration.js';
import type { InterpolatedPaths } from './interpolate.js';
import { checkNamePattern, checkSchema, commonCheckShape, type defaultsSchema, type serverSchema } from './schema.js';
import type { CheckConfig, DefaultsConfig, ServerConfig } from './types.js';
import { isRecord, show, validate, type Fail } from './validate.js';

const { server: SERVER, defaults: DEFAULTS, check: CHECK } = CONFIG_DEFAULTS;

export function resolveServer(server: z.output<typeof serverSchema>): ServerConfig {
  return {
    host: server.host ?? SERVER.host.value,
    port: server.port ?? SERVER.port.value,
    maxConnections: server.maxConnections ?? SERVER.maxConnections.value,
    drainDelayMs: parseDuration(server.drainDelay ?? SERVER.drainDelay.value, { allowZero: true })!,
    drainMode: server.drainMode ?? SERVER.drainMode.value,
    exposeDetails: server.exposeDetails ?? SERVER.exposeDetails.value,
    trustLoopback: server.trustLoopback ?? SERVER.trustLoopback.value,
    ...(server.detailsTokenFile === undefined ? {} : { detailsTokenFile: server.detailsTokenFile }),
    ...(server.heartbeatTokenFile === undefined ? {} : { heartbeatTokenFile: server.heartbeatTokenFile }),
    serviceId: server.serviceId ?? SERVER.serviceId.value(),
    description: server.description ?? SERVER.description.value,
    logLevel: server.logLevel ?? SERVER.logLevel.value,
  };
}

/** The defaults section resolved; a timeout longer than the interval is reported to fail. */
export function resolveDefaults(defaults: z.output<typeof defaultsSchema>, fail: Fail): DefaultsConfig {
  const resolved = {
    intervalMs: parseDuration(defaults.interval ?? DEFAULTS.interval.value)!,
    timeoutMs: parseDuration(defaults.timeout ?? DEFAULTS.timeout.value)!,
    failureThreshold: defaults.failureThreshold ?? DEFAULTS.failureThreshold.value,
    successThreshold: defaults.successThreshold ?? DEFAULTS.successThreshold.value,
    ...(defaults.intervalWhenFailing === undefined ? {} : { intervalWhenFailingMs: parseDuration(defaults.intervalWhenFailing)! }),
    connection: defaults.connection ?? DEFAULTS.connection.value,
    reconnectEvery: defaults.reconnectEvery ?? DEFAULTS.reconnectEvery.value,
  };
  // Equal is fine (as Prometheus allows scrape_timeout == scrape_interval): attempts never overlap.
  if (resolved.timeoutMs > resolved.intervalMs) {
    fail(['defaults'], `${formatDuration(resolved.timeoutMs)} must not be longer than defaults.interval (${formatDuration(resolved.intervalMs)})`, 'timeout');
  }
  const whenFailingMs = resolved.intervalWhenFailingMs;
  if (whenFailingMs !== undefined && whenFailingMs > resolved.intervalMs) {
    fail(['defaults'], `${defaults.intervalWhenFailing} must not be longer than defaults.interval (${formatDuration(resolved.intervalMs)})`, 'intervalWhenFailing');
  } else if (whenFailingMs !== undefined && resolved.timeoutMs > whenFailingMs) {
    fail(['defaults'], `${defaults.intervalWhenFailing} must not be shorter than defaults.timeout (${formatDuration(resolved.timeoutMs)})`, 'intervalWhenFailing');
  }
  return resolved;
}

/** Keys about polling: they do not apply to a pushed check (a heartbeat). */
const POLLING_KEYS = ['interval', 'timeout', 'staleAfter', 'failureThreshold', 'successThreshold', 'intervalWhenFailing', 'dependsOn', 'connection', 'reconnectEvery'] as const;

/**
 * A pushed check: nothing polls it, so no polling key applies (not even one inherited from
 * defaults); each result counts at once (thresholds of 1) and never goes stale, since the type itself
 * reports a failure when results stop coming (a heartbeat at its ttl).
 */
function resolvePushed(name: string, kind: CheckKind, push: PushMode, parsed: Record<string, unknown>, fail: Fail): CheckConfig | undefined {
  const path = ['checks', name];
  const given = POLLING_KEYS.filter((key) => parsed[key] !== undefined);
  for (const key of given) fail(path, `does not apply to a ${kind.type} check: it is not polled, its results are pushed to the agent`, key, true);
  if (given.length) return undefined;
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== 'type' && !Object.hasOwn(commonCheckShape, key)) options[key] = value;
  }
  const periodMs = push.periodMs(options);
  return {
    name,
    type: kind.type,
    intervalMs: periodMs,
    timeoutMs: periodMs,
    staleAfterMs: Infinity,
    critical: (parsed.critical as boolean | undefined) ?? CHECK.critical.value,
    groups: [...new Set((parsed.groups as string[] | undefined) ?? CHECK.groups.value)],
    failureThreshold: 1,
    successThreshold: 1,
    warnIf: thresholds(kind, parsed.warnIf as Readonly<Record<string, string>> | undefined),
    failIf: thresholds(kind, parsed.failIf as Readonly<Record<string, string>> | undefined),
    // Nothing to connect to: the application comes to the agent.
    connection: 'fresh',
    reconnectEvery: 0,
    options,
  };
}

export interface CheckResolution {
  readonly kinds: readonly CheckKind[];
  /** Undefined when the defaults section is invalid: the check is then only validated. */
  readonly defaults: DefaultsConfig | undefined;
  readonly fail: Fail;
  readonly warnings: string[];
  readonly interpolated: InterpolatedPaths;
}

/** One check block, validated against its kind's schema and resolved; undefined when it has problems. */
export function resolveCheck(name: string, block: unknown, { kinds, defaults, fail, warnings, interpolated }: CheckResolution): CheckConfig | undefined {
  const path = ['checks', name];
  if (!checkNamePattern.test(name)) fail(['checks'], 'a check name must start with a letter or digit and hold only letters, digits, ".", "-" and "_"', name, true);
  if (!isRecord(block)) {
    fail(path, 'must be a map with at least a type');
    return undefined;
  }
  const known = kinds.map((k) => k.type).join(', ');
  if (block.type === undefined) {
    fail(path, `missing type (one of ${known})`, 'type');
    return undefined;
  }
  const kind = kinds.find((k) => k.type === block.type);
  if (!kind) {
    fail(path, `${show(block.type)} is not a known type (known: ${known})`, 'type');
    return undefined;
  }
  const parsed = validate(checkSchema(kind), block, path, fail, interpolated);
  if (!parsed) return undefined;
  // A pushed check inherits nothing from defaults: its own rules apply even when defaults are invalid.
  if (kind.push) return resolvePushed(name, kind, kind.push, parsed, fail);
  if (!defaults) return undefined;

  const intervalMs = parsed.interval === undefined ? defaults.intervalMs : parseDuration(parsed.interval)!;
  let timeoutMs = parsed.timeout === undefined ? defaults.timeoutMs : parseDuration(parsed.timeout)!;
  if (timeoutMs > intervalMs) {
    if (parsed.timeout !== undefined) {
      fail(path, `${parsed.timeout} must not be longer than interval (${formatDuration(intervalMs)})`, 'timeout');
      return undefined;
    }
    // Only a default conflicts with this check's own interval: clamp rather than refuse.
    timeoutMs = Math.max(1, Math.floor(intervalMs / 2));
    warnings.push(`checks.${name}.timeout: the default ${formatDuration(defaults.timeoutMs)} is longer than interval ${formatDuration(intervalMs)}; using ${formatDuration(timeoutMs)}`);
  }
  // After a failed attempt: the shorter interval, never longer than interval nor shorter than the
  // timeout. Set here, a conflict is an error; inherited from defaults, it gives way.
  let intervalWhenFailingMs = parsed.intervalWhenFailing === undefined ? defaults.intervalWhenFailingMs : parseDuration(parsed.intervalWhenFailing)!;
  if (intervalWhenFailingMs !== undefined) {
    if (parsed.intervalWhenFailing !== undefined) {
      if (intervalWhenFailingMs > intervalMs) {
        fail(path, `${parsed.intervalWhenFailing} must not be longer than interval (${formatDuration(intervalMs)})`, 'intervalWhenFailing');
        return undefined;
      }
      if (timeoutMs > intervalWhenFailingMs) {
        if (parsed.timeout !== undefined) {
          fail(path, `${parsed.timeout} must not be longer than intervalWhenFailing (${parsed.intervalWhenFailing})`, 'timeout');
          return undefined;
        }
        timeoutMs = Math.max(1, Math.floor(intervalWhenFailingMs / 2));
        warnings.push(`checks.${name}.timeout: the default ${formatDuration(defaults.timeoutMs)} is longer than intervalWhenFailing ${formatDuration(intervalWhenFailingMs)}; using ${formatDuration(timeoutMs)}`);
      }
    } else if (intervalWhenFailingMs >= intervalMs) {
      // This check's own interval is already as short: it keeps it while failing.
      intervalWhenFailingMs = undefined;
    } else if (timeoutMs > intervalWhenFailingMs) {
      intervalWhenFailingMs = timeoutMs;
    }
  }
  const staleAfterMs = parsed.staleAfter === undefined ? intervalMs * CHECK.staleAfter.value : parseDuration(parsed.staleAfter)!;
  if (staleAfterMs <= intervalMs) {
    fail(path, `${parsed.staleAfter ?? formatDuration(staleAfterMs)} must be longer than interval (${formatDuration(intervalMs)})`, 'staleAfter');
    return undefined;
  }
  // A persistent default applies to the types that can keep a connection; set on the check itself,
  // for a type that cannot, it is an error.
  if (parsed.connection === 'persistent' && !kind.session) {
    const able = kinds.filter((k) => k.session).map((k) => k.type).join(', ');
    fail(path, `persistent is not supported by type ${kind.type}: it opens a new connection for every attempt (persistent: ${able})`, 'connection');
    return undefined;
  }
  const connection = kind.session ? (parsed.connection ?? defaults.connection) : 'fresh';
  if (parsed.reconnectEvery !== undefined && connection !== 'persistent') {
    fail(path, `${parsed.reconnectEvery} applies to connection: persistent only (this check's connection is fresh)`, 'reconnectEvery');
    return undefined;
  }
  const reconnectEvery = connection === 'persistent' ? (parsed.reconnectEvery ?? defaults.reconnectEvery) : 0;
  const groups = [...new Set(parsed.groups ?? CHECK.groups.value)];
  if (groups.includes('live')) {
    warnings.push(`checks.${name} joins the live group: while it fails, /health/live fails and an orchestrator restarts the pod`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== 'type' && !Object.hasOwn(commonCheckShape, key)) options[key] = value;
  }
  return {
    name,
    type: kind.type,
    intervalMs,
    timeoutMs,
    staleAfterMs,
    critical: parsed.critical ?? CHECK.critical.value,
    groups,
    failureThreshold: parsed.failureThreshold ?? defaults.failureThreshold,
    successThreshold: parsed.successThreshold ?? defaults.successThreshold,
    ...(intervalWhenFailingMs === undefined ? {} : { intervalWhenFailingMs }),
    ...(parsed.dependsOn?.length ? { dependsOn: [...new Set(parsed.dependsOn)] } : {}),
    warnIf: thresholds(kind, parsed.warnIf),
    failIf: thresholds(kind, parsed.failIf),
    connection,
    reconnectEvery,
    options,
  };
}

/** The comparisons of a warnIf/failIf block, which its schema already read once. */
function thresholds(kind: CheckKind, given: Readonly<Record<string, string>> | undefined): Threshold[] {
  return Object.entries(given ?? {}).map(([name, text]) => parseComparison(name, text, observationsOf(kind)[name]!).threshold!);
}
