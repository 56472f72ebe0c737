// The agent's error classes. Checks report failures as CheckError with a reason from a fixed set
// (the `reason` label of vigil_check_failures_total); configuration problems are collected into
// one ConfigError so every problem can be reported at once.

/** Why an attempt failed: a bounded set, safe as a metric label. */
export const FAILURE_REASONS = [
  'timeout',
  'connect_refused',
  'connect_timeout',
  'dns',
  'tls',
  'auth',
  'status_code',
  'body',
  'protocol',
  /** The dependency is up but what the check names is not there: an AMQP queue, a gRPC service. */
  'not_found',
  /** The dependency says it does not serve: gRPC health NOT_SERVING. */
  'not_serving',
  /** A TLS certificate has expired, is not yet valid, or expires within the check's failBefore. */
  'cert_expiry',
  /** The dependency answered, and what it answered fails a condition of the check's `expect`. */
  'assertion',
  /** Not attempted: a check it depends on (dependsOn) fails; the output names the root of that failure. */
  'dependency_failed',
  /** A heartbeat check received no beat within its ttl (or, at start, its grace). */
  'heartbeat_missed',
  /** A heartbeat reported a failure itself (POST /heartbeat/<check> with status fail). */
  'reported',
  /** An observation crossed one of the check's failIf thresholds (latency > 500ms, replicationLagSeconds > 30). */
  'threshold',
  'unknown',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export class AgentError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem in a configuration: where (a dotted key path and, from a file, line and column) and what. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export class ConfigError extends AgentError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], source?: string) {
    super('CONFIG_INVALID', formatIssues(issues, source));
    this.issues = issues;
  }
}

function formatIssue(issue: ConfigIssue, source?: string): string {
  const where = issue.line === undefined ? '' : `${source ?? 'line'}${source ? ':' : ' '}${issue.line}:${issue.column ?? 1}: `;
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${where}${path}${issue.message}`;
}

function formatIssues(issues: readonly ConfigIssue[], source?: string): string {
  const head = `invalid configuration${source ? ` in ${source}` : ''} (${issues.length} problem${issues.length === 1 ? '' : 's'})`;
  return [head, ...issues.map((i) => `  - ${formatIssue(i, source)}`)].join('\n');
}

/** A failed attempt: `reason` is for labels and tests, the message is for people. */
export class CheckError extends AgentError {
  readonly reason: FailureReason;
  /** What the attempt measured before it failed (a certificate's days left), reported with the failure. */
  readonly observation?: import('./check.js').Observation;
  constructor(reason: FailureReason, message: string, options?: { cause?: unknown; observation?: import('./check.js').Observation }) {
    super(`CHECK_${reason.toUpperCase()}`, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    if (options?.observation) this.observation = options.observation;
  }
}
