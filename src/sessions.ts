// Kept connections (`connection: persistent`): one per check, owned here, never by a kind. Each
// attempt probes the kept connection; any failure or timeout destroys it (its state is unknown);
// the next attempt, never a background loop, opens the replacement, after a capped exponential
// backoff once replacements themselves fail. Released when a check is changed or removed, and at stop.
import type { CheckContext, CheckKind, KeptConnection, Observation } from './check.js';
import type { CheckConfig } from './config/types.js';
import { CheckError, type FailureReason } from './errors.js';
import type { Logger } from './log.js';

/** The first replacement after a failure is opened at the next attempt; after that the waits double from this. */
export const BACKOFF_BASE_MS = 1000;
/** The longest wait between two opens while they keep failing. */
export const BACKOFF_CAP_MS = 30_000;

export interface SessionsOptions {
  /** Monotonic ms; default performance.now. */
  readonly monotonic?: () => number;
  /** [0, 1), for the backoff's jitter; default Math.random. */
  readonly random?: () => number;
  /** Called whenever a count of connections() may have changed. */
  readonly onChange?: () => void;
  /** Where each kept connection's opening, replacement and closing is told, at debug. */
  readonly log?: Logger;
}

export interface Sessions {
  /** One attempt of a persistent check: over its kept connection, opened first when there is none. */
  run(kind: CheckKind, check: CheckConfig, ctx: CheckContext): Promise<Observation | void>;
  /** Closes the check's connection and forgets it; an attempt in flight closes what it holds when it ends. */
  release(name: string): void;
  /** Releases every check's connection; resolves once each has let go of its server session. */
  closeAll(): Promise<void>;
  /** Connections held for the check right now (0 or 1; more only while a late open is being discarded). */
  connections(name: string): number;
}

interface Holder {
  readonly check: CheckConfig;
  connection: KeptConnection | undefined;
  /** Attempts the current connection has served. */
  uses: number;
  /** Opens in progress (their sockets count as held). */
  opening: number;
  /** Connections being closed (held until the server has let them go). */
  readonly closing: Set<Promise<void>>;
  /** Consecutive failed attempts. */
  failures: number;
  /** No new connection before this (monotonic ms). */
  nextOpenAt: number;
  last: { readonly reason: FailureReason; readonly message: string } | undefined;
  released: boolean;
}

export function createSessions(options: SessionsOptions = {}): Sessions {
  const monotonic = options.monotonic ?? performance.now.bind(performance);
  const random = options.random ?? Math.random;
  const changed = options.onChange ?? (() => undefined);
  const log = options.log;
  const tell = (check: CheckConfig, msg: string, fields?: Record<string, string | number>) => {
    if (log?.isLevelEnabled('debug')) log.debug(`check ${check.name}: ${msg}`, { check: check.name, type: check.type, ...fields });
  };
  const holders = new Map<string, Holder>();
  // Connections of released holders still closing, by check name: a new definition of the check
  // waits for them before it opens its own.
  const retiring = new Map<string, Set<Promise<void>>>();

  const holderOf = (check: CheckConfig): Holder => {
    let holder = holders.get(check.name);
    // A different definition under the same name (a reload the caller did not release): start over.
    if (holder && holder.check !== check) {
      releaseHolder(holder);
      holder = undefined;
    }
    if (!holder) {
      holder = { check, connection: undefined, uses: 0, opening: 0, closing: retiring.get(check.name) ?? new Set(), failures: 0, nextOpenAt: 0, last: undefined, released: false };
      holders.set(check.name, holder);
    }
    return holder;
  };

  const keep = (holder: Holder, connection: KeptConnection) => {
    holder.connection = connection;
    holder.uses = 0;
    tell(holder.check, 'kept connection opened');
    changed();
  };

  /** Counts a connection as held until `closing` settles. */
  const holdWhile = (holder: Holder, closing: Promise<void>) => {
    holder.closing.add(closing);
    changed();
    void closing.then(() => {
      holder.closing.delete(closing);
      changed();
    });
  };

  const drop = (holder: Holder) => {
    const connection = holder.connection;
    holder.connection = undefined;
    holder.uses = 0;
    if (!connection) return;
    const closing = closeQuietly(connection);
    if (closing) holdWhile(holder, closing);
    changed();
  };

  const releaseHolder = (holder: Holder) => {
    holder.released = true;
    if (holder.connection) tell(holder.check, 'kept connection closed: the check was changed or removed, or the agent stops');
    drop(holder);
    if (holders.get(holder.check.name) === holder) holders.delete(holder.check.name);
    const { closing } = holder;
    if (closing.size) {
      retiring.set(holder.check.name, closing);
      void Promise.all(closing).then(() => {
        if (retiring.get(holder.check.name) === closing && closing.size === 0) retiring.delete(holder.check.name);
      });
    }
  };

  const failed = (holder: Holder, error: unknown, check: CheckConfig): never => {
    drop(holder);
    holder.failures++;
    // The first replacement is immediate (a connection the server closed should cost one attempt
    // at most); from the second consecutive failure on, opens wait 1 s, 2 s, 4 s … up to the cap,
    // with ±20% jitter so that a fleet that lost its database together does not return together.
    const waitMs = holder.failures < 2 ? 0 : Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (holder.failures - 2)) * (0.8 + 0.4 * random());
    holder.nextOpenAt = monotonic() + waitMs;
    const failure = error instanceof CheckError ? error : new CheckError('unknown', `${check.type} check ${check.name} failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    holder.last = { reason: failure.reason, message: failure.message };
    tell(check, `no kept connection after a failure (${failure.reason}); the next is opened ${waitMs > 0 ? `no sooner than ${formatWait(waitMs)} from now` : 'at the next attempt'}`, { reason: failure.reason, failures: holder.failures });
    throw error;
  };

  /** Opens a connection within the attempt; one that arrives after the attempt ended is closed. */
  const open = async (holder: Holder, kind: CheckKind, check: CheckConfig, ctx: CheckContext): Promise<KeptConnection> => {
    // The previous connection first lets go of its server session: one per check, never two.
    if (holder.closing.size) await untilAborted(ctx.signal, Promise.all(holder.closing));
    holder.opening++;
    changed();
    let opening: Promise<KeptConnection>;
    try {
      opening = kind.session!.open(check.options, ctx, (closing) => holdWhile(holder, closing.catch(() => undefined)));
    } catch (error) {
      opening = Promise.reject(error);
    }
    let isLate = false;
    opening.then(
      (connection) => {
        holder.opening--;
        if (isLate || holder.released) {
          const closing = closeQuietly(connection);
          if (closing) holdWhile(holder, closing);
        }
        changed();
      },
      () => {
        holder.opening--;
        changed();
      },
    );
    try {
      const connection = await untilAborted(ctx.signal, opening);
      if (holder.released) throw new CheckError('unknown', `${check.type} check ${check.name} was stopped`);
      return connection;
    } catch (error) {
      isLate = true;
      throw error;
    }
  };

  return {
    async run(kind, check, ctx) {
      const holder = holderOf(check);
      let connection = holder.connection;
      if (connection && (!connection.isOpen() || (check.reconnectEvery > 0 && holder.uses >= check.reconnectEvery))) {
        // Closed by the peer between attempts (an idle timeout, a restart), or due for renewal.
        tell(check, connection.isOpen() ? `kept connection renewed after ${holder.uses} attempts (reconnectEvery)` : 'kept connection closed by the server or the network between attempts; opening another');
        drop(holder);
        connection = undefined;
      }
      let isKept = connection !== undefined;
      if (!connection) {
        const waitMs = holder.nextOpenAt - monotonic();
        if (waitMs > 0 && holder.last) {
          throw new CheckError(
            holder.last.reason,
            `${holder.last.message} (persistent connection: not reopened for another ${formatWait(waitMs)}, backing off after ${holder.failures} consecutive failures)`,
          );
        }
        try {
          connection = await open(holder, kind, check, ctx);
        } catch (error) {
          return failed(holder, error, check);
        }
        keep(holder, connection);
      }
      for (;;) {
        const current: KeptConnection = connection;
        try {
          holder.uses++;
          // At the deadline the connection is destroyed at once: its state is unknown.
          const observation = await untilAborted(ctx.signal, current.probe(ctx), () => (holder.connection === current ? drop(holder) : closeQuietly(current)));
          if (holder.released) drop(holder);
          holder.failures = 0;
          holder.nextOpenAt = 0;
          return observation;
        } catch (error) {
          // A kept connection the peer closed while it idled, noticed only now (the close may still
          // be on its way): one new connection within the same attempt, so an idle timeout or a
          // restart is no failure. A failure the server answered (a query error, a refusal) is reported.
          if (isKept && (!current.isOpen() || !isAnswered(error)) && !ctx.signal.aborted && !holder.released) {
            isKept = false;
            tell(check, 'kept connection failed without an answer from the server; opening another within the attempt');
            drop(holder);
            try {
              connection = await open(holder, kind, check, ctx);
            } catch (openError) {
              return failed(holder, openError, check);
            }
            keep(holder, connection);
            continue;
          }
          return failed(holder, error, check);
        }
      }
    },
    release(name) {
      const holder = holders.get(name);
      if (holder) releaseHolder(holder);
    },
    async closeAll() {
      for (const holder of [...holders.values()]) releaseHolder(holder);
      await Promise.all([...retiring.values()].flatMap((closing) => [...closing]));
    },
    connections(name) {
      const holder = holders.get(name);
      // A connection the peer closed is no longer held, though the next attempt has yet to notice.
      return holder ? (holder.connection?.isOpen() ? 1 : 0) + holder.opening + holder.closing.size : 0;
    },
  };
}

/**
 * Reasons that carry the server's own answer over a working connection: a new connection would not
 * change them. A result that fails `expect` (assertion) is such an answer.
 */
const ANSWERED: readonly FailureReason[] = ['body', 'assertion', 'auth', 'status_code', 'not_found', 'not_serving', 'timeout'];
const isAnswered = (error: unknown) => error instanceof CheckError && ANSWERED.includes(error.reason);

/** The connection's close, never throwing; its promise (if any) never rejects. */
function closeQuietly(connection: KeptConnection | undefined): Promise<void> | undefined {
  try {
    const closing = connection?.close();
    return closing ? closing.catch(() => undefined) : undefined;
  } catch {
    // close() must not throw; a kind's bug here must not turn a result into an exception.
    return undefined;
  }
}

/** Settles with `work`, or rejects with the signal's reason the moment it aborts (after `onAbort`). */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>, onAbort?: () => void): Promise<T> {
  if (signal.aborted) {
    // Whatever the work does after an abort is nobody's concern.
    work.catch(() => undefined);
    onAbort?.();
    return Promise.reject(signal.reason);
  }
  // One promise, settled by whichever comes first (no race of two: this runs at every attempt).
  return new Promise<T>((resolve, reject) => {
    const listener = () => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', listener, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', listener);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', listener);
        reject(error);
      },
    );
  });
}

function formatWait(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.ceil(ms)} ms`;
}
