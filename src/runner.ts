// Dispatch from a configured check to its kind: the one place that maps `type` to the kind's
// run, componentType and driver loading, for the agent and the one-shot `vigil check` alike.
import type { CheckKind, CheckResult, ComponentType } from './check.js';
import { judge } from './observations.js';
import { checkKinds } from './kinds.js';
import type { CheckConfig } from './config/types.js';
import type { RunCheck } from './scheduler.js';

export interface Runner {
  readonly run: RunCheck;
  componentTypeOf(check: CheckConfig): ComponentType;
  /** Its results are pushed to the agent (a heartbeat): nothing polls it. */
  isPushed(check: CheckConfig): boolean;
  /** The attempt's result judged by the check's thresholds, its numeric observations listed (observations.ts). */
  judge(check: CheckConfig, result: CheckResult): CheckResult;
  /** Loads the drivers of the types these checks use, once, before their first attempts. */
  prepare(checks: readonly CheckConfig[]): Promise<void>;
}

export function createRunner(kinds: readonly CheckKind[]): Runner {
  const kindOf = new Map(checkKinds(kinds).map((kind) => [kind.type, kind]));
  // Validation guarantees every configured type is known.
  const kind = (type: string) => kindOf.get(type)!;
  return {
    run: (check, ctx) => kind(check.type).run(check.options, ctx),
    componentTypeOf: (check) => kind(check.type).componentType,
    isPushed: (check) => kind(check.type).push !== undefined,
    judge: (check, result) => judge(check, kind(check.type), result),
    async prepare(checks) {
      await Promise.all([...new Set(checks.map((c) => c.type))].map((type) => kind(type).prepare?.(checks.filter((c) => c.type === type).map((c) => c.options))));
    },
  };
}
