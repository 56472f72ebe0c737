// The resolved configuration: every default filled in, durations in ms, frozen. The input form is
// whatever YAML holds; config/schema.ts describes it, config/parse.ts turns it into these types, and
// every default is written once, in config/defaults.ts.

import type { Threshold } from '../observations.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** After SIGTERM: answer for the whole drainDelay, or stop once no request is in flight (at most drainDelay). */
export type DrainMode = 'delay' | 'requests';

export interface ServerConfig {
  /** Listen address; `::` is IPv6 and IPv4 (or 0.0.0.0 where IPv6 is turned off). */
  readonly host: string;
  /** Listen port; 0 for an ephemeral port (the bound port is logged). */
  readonly port: number;
  /** Open connections at most. */
  readonly maxConnections: number;
  /** How long liveness and metrics keep answering after SIGTERM. */
  readonly drainDelayMs: number;
  /** delay: answer for all of drainDelay; requests: exit once no request is in flight. */
  readonly drainMode: DrainMode;
  /** Show per-check entries to every caller. */
  readonly exposeDetails: boolean;
  /** Loopback callers see details when exposeDetails is false. */
  readonly trustLoopback: boolean;
  /** File holding a bearer token that unlocks details when exposeDetails is false. */
  readonly detailsTokenFile?: string;
  /** File holding the bearer token every POST /heartbeat/<check> must carry, unless the check names its own. */
  readonly heartbeatTokenFile?: string;
  /** `serviceId` of health bodies. */
  readonly serviceId: string;
  /** `description` of health bodies. */
  readonly description: string;
  readonly logLevel: LogLevel;
}

/** fresh: a new connection per attempt; persistent: one kept between attempts (types that hold one). */
export type ConnectionMode = 'fresh' | 'persistent';

export interface DefaultsConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  /** After a failed attempt, the time until the next one (until an attempt passes); unset: intervalMs. */
  readonly intervalWhenFailingMs?: number;
  readonly connection: ConnectionMode;
  readonly reconnectEvery: number;
}

export interface CheckConfig {
  readonly name: string;
  readonly type: string;
  readonly intervalMs: number;
  /** After a failed attempt, the time until the next one, until an attempt passes; unset: intervalMs. */
  readonly intervalWhenFailingMs?: number;
  readonly timeoutMs: number;
  /** A result older than this counts as failing (reason stale). */
  readonly staleAfterMs: number;
  /** A failure fails its groups (true) or only warns (false). */
  readonly critical: boolean;
  /** The /health/<group> endpoints it counts toward. */
  readonly groups: readonly string[];
  /** Consecutive failures before a passing check turns failing. */
  readonly failureThreshold: number;
  /** Consecutive successes before a failing check turns passing. */
  readonly successThreshold: number;
  /**
   * Checks whose thresholded status must not be fail for this one to be attempted (each declared,
   * no cycles); unset: none.
   */
  readonly dependsOn?: readonly string[];
  /** Thresholds on observations: crossed, the passing attempt warns. */
  readonly warnIf: readonly Threshold[];
  /** Thresholds on observations: crossed, the attempt fails with reason threshold. */
  readonly failIf: readonly Threshold[];
  /**
   * fresh: a new connection per attempt; persistent: one connection kept between attempts. Always
   * fresh for a type that cannot keep one (a persistent default does not apply to it).
   */
  readonly connection: ConnectionMode;
  /** With connection persistent: a kept connection serves this many attempts, then a new one is opened; 0: no limit. */
  readonly reconnectEvery: number;
  /** The type's own options, as validated by its schema. */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface AgentConfig {
  readonly server: ServerConfig;
  readonly defaults: DefaultsConfig;
  readonly checks: readonly CheckConfig[];
  /** Values to mask in every output: see config/secrets.ts for what counts as a secret. */
  readonly secrets: readonly string[];
  /** Things worth telling the operator that do not make the config invalid. */
  readonly warnings: readonly string[];
  /** The files read besides the config file (VAR_FILE secrets, server.detailsTokenFile): a change to one reloads. */
  readonly files?: readonly string[];
}
