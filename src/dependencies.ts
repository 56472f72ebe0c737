// dependsOn at run time: a check is not attempted while a check it depends on fails. It then fails
// itself with reason dependency_failed, naming the root of the failure (the dependency that fails
// for a reason of its own, not one that fails only because its own dependency does); while a
// dependency has no decision yet (or is not known yet), the attempt waits for it.
import type { CheckResult } from './check.js';
import type { ResultSubscriber } from './result-feed.js';
import type { CheckConfig } from './config/types.js';
import type { Gate } from './scheduler.js';
import type { CheckState, State } from './state.js';

/** How often a check waiting for an undecided dependency asks again, ms. */
export const DEPENDENCY_WAIT_MS = 100;

export function createDependencyGate(state: State, now: () => number = Date.now): Gate {
  /** The failing check at the root of `failing`'s failure. Validation guarantees no cycle. */
  const rootOf = (failing: CheckState): CheckState => {
    if (failing.lastFailure?.reason !== 'dependency_failed') return failing;
    for (const name of failing.config.dependsOn ?? []) {
      const dependency = state.get(name);
      if (dependency?.healthy === false) return rootOf(dependency);
    }
    return failing;
  };

  return (check: CheckConfig): CheckResult | number | undefined => {
    const dependsOn = check.dependsOn;
    if (dependsOn === undefined) return undefined;
    let isUndecided = false;
    for (const name of dependsOn) {
      const dependency = state.get(name);
      // Not known (yet): undecided, never absent, so the order checks are added in decides nothing.
      if (dependency === undefined) {
        isUndecided = true;
        continue;
      }
      if (dependency.healthy === false) {
        const root = rootOf(dependency);
        const reason = root.lastFailure?.reason ?? root.last?.reason ?? 'unknown';
        return { ok: false, startedAt: now(), durationMs: 0, reason: 'dependency_failed', message: `not attempted: ${root.config.name} fails (${reason})`, isHeldBack: true };
      }
      if (dependency.healthy === undefined) isUndecided = true;
    }
    return isUndecided ? DEPENDENCY_WAIT_MS : undefined;
  };
}

export interface DependencyWake extends ResultSubscriber {
  /** The checks as configured now (at start and on every reload, before any is fed). */
  configure(checks: readonly CheckConfig[]): void;
}

/**
 * Dependents hear of a dependency's status change at once, not at their own next attempt: when a
 * check's thresholded status turns fail, or turns pass (or warn) from fail, each check that depends
 * on it is woken to ask its gate again: it records dependency_failed without an attempt, or is
 * attempted. Their own transitions wake theirs in turn (transitively).
 */
export function createDependencyWake(wake: (name: string) => void): DependencyWake {
  let dependentsOf = new Map<string, string[]>();
  return {
    configure(checks) {
      const next = new Map<string, string[]>();
      for (const check of checks) {
        for (const name of check.dependsOn ?? []) {
          const list = next.get(name);
          if (list) list.push(check.name);
          else next.set(name, [check.name]);
        }
      }
      dependentsOf = next;
    },
    onResult(check, _result, transition) {
      if (transition === undefined || (transition.to !== 'fail' && transition.from !== 'fail')) return;
      const dependents = dependentsOf.get(check.name);
      if (dependents) for (let i = 0; i < dependents.length; i++) wake(dependents[i]!);
    },
  };
}
