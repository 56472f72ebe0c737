// parseConfig: YAML text (and the environment) -> a validated, defaulted, frozen AgentConfig, or a
// ConfigError listing every problem with its key path and, where it has one, line and column.
import { isPair, isScalar, isSeq, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { CheckKind } from '../check.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { locate, nodePlace, readDocument, sortIssues, type ConfigDocument } from './document.js';
import { parseDuration, formatDuration } from './duration.js';
import { checksFromEnv, serverFromEnv } from './env.js';
import { interpolate } from './interpolate.js';
import { collectSecrets } from './secrets.js';
import { MAX_CHECKS } from './limits.js';
import { createRedactor } from '../redact.js';
import { checkNamePattern, checkSchema, commonCheckShape, defaultsSchema, serverSchema } from './schema.js';
import type { AgentConfig, CheckConfig, DefaultsConfig, ServerConfig } from './types.js';

export interface ParseOptions {
  readonly kinds: readonly CheckKind[];
  /** For ${VAR}, VIGIL_CHECK_* and the VIGIL_* overrides; default none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads VAR_FILE secret files. */
  readonly readFile?: (path: string) => string;
  /** The file name, for messages. */
  readonly source?: string;
}

const { server: SERVER, defaults: DEFAULTS, check: CHECK } = CONFIG_DEFAULTS;

const TOP_KEYS = ['server', 'defaults', 'checks'];

/** Parse and validate a config; text undefined means environment-only mode. */
export function parseConfig(text: string | undefined, options: ParseOptions): AgentConfig {
  const env = options.env ?? {};
  const readSecretFile = options.readFile ?? (() => {
    throw new Error('secret files are not available here');
  });
  // Every file read, so the agent can watch them all.
  const files = new Set<string>();
  const readFile = (path: string) => {
    files.add(path);
    return readSecretFile(path);
  };
  const issues: ConfigIssue[] = [];
  const secrets = new Set<string>();
  /** Key paths of values that came from ${…}: only these may be read as numbers or booleans. */
  const interpolated = new Set<string>();
  let document: ConfigDocument | undefined;
  let raw: unknown = {};

  if (text !== undefined) {
    const read = readDocument(text);
    if (read.issues.length) throw new ConfigError(sortIssues(read.issues), options.source);
    document = read.document;
    interpolateDocument(document.doc, { env, readFile }, secrets, interpolated, (node, message) => {
      issues.push({ path: '', message, ...nodePlace(read.document, node) });
    });
    // yamlProblems bounded what aliases expand to.
    raw = document.doc.toJS({ maxAliasCount: -1 }) ?? {};
  }

  const fail: Fail = (path, message, key, atKey = false) =>
    issues.push({ path: [...path, ...(key === undefined ? [] : [key])].join('.'), message, ...(document ? locate(document, path, key, atKey) : {}) });

  if (!isRecord(raw)) {
    fail([], `the top level must be a map with ${TOP_KEYS.join(', ')}`);
    throw new ConfigError(issues, options.source);
  }
  for (const key of Object.keys(raw)) if (!TOP_KEYS.includes(key)) fail([], `unknown key (known: ${TOP_KEYS.join(', ')})`, key, true);

  // server: file, then VIGIL_* overrides; a bad override names its variable, not a place in the file.
  const rawServer = raw.server ?? {};
  const serverEnv = serverFromEnv(env);
  const serverInput = isRecord(rawServer) ? { ...rawServer, ...serverEnv.values } : rawServer;
  const server = validate(
    serverSchema,
    serverInput,
    ['server'],
    (path, message, key, atKey) =>
      path.length === 1 && key !== undefined && Object.hasOwn(serverEnv.origin, key) ? issues.push({ path: serverEnv.origin[key]!, message }) : fail(path, message, key, atKey),
    interpolated,
  );
  const defaults = validate(defaultsSchema, raw.defaults ?? {}, ['defaults'], fail, interpolated);
  if (server?.detailsTokenFile !== undefined) {
    // Read now, as the agent will: a token file that cannot be read is a config error, not a surprise later.
    try {
      readFile(server.detailsTokenFile);
    } catch (error) {
      const why = (error as { code?: string }).code ?? (error as Error).message;
      fail(['server'], `cannot read ${show(server.detailsTokenFile)}: ${why}`, 'detailsTokenFile');
    }
  }

  const resolvedServer: ServerConfig | undefined = server && {
    host: server.host ?? SERVER.host.value,
    port: server.port ?? SERVER.port.value,
    maxConnections: server.maxConnections ?? SERVER.maxConnections.value,
    drainDelayMs: parseDuration(server.drainDelay ?? SERVER.drainDelay.value, { allowZero: true })!,
    drainMode: server.drainMode ?? SERVER.drainMode.value,
    exposeDetails: server.exposeDetails ?? SERVER.exposeDetails.value,
    trustLoopback: server.trustLoopback ?? SERVER.trustLoopback.value,
    ...(server.detailsTokenFile === undefined ? {} : { detailsTokenFile: server.detailsTokenFile }),
    serviceId: server.serviceId ?? SERVER.serviceId.value(),
    description: server.description ?? SERVER.description.value,
    logLevel: server.logLevel ?? SERVER.logLevel.value,
  };
  const resolvedDefaults: DefaultsConfig | undefined = defaults && {
    intervalMs: parseDuration(defaults.interval ?? DEFAULTS.interval.value)!,
    timeoutMs: parseDuration(defaults.timeout ?? DEFAULTS.timeout.value)!,
    failureThreshold: defaults.failureThreshold ?? DEFAULTS.failureThreshold.value,
    successThreshold: defaults.successThreshold ?? DEFAULTS.successThreshold.value,
  };
  // Equal is fine (as Prometheus allows scrape_timeout == scrape_interval): attempts never overlap.
  if (resolvedDefaults && resolvedDefaults.timeoutMs > resolvedDefaults.intervalMs) {
    fail(['defaults'], `${formatDuration(resolvedDefaults.timeoutMs)} must not be longer than defaults.interval (${formatDuration(resolvedDefaults.intervalMs)})`, 'timeout');
  }

  // checks: the file's map, merged with VIGIL_CHECK_* (a name in both is an error).
  const fileChecks = raw.checks ?? {};
  if (!isRecord(fileChecks)) fail([], 'must be a map of check name to check', 'checks');
  const fromEnv = checksFromEnv(env, options.kinds);
  issues.push(...fromEnv.issues);
  const entries: [string, unknown][] = isRecord(fileChecks) ? Object.entries(fileChecks) : [];
  for (const [name, block] of fromEnv.checks) {
    if (isRecord(fileChecks) && Object.hasOwn(fileChecks, name)) {
      fail(['checks'], `declared in the file and by ${fromEnv.origin.get(name)}`, name);
    } else entries.push([name, block]);
  }
  // Before validation: an error message may show a value.
  for (const [, block] of entries) collectSecrets(block, secrets);
  for (const [variable, url] of Object.entries(env)) if (variable.startsWith('VIGIL_CHECK_')) collectSecrets(url, secrets);
  const isTooMany = entries.length > MAX_CHECKS;
  if (isTooMany) fail([], `${entries.length} checks, more than the limit of ${MAX_CHECKS} for one agent`, 'checks');
  if (text === undefined && entries.length === 0) {
    issues.push({ path: '', message: 'no checks: pass --config FILE, set VIGIL_CONFIG, or declare VIGIL_CHECK_<NAME>=<url>' });
  }

  const warnings: string[] = [...serverEnv.warnings, ...fromEnv.warnings];
  const checks: CheckConfig[] = [];
  for (const [name, block] of isTooMany ? [] : entries) {
    const envVar = fromEnv.origin.get(name);
    // A check from the environment has no place in the file: name its variable instead.
    const failCheck = envVar
      ? (_path: readonly (string | number)[], message: string, key?: string) =>
          issues.push({ path: `${envVar}${key ? ` (${key})` : ''}`, message })
      : fail;
    const check = resolveCheck(name, block, options.kinds, resolvedDefaults, failCheck, warnings, interpolated);
    if (check) checks.push(check);
  }

  if (entries.length === 0) warnings.push('no checks are configured: every health group passes with nothing to check');
  if (issues.length) {
    // A bad value may have come from a secret: issues are printed, so scrub them like everything else.
    const redact = createRedactor([...secrets]);
    throw new ConfigError(sortIssues(issues).map((i) => ({ ...i, message: redact(i.message) })), options.source);
  }
  return deepFreeze({
    server: resolvedServer!,
    defaults: resolvedDefaults!,
    checks,
    secrets: [...secrets].sort((a, b) => b.length - a.length),
    warnings,
    files: [...files],
  });
}

/** Reports an issue at path.key; atKey points at the key itself (an unknown key), else at its value. */
type Fail = (path: readonly (string | number)[], message: string, key?: string, atKey?: boolean) => void;

function resolveCheck(
  name: string,
  block: unknown,
  kinds: readonly CheckKind[],
  defaults: DefaultsConfig | undefined,
  fail: Fail,
  warnings: string[],
  interpolated: ReadonlySet<string>,
): CheckConfig | undefined {
  const path = ['checks', name];
  if (!checkNamePattern.test(name)) fail(['checks'], 'a check name must start with a letter or digit and hold only letters, digits, ".", "-" and "_"', name, true);
  if (!isRecord(block)) {
    fail(path, 'must be a map with at least a type');
    return undefined;
  }
  const known = kinds.map((k) => k.type).join(', ');
  if (block.type === undefined) {
    fail(path, `missing type (one of ${known})`, 'type');
    return undefined;
  }
  const kind = kinds.find((k) => k.type === block.type);
  if (!kind) {
    fail(path, `${show(block.type)} is not a known type (known: ${known})`, 'type');
    return undefined;
  }
  const parsed = validate(checkSchema(kind), block, path, fail, interpolated);
  if (!parsed || !defaults) return undefined;

  const intervalMs = parsed.interval === undefined ? defaults.intervalMs : parseDuration(parsed.interval)!;
  let timeoutMs = parsed.timeout === undefined ? defaults.timeoutMs : parseDuration(parsed.timeout)!;
  if (timeoutMs > intervalMs) {
    if (parsed.timeout !== undefined) {
      fail(path, `${parsed.timeout} must not be longer than interval (${formatDuration(intervalMs)})`, 'timeout');
      return undefined;
    }
    // Only a default conflicts with this check's own interval: clamp rather than refuse.
    timeoutMs = Math.max(1, Math.floor(intervalMs / 2));
    warnings.push(`checks.${name}.timeout: the default ${formatDuration(defaults.timeoutMs)} is longer than interval ${formatDuration(intervalMs)}; using ${formatDuration(timeoutMs)}`);
  }
  const staleAfterMs = parsed.staleAfter === undefined ? intervalMs * CHECK.staleAfter.value : parseDuration(parsed.staleAfter)!;
  if (staleAfterMs <= intervalMs) {
    fail(path, `${parsed.staleAfter ?? formatDuration(staleAfterMs)} must be longer than interval (${formatDuration(intervalMs)})`, 'staleAfter');
    return undefined;
  }
  const groups = [...new Set(parsed.groups ?? CHECK.groups.value)];
  if (groups.includes('live')) {
    warnings.push(`checks.${name} joins the live group: while it fails, /health/live fails and an orchestrator restarts the pod`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key !== 'type' && !Object.hasOwn(commonCheckShape, key)) options[key] = value;
  }
  return {
    name,
    type: kind.type,
    intervalMs,
    timeoutMs,
    staleAfterMs,
    critical: parsed.critical ?? CHECK.critical.value,
    groups,
    failureThreshold: parsed.failureThreshold ?? defaults.failureThreshold,
    successThreshold: parsed.successThreshold ?? defaults.successThreshold,
    options,
  };
}

function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: readonly (string | number)[],
  fail: Fail,
  interpolated: ReadonlySet<string> = new Set(),
): z.output<S> | undefined {
  let result = schema.safeParse(value, { reportInput: true });
  if (!result.success && coerceInterpolated(value, path, result.error.issues, interpolated)) result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const at = [...path, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fail(at, 'unknown key', key, true);
    } else {
      const key = at.length > path.length ? String(at.pop()) : undefined;
      fail(at, describeIssue(issue), key);
    }
  }
  return undefined;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type':
      return input === undefined ? `is required (${issue.expected})` : `${show(input)} must be ${article(issue.expected)}`;
    case 'too_small':
      return `${show(input)} must be at least ${issue.minimum}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big':
      return `${show(input)} must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `${show(input)} must be one of ${issue.values.map((v) => show(v)).join(', ')}`;
    default:
      return `${show(input)} ${issue.message}`;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'a whole number';
  if (expected === 'record' || expected === 'object') return 'a map';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a map';
  return String(value);
}

function interpolateDocument(
  doc: Document,
  source: { env: Readonly<Record<string, string | undefined>>; readFile: (path: string) => string },
  secrets: Set<string>,
  interpolated: Set<string>,
  report: (node: Node, message: string) => void,
): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const result = interpolate(node.value, source);
      for (const message of result.errors) report(node, message);
      for (const secret of result.secrets) secrets.add(secret);
      // The exact string, never retyped here: validation reads it as a number or boolean only where
      // the schema wants one (`port: ${PORT}`), so a numeric API key stays the string it is.
      if (result.value !== node.value) interpolated.add(keyPath([...ancestors, node]));
      node.value = result.value;
    },
  });
}

/** The key path of the last node of a chain of YAML nodes, as validation issues name it. */
function keyPath(chain: readonly unknown[]): string {
  const keys: string[] = [];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    if (isPair(parent) && parent.value === chain[i]) keys.push(String(isScalar(parent.key) ? parent.key.value : parent.key));
    else if (isSeq(parent)) keys.push(String(parent.items.indexOf(chain[i])));
  }
  return keys.join('\0');
}

/**
 * Where the schema wants a number or a boolean and got a string from ${…}, reads it as one; only a
 * number written canonically (9898, not 09898 or 1e3), so a message about it shows the exact text,
 * which the redactor recognises. Returns whether anything changed.
 */
function coerceInterpolated(value: unknown, path: readonly (string | number)[], issues: readonly z.core.$ZodIssue[], interpolated: ReadonlySet<string>): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      for (const branch of issue.errors) {
        const nested = branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
        changed = coerceInterpolated(value, path, nested, interpolated) || changed;
      }
      continue;
    }
    if (issue.code !== 'invalid_type' || !['number', 'int', 'boolean'].includes(issue.expected)) continue;
    if (issue.path.length === 0 || !interpolated.has([...path, ...issue.path].map(String).join('\0'))) continue;
    let parent: unknown = value;
    for (const segment of issue.path.slice(0, -1)) parent = (parent as Record<PropertyKey, unknown> | undefined)?.[segment];
    const leaf = issue.path[issue.path.length - 1]!;
    const text = (parent as Record<PropertyKey, unknown> | undefined)?.[leaf];
    const read = typeof text === 'string' ? readAs(issue.expected, text) : undefined;
    if (read === undefined) continue;
    (parent as Record<PropertyKey, unknown>)[leaf] = read;
    changed = true;
  }
  return changed;
}

function readAs(expected: string, text: string): number | boolean | undefined {
  if (expected === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  return /^-?\d+(\.\d+)?$/.test(text) && String(Number(text)) === text ? Number(text) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
