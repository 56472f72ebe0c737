// The contract every check type implements (one module per type in checks/, made with
// defineCheck). The core owns timeouts, scheduling, thresholds, state and metrics; a check only
// performs one attempt.
import { z } from 'zod';

/**
 * What marks a text cut short, here and wherever a check quotes a peer's text (peerText): the
 * redactor masks a secret's start left just before it (redact.ts).
 */
export const CUT_MARK = '…';

/** The IETF health draft's componentType. */
export type ComponentType = 'datastore' | 'component' | 'system';

/**
 * Values an attempt measured besides its latency. A number is a numeric observation and its name
 * must be one the kind declares (`observations`): the core refuses any other, so the `name` label of
 * vigil_check_observation stays bounded. Strings and booleans are details (a role, a subject). A
 * string `warning` makes a passing attempt warn, saying why (a certificate within warnBefore).
 */
export type Observation = Readonly<Record<string, string | number | boolean>>;

/** Units of numeric observations: what a threshold's number is read in, and the health body's observedUnit. */
export const OBSERVATION_UNITS = ['ms', 's', 'days', 'ratio', 'count', 'code'] as const;
export type ObservationUnit = (typeof OBSERVATION_UNITS)[number];

/** A kind's numeric observations, name to unit: a bounded set, e.g. `{ tlsLeafDaysLeft: 'days' }`. */
export type ObservationUnits = Readonly<Record<string, ObservationUnit>>;

/** The observation every check has: the attempt's latency, in ms. */
export const LATENCY = 'latency';
const LATENCY_ONLY: ObservationUnits = { [LATENCY]: 'ms' };

/** A kind's numeric observations, latency included. */
export function observationsOf(kind: Pick<CheckKind, 'observations'>): ObservationUnits {
  return kind.observations ?? LATENCY_ONLY;
}

export interface CheckContext {
  /**
   * The attempt's own signal, aborted when its timeout elapses or the agent stops: release
   * everything at once and reject. It belongs to this attempt only; a kind must leave no listener
   * on it once the attempt settles (Node's `net.connect({ signal })` removes its own only on abort:
   * add your own listener and remove it when the attempt ends).
   */
  readonly signal: AbortSignal;
  /** The attempt's timeout in ms, for driver-level timeouts (the core enforces it regardless). */
  readonly timeoutMs: number;
  /** The configured name of the check, for messages. */
  readonly name: string;
}

/** A check type as the core sees it: made by defineCheck, its options already validated. */
export interface CheckKind {
  /** The YAML `type:` value, e.g. 'redis'. */
  readonly type: string;
  readonly componentType: ComponentType;
  /** The schema of the type's own keys (besides the common ones the core handles): a strict object. */
  readonly options: z.ZodObject<z.ZodRawShape>;
  /** URL schemes this type serves in environment-only mode (VIGIL_CHECK_<NAME>=<url>). */
  readonly schemes: readonly string[];
  /** Every numeric observation of the type, latency included: what warnIf/failIf may name. Default latency only. */
  readonly observations?: ObservationUnits;
  /** The raw option block for a VIGIL_CHECK_<NAME> URL; defaults to `{ url }`. */
  fromUrl?(url: string): Record<string, unknown>;
  /**
   * In this type's URLs, a user name given without a password names an identity (a PostgreSQL role
   * logging in by trust or certificate), not a credential: it is not masked wherever it appears.
   * Otherwise a lone user name is taken for a token (`https://TOKEN@host/`). Default false.
   */
  readonly urlUserIsIdentity?: boolean;
  /**
   * Loads what the type needs (a driver, a worker) once, before its first attempt, so that cost is
   * not latency. Given the options of every check of the type in the config (validated; none: []).
   */
  prepare?(checks?: readonly Readonly<Record<string, unknown>>[]): Promise<void>;
  /**
   * Set for a type whose results are pushed to the agent rather than polled (the built-in
   * heartbeat): the scheduler never runs it, and keys about polling do not apply to it.
   */
  readonly push?: PushMode;
  /** One attempt with options its schema accepted: see CheckDefinition.run. */
  run(options: Readonly<Record<string, unknown>>, ctx: CheckContext): Promise<Observation | void>;
  /** Present when the type can keep its connection between attempts (`connection: persistent`). */
  readonly session?: CheckSession<Readonly<Record<string, unknown>>>;
}

/**
 * A connection kept from one attempt to the next. The core owns it: it asks for a probe on each
 * attempt, destroys it after any failure or timeout (its state is then unknown), and at reload and
 * stop. The kind owns what happens on the wire.
 */
export interface KeptConnection {
  /**
   * One probe over this connection: what an attempt of `run` checks once logged in. Honour
   * ctx.signal as `run` does (on abort, reject at once); leave no listener on it once settled.
   */
  probe(ctx: CheckContext): Promise<Observation | void>;
  /**
   * False once the peer or the network closed the connection (an idle timeout, a server restart),
   * as seen between attempts. Its client's error events must never reach the process.
   */
  isOpen(): boolean;
  /**
   * Closes the connection: at once, or (resolving when done) as the server should be told, e.g.
   * cancelling a statement still running so that its session ends now rather than at its own
   * timeout. A promise must settle within about a second whatever the peer does, and never reject.
   * Until it settles the connection counts as held, and the check opens no replacement.
   * Idempotent, never throws.
   */
  close(): void | Promise<void>;
}

/** How a type keeps a connection: `open` connects and logs in, as `run` would, bounded by ctx.signal. */
export interface CheckSession<Options> {
  /**
   * Opens one connection, ready for probes. Rejects with a CheckError as `run` does; on abort
   * releases everything and rejects at once. The connection is the core's from then on. A
   * connection given up half-open that the server may still hold for a moment (a backend still
   * logging in) is reported with `abandoned` (a promise settling, within about a second, once the
   * server let go of it): the check opens nothing new until then.
   */
  open(options: Options, ctx: CheckContext, abandoned: (closing: Promise<void>) => void): Promise<KeptConnection>;
}

/** How the core treats a pushed type (see CheckKind.push). */
export interface PushMode {
  /** The longest a passing check of this type goes without a new result, ms (a heartbeat's ttl). */
  periodMs(options: Readonly<Record<string, unknown>>): number;
  /** Files its options name that must be readable (a token file): read at load, watched for changes. */
  files?(options: Readonly<Record<string, unknown>>): readonly { readonly key: string; readonly path: string }[];
}

/** What a check type's module declares; `run`'s options are typed by the `options` shape. */
export interface CheckDefinition<Shape extends z.ZodRawShape> {
  readonly type: string;
  readonly componentType: ComponentType;
  /** The type's own keys as a zod shape; none may shadow a key every check has (type, interval, …). */
  readonly options: Shape;
  /** Rules between the type's own options (e.g. HEAD with bodyContains): add an issue per problem. */
  readonly refine?: (options: z.output<z.ZodObject<Shape>>, ctx: z.RefinementCtx) => void;
  readonly schemes: readonly string[];
  /** The numeric observations `run` may resolve with, name to unit (latency is the core's: never declared). */
  readonly observations?: ObservationUnits;
  fromUrl?(url: string): Record<string, unknown>;
  readonly urlUserIsIdentity?: boolean;
  /** See CheckKind.prepare: `checks` holds the options of the config's checks of this type. */
  prepare?(checks: readonly z.output<z.ZodObject<Shape>>[]): Promise<unknown>;
  /**
   * One attempt. Resolve (optionally with measured values) when healthy; throw a CheckError when
   * not. Honour ctx.signal: on abort, close sockets and clients and reject at once.
   */
  run(options: z.output<z.ZodObject<Shape>>, ctx: CheckContext): Promise<Observation | void>;
  /** Keeping a connection between attempts (`connection: persistent`), for types that hold one. */
  readonly session?: CheckSession<z.output<z.ZodObject<Shape>>>;
}

/**
 * Makes a check type from its definition. The options schema is a strict object of the shape (an
 * unknown key is an error), with the definition's rules between options; `run` receives only
 * options that schema accepted, typed by it.
 */
export function defineCheck<Shape extends z.ZodRawShape>(definition: CheckDefinition<Shape>): CheckKind {
  const strict = z.strictObject(definition.options);
  const refine = definition.refine;
  const options = refine ? strict.superRefine((value, ctx) => refine(value, ctx)) : strict;
  const { prepare, fromUrl, session } = definition;
  return {
    type: definition.type,
    componentType: definition.componentType,
    options,
    schemes: definition.schemes,
    observations: { [LATENCY]: 'ms', ...definition.observations },
    ...(definition.urlUserIsIdentity ? { urlUserIsIdentity: true } : {}),
    ...(fromUrl ? { fromUrl: (url: string) => fromUrl(url) } : {}),
    ...(prepare ? { prepare: async (checks = []) => void (await prepare(checks as z.output<z.ZodObject<Shape>>[])) } : {}),
    // The core validates every check's options with `options` before any attempt: the cast is the
    // one place the schema's output type is taken on trust.
    run: (values, ctx) => definition.run(values as z.output<z.ZodObject<Shape>>, ctx),
    ...(session ? { session: { open: (values, ctx, abandoned) => session.open(values as z.output<z.ZodObject<Shape>>, ctx, abandoned) } } : {}),
  };
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
  /** Set when no attempt was made (held back by dependsOn): it has no latency to record. */
  readonly isHeldBack?: true;
  /** A passing attempt that needs attention (a warnIf crossed, a certificate within warnBefore): why. */
  readonly warning?: string;
  /** The attempt's numeric observations (latency first), each judged by the check's thresholds. */
  readonly measures?: readonly Measure[];
}

/** One numeric observation of an attempt, with what the check's thresholds made of it. */
export interface Measure {
  readonly name: string;
  readonly value: number;
  readonly unit: ObservationUnit;
  /** fail: a failIf on it is crossed; warn: a warnIf is; pass otherwise. */
  readonly status: 'pass' | 'warn' | 'fail';
}
