// Dispatch from a configured check to its kind: the one place that maps `type` to the kind's
// run, componentType and driver loading, for the agent and the one-shot `vigil check` alike. A check
// with `connection: persistent` runs over the connection its session keeps (sessions.ts).
import type { CheckKind, CheckResult, ComponentType } from './check.js';
import { checkKinds } from './kinds.js';
import { judge } from './observations.js';
import type { CheckConfig } from './config/types.js';
import type { RunCheck } from './scheduler.js';
import { createSessions, type SessionsOptions } from './sessions.js';

export interface Runner {
  readonly run: RunCheck;
  componentTypeOf(check: CheckConfig): ComponentType;
  /** Its results are pushed to the agent (a heartbeat): nothing polls it. */
  isPushed(check: CheckConfig): boolean;
  /** The attempt's result judged by the check's thresholds, its numeric observations listed (observations.ts). */
  judge(check: CheckConfig, result: CheckResult): CheckResult;
  /** Loads the drivers of the types these checks use, once, before their first attempts. */
  prepare(checks: readonly CheckConfig[]): Promise<void>;
  /**
   * Connections held for the check right now: its kept connection (persistent), or those of an
   * attempt still running (fresh). Undefined for a type that holds no connection it could keep.
   */
  connections(check: CheckConfig): number | undefined;
  /** Closes the check's kept connection (its definition changed, or it was removed). */
  release(name: string): void;
  /** Closes every kept connection (the agent stops); resolves once each has let go of its server session. */
  closeAll(): Promise<void>;
  /** Grows whenever a count of connections() may have changed (metrics render again only then). */
  readonly connectionsVersion: number;
}

export function createRunner(kinds: readonly CheckKind[], options: SessionsOptions = {}): Runner {
  const kindOf = new Map(checkKinds(kinds).map((kind) => [kind.type, kind]));
  // Validation guarantees every configured type is known.
  const kind = (type: string) => kindOf.get(type)!;
  let version = 0;
  const sessions = createSessions({ ...options, onChange: () => void version++ });
  // Fresh attempts of a connection-holding type whose work has not settled, by check name.
  const running = new Map<string, number>();
  const settled = (name: string) => {
    version++;
    const left = (running.get(name) ?? 1) - 1;
    if (left > 0) running.set(name, left);
    else running.delete(name);
  };
  return {
    run(check, ctx) {
      const k = kind(check.type);
      if (check.connection === 'persistent' && k.session) return sessions.run(k, check, ctx);
      if (!k.session) return k.run(check.options, ctx);
      running.set(check.name, (running.get(check.name) ?? 0) + 1);
      version++;
      let work;
      try {
        work = k.run(check.options, ctx);
      } catch (error) {
        settled(check.name);
        throw error;
      }
      // The kind settles once it has released its sockets (after an abort too): until then they count.
      work.then(
        () => settled(check.name),
        () => settled(check.name),
      );
      return work;
    },
    componentTypeOf: (check) => kind(check.type).componentType,
    isPushed: (check) => kind(check.type).push !== undefined,
    judge: (check, result) => judge(check, kind(check.type), result),
    async prepare(checks) {
      await Promise.all([...new Set(checks.map((c) => c.type))].map((type) => kind(type).prepare?.(checks.filter((c) => c.type === type).map((c) => c.options))));
    },
    connections(check) {
      if (!kind(check.type).session) return undefined;
      return check.connection === 'persistent' ? sessions.connections(check.name) : (running.get(check.name) ?? 0);
    },
    release: (name) => sessions.release(name),
    closeAll: () => sessions.closeAll(),
    get connectionsVersion() {
      return version;
    },
  };
}
