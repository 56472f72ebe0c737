// What the agent knows: per check the latest result, consecutive counts and thresholded status;
// per group the verdict, by the rules in GROUP_RULES. Endpoints and metrics read this; nothing here
// dials out, and a query never changes what a later one answers.
import type { CheckResult, ComponentType, Measure, Observation } from './check.js';
import type { CheckConfig } from './config/types.js';
import type { FailureReason } from './errors.js';

export type HealthStatus = 'pass' | 'warn' | 'fail';

/** Why a check counts as failing though no attempt of it failed: no decision yet, or no recent result. */
export const AGENT_REASONS = ['pending', 'stale'] as const;
export type AgentReason = (typeof AGENT_REASONS)[number];
/** Why a whole group fails whatever its checks say. */
export type GroupReason = 'draining';

export interface CheckState {
  readonly config: CheckConfig;
  readonly componentType: ComponentType;
  /** Thresholded status; undefined until the first decision (pending). */
  readonly healthy: boolean | undefined;
  readonly last: CheckResult | undefined;
  /** The latest failed attempt's reason and message, kept while the check is failing. */
  readonly lastFailure: CheckResult | undefined;
  /** Why the latest passing attempt warns (a warnIf crossed), or undefined: a healthy check with it is `warn`. */
  readonly warning: string | undefined;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** Has passed at least once since it was added (startup semantics). */
  readonly hasPassed: boolean;
}

export interface Transition {
  readonly from: 'pending' | 'pass' | 'warn' | 'fail';
  readonly to: 'pass' | 'warn' | 'fail';
}

/** One check as seen by a group at a given time. */
export interface Entry {
  readonly state: CheckState;
  /** warn: passing (it counts as such everywhere), with a warning to read in `message`. */
  readonly status: 'pass' | 'warn' | 'fail';
  readonly reason?: FailureReason | AgentReason;
  readonly message?: string;
  readonly observation?: Observation;
  /** The numeric observations of the latest result, judged by the check's thresholds. */
  readonly measures?: readonly Measure[];
}

export interface Verdict {
  readonly status: HealthStatus;
  readonly entries: readonly Entry[];
  readonly reason?: GroupReason;
  /** What the group as a whole says to a reader, when its entries do not (e.g. no checks at all). */
  readonly output?: string;
  /** Until when (epoch ms) this verdict holds without a new result: the next staleness deadline. */
  readonly validUntil: number;
}

/** How a group turns its members into a verdict. Unset flags are false. */
export interface GroupRule {
  /** Every check is a member, whatever groups it declares. */
  readonly everyCheck?: boolean;
  /** When no check declares this group, the members of this other group count instead. */
  readonly fallbackTo?: string;
  /** A member with no decision yet passes. */
  readonly pendingPasses?: boolean;
  /** A member that has passed once counts as passing from then on. */
  readonly passedOnceCounts?: boolean;
  /** Once every critical member has passed (recorded, not when asked), the group passes for good. */
  readonly latches?: boolean;
  /** Fails with reason draining while the agent drains. */
  readonly failsWhileDraining?: boolean;
  /** With no checks configured at all, passes saying so. */
  readonly saysNoChecks?: boolean;
}

/** A group no built-in rule names: its critical members decide, and it gates traffic, so draining fails it. */
const DECLARED_GROUP: GroupRule = { failsWhileDraining: true, saysNoChecks: true };

/** The built-in groups. Any other group a check declares follows DECLARED_GROUP. */
export const GROUP_RULES = {
  // Liveness never depends on a dependency's lack of data, and keeps its meaning while draining:
  // restarting a pod that is shutting down helps nobody.
  live: { pendingPasses: true },
  ready: DECLARED_GROUP,
  // Kubernetes' startupProbe: once started, a pod is not started again; with no check declaring
  // startup, the ready checks say when the application has started.
  startup: { ...DECLARED_GROUP, fallbackTo: 'ready', passedOnceCounts: true, latches: true },
} as const satisfies Readonly<Record<string, GroupRule>>;

/** /health: the whole agent. It reports and gates nothing, so draining does not fail it. */
const EVERY_CHECK: GroupRule = { everyCheck: true, saysNoChecks: true };

const RULES: ReadonlyMap<string, GroupRule> = new Map(Object.entries(GROUP_RULES));
const BUILTIN_GROUPS = [...RULES.keys()];
const LATCHING_GROUPS = BUILTIN_GROUPS.filter((group) => RULES.get(group)!.latches);

const ruleOf = (group: string | undefined): GroupRule => (group === undefined ? EVERY_CHECK : (RULES.get(group) ?? DECLARED_GROUP));

export interface State {
  add(config: CheckConfig, componentType: ComponentType): void;
  /**
   * A new definition of an existing check (a reload changed it): its latest result, status and
   * counts stay until the new definition's first result, so a reload never blips readiness.
   */
  update(config: CheckConfig, componentType: ComponentType): void;
  remove(name: string): void;
  record(name: string, result: CheckResult): Transition | undefined;
  get(name: string): CheckState | undefined;
  /** Every group name any check counts toward, plus the built-in ones. */
  groups(): readonly string[];
  verdict(group: string | undefined, now: number): Verdict;
  /** The earliest time (epoch ms) a result of any check turns stale; Infinity when none can. */
  nextStaleAt(): number;
  /** Every group but live fails from now on (reason draining). */
  setDraining(): void;
  /** Changes on every record, add, remove and drain: a cache key for rendered bodies. */
  readonly version: number;
  /**
   * Changes when a verdict's status may have changed other than by time passing: a check's status
   * (pending, pass, warn, fail) or first pass recorded, a result ending before the one it replaces
   * (its staleness comes sooner), an add, remove or update, the drain. A result that changes only
   * details (latency, counts, an observation) leaves it as it is.
   */
  readonly statusVersion: number;
}

type MutableCheckState = { -readonly [K in keyof CheckState]: CheckState[K] };

/** A check's thresholded status: a failed attempt within failureThreshold keeps the latest pass's warning. */
function statusOf(check: CheckState): 'pending' | 'pass' | 'warn' | 'fail' {
  if (check.healthy === undefined) return 'pending';
  if (!check.healthy) return 'fail';
  return check.warning === undefined ? 'pass' : 'warn';
}

function successesNeeded(check: CheckState): string {
  return `${check.consecutiveSuccesses} of ${check.config.successThreshold} consecutive successes needed (successThreshold)`;
}

export function createState(): State {
  const checks = new Map<string, MutableCheckState>();
  let version = 0;
  let statusVersion = 0;
  /** Every group some check declares; undefined after a change of checks until asked again. */
  let declared: ReadonlySet<string> | undefined;
  let groupNames: readonly string[] | undefined;
  let isDraining = false;
  const latched = new Set<string>();

  const declaredGroups = (): ReadonlySet<string> => {
    if (!declared) {
      const names = new Set<string>();
      for (const check of checks.values()) for (const group of check.config.groups) names.add(group);
      declared = names;
    }
    return declared;
  };
  const checksChanged = () => {
    version++;
    statusVersion++;
    notPassedYet = undefined;
    declared = undefined;
    groupNames = undefined;
  };

  /** The group whose declared members count for `group` under its rule. */
  const memberGroupOf = (group: string, rule: GroupRule): string =>
    rule.fallbackTo === undefined || declaredGroups().has(group) ? group : rule.fallbackTo;

  /**
   * Per latching group, its critical members that have not passed yet: counted once after a change
   * of checks, then kept by record (a scan per first pass made a start of N checks cost N² steps).
   */
  let notPassedYet: Map<string, number> | undefined;
  const countNotPassed = (group: string, rule: GroupRule): number => {
    const members = memberGroupOf(group, rule);
    let count = 0;
    for (const check of checks.values()) if (check.config.critical && !check.hasPassed && check.config.groups.includes(members)) count++;
    return count;
  };
  /** Whether every critical member has passed at least once. */
  const criticalMembersPassed = (group: string, rule: GroupRule): boolean => {
    notPassedYet ??= new Map();
    let count = notPassedYet.get(group);
    if (count === undefined) notPassedYet.set(group, (count = countNotPassed(group, rule)));
    return count === 0;
  };
  /** A check's first pass: one fewer critical member to wait for in the latching groups it counts toward. */
  const firstPassed = (check: MutableCheckState) => {
    for (const group of LATCHING_GROUPS) {
      if (latched.has(group)) continue;
      const count = notPassedYet?.get(group);
      if (count !== undefined && check.config.critical && check.config.groups.includes(memberGroupOf(group, ruleOf(group)))) notPassedYet!.set(group, count - 1);
      if (criticalMembersPassed(group, ruleOf(group))) latched.add(group);
    }
  };

  /** When the check's latest result turns stale; Infinity before its first decision. */
  const staleAt = (check: MutableCheckState): number =>
    check.last && check.healthy !== undefined ? check.last.startedAt + check.last.durationMs + check.config.staleAfterMs : Infinity;

  const entryOf = (check: MutableCheckState, now: number): Entry => {
    const { last } = check;
    if (check.healthy === undefined || !last) {
      if (!last) return { state: check, status: 'fail', reason: 'pending', message: 'no result yet' };
      // Passing, but not yet successThreshold times in a row: still pending, and saying why.
      if (last.ok) return { state: check, status: 'fail', reason: 'pending', message: successesNeeded(check), observation: last.observation, measures: last.measures };
      return { state: check, status: 'fail', reason: last.reason, message: last.message, observation: last.observation, measures: last.measures };
    }
    if (now > staleAt(check)) {
      return { state: check, status: 'fail', reason: 'stale', message: `no result for more than ${check.config.staleAfterMs} ms`, observation: last.observation, measures: last.measures };
    }
    if (check.healthy) {
      if (check.warning !== undefined) return { state: check, status: 'warn', message: check.warning, observation: last.observation, measures: last.measures };
      return { state: check, status: 'pass', observation: last.observation, measures: last.measures };
    }
    const failure = check.lastFailure ?? last;
    // Recovering: it keeps failing with the failure's reason until successThreshold is reached.
    const message = last.ok ? `${failure.message ?? ''} (recovering: ${successesNeeded(check)})` : failure.message;
    return { state: check, status: 'fail', reason: failure.reason, message, observation: last.observation, measures: last.measures };
  };

  const entryUnder = (rule: GroupRule, check: MutableCheckState, now: number): Entry => {
    if (rule.passedOnceCounts && check.hasPassed) return { state: check, status: 'pass', observation: check.last?.observation, measures: check.last?.measures };
    const entry = entryOf(check, now);
    return rule.pendingPasses && entry.reason === 'pending' ? { ...entry, status: 'pass' } : entry;
  };

  const aggregate = (entries: readonly Entry[]): HealthStatus => {
    let status: HealthStatus = 'pass';
    for (const entry of entries) {
      if (entry.status === 'pass') continue;
      // A warning never fails a group, critical or not: the check passes, and says what to look at.
      if (entry.status === 'fail' && entry.state.config.critical) return 'fail';
      status = 'warn';
    }
    return status;
  };

  return {
    add(config, componentType) {
      checks.set(config.name, {
        config,
        componentType,
        healthy: undefined,
        last: undefined,
        lastFailure: undefined,
        warning: undefined,
        consecutiveSuccesses: 0,
        consecutiveFailures: 0,
        hasPassed: false,
      });
      checksChanged();
    },
    update(config, componentType) {
      const check = checks.get(config.name);
      if (!check) throw new Error(`no check ${config.name} to update`);
      check.config = config;
      check.componentType = componentType;
      checksChanged();
    },
    remove(name) {
      checks.delete(name);
      checksChanged();
    },
    record(name, result) {
      const check = checks.get(name);
      if (!check) return undefined;
      version++;
      const before = statusOf(check);
      const hadPassed = check.hasPassed;
      const staleBefore = staleAt(check);
      check.last = result;
      if (result.ok) {
        check.warning = result.warning;
        check.consecutiveSuccesses++;
        check.consecutiveFailures = 0;
        if (!check.hasPassed) {
          check.hasPassed = true;
          // Runs once per check: a first pass is the only result that can complete a latching group.
          firstPassed(check);
        }
        if (check.healthy !== true && check.consecutiveSuccesses >= check.config.successThreshold) {
          check.healthy = true;
          check.lastFailure = undefined;
        }
      } else {
        check.consecutiveFailures++;
        check.consecutiveSuccesses = 0;
        // Until a check has been decided healthy, its failures show at once: pending already fails.
        if (check.healthy !== true || check.consecutiveFailures >= check.config.failureThreshold) {
          check.healthy = false;
          check.lastFailure = result;
        }
      }
      const after = statusOf(check);
      // A result ending earlier than the one it replaces (the wall clock stepped back) brings the
      // check's staleness forward: a body rendered before may no longer hold as long as it says.
      if (before !== after || hadPassed !== check.hasPassed || staleAt(check) < staleBefore) statusVersion++;
      if (before === after || after === 'pending') return undefined;
      return { from: before, to: after };
    },
    get: (name) => checks.get(name),
    groups() {
      groupNames ??= [...new Set([...BUILTIN_GROUPS, ...declaredGroups()])];
      return groupNames;
    },
    verdict(group, now) {
      const rule = ruleOf(group);
      if (checks.size === 0 && rule.saysNoChecks && !isDraining) {
        return { status: 'pass', entries: [], output: 'no checks are configured', validUntil: Infinity };
      }
      const members = rule.everyCheck || group === undefined ? undefined : memberGroupOf(group, rule);
      const entries: Entry[] = [];
      let validUntil = Infinity;
      for (const check of checks.values()) {
        if (members !== undefined && !check.config.groups.includes(members)) continue;
        validUntil = Math.min(validUntil, staleAt(check));
        entries.push(entryUnder(rule, check, now));
      }
      if (isDraining && rule.failsWhileDraining) return { status: 'fail', entries, reason: 'draining', validUntil: Infinity };
      if (rule.latches && group !== undefined) {
        // Passed-once members do not go stale: only a new result or a change of members changes this.
        const hasStarted = latched.has(group) || criticalMembersPassed(group, rule);
        return { status: hasStarted ? 'pass' : 'fail', entries, validUntil: Infinity };
      }
      return { status: aggregate(entries), entries, validUntil };
    },
    nextStaleAt() {
      let at = Infinity;
      for (const check of checks.values()) at = Math.min(at, staleAt(check));
      return at;
    },
    setDraining() {
      isDraining = true;
      version++;
      statusVersion++;
    },
    get version() {
      return version;
    },
    get statusVersion() {
      return statusVersion;
    },
  };
}
