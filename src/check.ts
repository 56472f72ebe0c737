// The contract every check type implements (one module per type in checks/). The core owns
// timeouts, scheduling, thresholds, state and metrics; a check only performs one attempt.
import type { z } from 'zod';

/** The IETF health draft's componentType. */
export type ComponentType = 'datastore' | 'component' | 'system';

/** Values an attempt measured besides its latency (e.g. an HTTP status code). */
export type Observation = Readonly<Record<string, string | number | boolean>>;

export interface CheckContext {
  /** Aborted by the core when the attempt's timeout elapses or the agent stops: release everything. */
  readonly signal: AbortSignal;
  /** The attempt's timeout in ms, for driver-level timeouts (the core enforces it regardless). */
  readonly timeoutMs: number;
  /** The configured name of the check, for messages. */
  readonly name: string;
}

export interface CheckKind<Options = unknown> {
  /** The YAML `type:` value, e.g. 'redis'. */
  readonly type: string;
  readonly componentType: ComponentType;
  /** The schema of the type's own keys (besides the common ones the core handles). */
  readonly options: z.ZodObject<z.ZodRawShape>;
  /** URL schemes this type serves in environment-only mode (VIGIL_CHECK_<NAME>=<url>). */
  readonly schemes: readonly string[];
  /** The raw option block for a VIGIL_CHECK_<NAME> URL; defaults to `{ url }`. */
  fromUrl?(url: string): Record<string, unknown>;
  /** Loads what the type needs (a driver) once, before its first attempt, so that cost is not latency. */
  prepare?(): Promise<void>;
  /**
   * One attempt. Resolve (optionally with measured values) when healthy; throw a CheckError when
   * not. Must honour ctx.signal: on abort, close sockets and clients at once.
   */
  run(options: Options, ctx: CheckContext): Promise<Observation | void>;
}

/** The outcome of one attempt, as recorded by the core. */
export interface CheckResult {
  readonly ok: boolean;
  /** Wall-clock time the attempt started, epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly reason?: import('./errors.js').FailureReason;
  /** Operator-readable failure message, secrets removed. */
  readonly message?: string;
  readonly observation?: Observation;
}
