// What the agent knows: per check the latest result, consecutive counts and thresholded status;
// per group the aggregated verdict. Endpoints and metrics read this; nothing here dials out.
import type { CheckResult, ComponentType, Observation } from './check.js';
import type { CheckConfig } from './config/types.js';

export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface CheckState {
  readonly config: CheckConfig;
  readonly componentType: ComponentType;
  /** Thresholded status; undefined until the first decision (pending). */
  readonly healthy: boolean | undefined;
  readonly last: CheckResult | undefined;
  /** The latest failed attempt's reason and message, kept while the check is failing. */
  readonly lastFailure: CheckResult | undefined;
  readonly consecutiveSuccesses: number;
  readonly consecutiveFailures: number;
  /** Has passed at least once since it was added (startup semantics). */
  readonly hasPassed: boolean;
}

export interface Transition {
  readonly from: 'pending' | 'pass' | 'fail';
  readonly to: 'pass' | 'fail';
}

/** One check as seen by a group at a given time. */
export interface Entry {
  readonly state: CheckState;
  readonly status: 'pass' | 'fail';
  /** A failure reason, or the agent's own: pending, stale. */
  readonly reason?: string;
  readonly message?: string;
  readonly observation?: Observation;
}

export interface Verdict {
  readonly status: HealthStatus;
  readonly entries: readonly Entry[];
  /** A reason for the group as a whole (e.g. draining). */
  readonly reason?: string;
  /** What the group as a whole says to a reader, when its entries do not (e.g. no checks at all). */
  readonly output?: string;
  /** Until when (epoch ms) this verdict holds without a new result: the next staleness deadline. */
  readonly validUntil: number;
}

const BUILTIN_GROUPS = ['live', 'ready', 'startup'] as const;

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
}

type MutableCheckState = { -readonly [K in keyof CheckState]: CheckState[K] };

function successesNeeded(check: CheckState): string {
  return `${check.consecutiveSuccesses} of ${check.config.successThreshold} consecutive successes needed (successThreshold)`;
}

export function createState(): State {
  const checks = new Map<string, MutableCheckState>();
  let version = 0;
  let groupNames: readonly string[] | undefined;
  let isDraining = false;
  let startupDone = false;

  const membersOf = (group: string): MutableCheckState[] => {
    const all = [...checks.values()];
    if (group !== 'startup' || all.some((c) => c.config.groups.includes('startup'))) {
      return all.filter((c) => c.config.groups.includes(group));
    }
    return all.filter((c) => c.config.groups.includes('ready'));
  };

  /** When the check's latest result turns stale; Infinity before its first decision. */
  const staleAt = (check: MutableCheckState): number =>
    check.last && check.healthy !== undefined ? check.last.startedAt + check.last.durationMs + check.config.staleAfterMs : Infinity;

  const entryOf = (check: MutableCheckState, now: number): Entry => {
    const { last } = check;
    if (check.healthy === undefined || !last) {
      if (!last) return { state: check, status: 'fail', reason: 'pending', message: 'no result yet' };
      // Passing, but not yet successThreshold times in a row: still pending, and saying why.
      if (last.ok) return { state: check, status: 'fail', reason: 'pending', message: successesNeeded(check), observation: last.observation };
      return { state: check, status: 'fail', reason: last.reason, message: last.message, observation: last.observation };
    }
    if (now > staleAt(check)) {
      return { state: check, status: 'fail', reason: 'stale', message: `no result for more than ${check.config.staleAfterMs} ms`, observation: last.observation };
    }
    if (check.healthy) return { state: check, status: 'pass', observation: last.observation };
    const failure = check.lastFailure ?? last;
    // Recovering: it keeps failing with the failure's reason until successThreshold is reached.
    const message = last.ok ? `${failure.message ?? ''} (recovering: ${successesNeeded(check)})` : failure.message;
    return { state: check, status: 'fail', reason: failure.reason, message, observation: last.observation };
  };

  const aggregate = (entries: readonly Entry[]): HealthStatus => {
    let status: HealthStatus = 'pass';
    for (const entry of entries) {
      if (entry.status === 'pass') continue;
      if (entry.state.config.critical) return 'fail';
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
        consecutiveSuccesses: 0,
        consecutiveFailures: 0,
        hasPassed: false,
      });
      version++;
      groupNames = undefined;
    },
    update(config, componentType) {
      const check = checks.get(config.name);
      if (!check) throw new Error(`no check ${config.name} to update`);
      check.config = config;
      check.componentType = componentType;
      version++;
      groupNames = undefined;
    },
    remove(name) {
      checks.delete(name);
      version++;
      groupNames = undefined;
    },
    record(name, result) {
      const check = checks.get(name);
      if (!check) return undefined;
      version++;
      const before = check.healthy;
      check.last = result;
      if (result.ok) {
        check.consecutiveSuccesses++;
        check.consecutiveFailures = 0;
        check.hasPassed = true;
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
      if (before === check.healthy) return undefined;
      return { from: before === undefined ? 'pending' : before ? 'pass' : 'fail', to: check.healthy ? 'pass' : 'fail' };
    },
    get: (name) => checks.get(name),
    groups() {
      if (!groupNames) {
        const names = new Set<string>(BUILTIN_GROUPS);
        for (const check of checks.values()) for (const group of check.config.groups) names.add(group);
        groupNames = [...names];
      }
      return groupNames;
    },
    verdict(group, now) {
      if (checks.size === 0 && group !== 'live' && !isDraining) {
        return { status: 'pass', entries: [], output: 'no checks are configured', validUntil: Infinity };
      }
      const members = group === undefined ? [...checks.values()] : membersOf(group);
      const entries: Entry[] = [];
      let validUntil = Infinity;
      for (const check of members) {
        validUntil = Math.min(validUntil, staleAt(check));
        if (group === 'startup' && check.hasPassed) {
          // startupProbe semantics: a member that passed once counts as passed for startup.
          entries.push({ state: check, status: 'pass', observation: check.last?.observation });
          continue;
        }
        const entry = entryOf(check, now);
        // Liveness never fails for lack of data: a live check that has not answered yet passes.
        entries.push(group === 'live' && entry.reason === 'pending' ? { ...entry, status: 'pass' } : entry);
      }
      // A draining agent is going away: every group that gates traffic or start-up says so; only
      // liveness keeps its meaning (restarting a pod that is shutting down helps nobody).
      if (isDraining && group !== undefined && group !== 'live') return { status: 'fail', entries, reason: 'draining', validUntil: Infinity };
      if (group === 'startup') {
        // Once every critical member has passed once, startup stays passed.
        startupDone ||= aggregate(entries) !== 'fail';
        return { status: startupDone ? 'pass' : 'fail', entries, validUntil: Infinity };
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
    },
    get version() {
      return version;
    },
  };
}
