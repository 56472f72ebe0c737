// dependsOn at run time: a check is not attempted while a check it depends on fails. It then fails
// itself with reason dependency_failed, naming the root of the failure (the dependency that fails
// for a reason of its own, not one that fails only because its own dependency does); while a
// dependency has no decision yet (or is not known yet), the attempt waits for it.
import type { CheckResult } from './check.js';
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
