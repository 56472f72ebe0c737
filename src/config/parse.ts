// parseConfig: YAML text (and the environment) -> a validated, defaulted, frozen AgentConfig, or a
// ConfigError listing every problem with its key path and, where it has one, line and column.
import type { CheckKind } from '../check.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import { locate, nodePlace, readDocument, sortIssues, type ConfigDocument } from './document.js';
import { parseDuration, formatDuration } from './duration.js';
import { checksFromEnv, serverFromEnv } from './env.js';
import { interpolateDocument, NOTHING_INTERPOLATED, type InterpolatedPaths } from './interpolate.js';
import { collectSecrets } from './secrets.js';
import { MAX_CHECKS } from './limits.js';
import { createRedactor } from '../redact.js';
import { checkNamePattern, checkSchema, commonCheckShape, defaultsSchema, serverSchema } from './schema.js';
import type { AgentConfig, CheckConfig, DefaultsConfig, ServerConfig } from './types.js';
import { isRecord, show, validate, type Fail } from './validate.js';

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
  let interpolated: InterpolatedPaths = NOTHING_INTERPOLATED;
  let document: ConfigDocument | undefined;
  let raw: unknown = {};

  if (text !== undefined) {
    const read = readDocument(text);
    if (read.issues.length) throw new ConfigError(sortIssues(read.issues), options.source);
    document = read.document;
    const found = interpolateDocument(document.doc, { env, readFile }, (node, message) => issues.push({ path: '', message, ...nodePlace(read.document, node) }));
    for (const secret of found.secrets) secrets.add(secret);
    interpolated = found.paths;
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

function resolveCheck(
  name: string,
  block: unknown,
  kinds: readonly CheckKind[],
  defaults: DefaultsConfig | undefined,
  fail: Fail,
  warnings: string[],
  interpolated: InterpolatedPaths,
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

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
