// parseConfig: YAML text (and the environment) -> a validated, defaulted, frozen AgentConfig, or a
// ConfigError listing every problem with its key path and, where it has one, line and column. This
// module gathers the sources (file, VIGIL_* variables, secret files); the parts do the rest.
import type { CheckKind } from '../check.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { checkKinds } from '../kinds.js';
import { createRedactor } from '../redact.js';
import { locate, nodePlace, readDocument, sortIssues, type ConfigDocument } from './document.js';
import { checksFromEnv, serverFromEnv } from './env.js';
import { deepFreeze } from './freeze.js';
import { interpolateDocument, NOTHING_INTERPOLATED, type InterpolatedPaths } from './interpolate.js';
import { MAX_CHECKS } from './limits.js';
import { resolveCheck, resolveDefaults, resolveServer } from './resolve.js';
import { checkNamePattern, defaultsSchema, serverSchema } from './schema.js';
import { collectSecrets } from './secrets.js';
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

const TOP_KEYS = ['server', 'defaults', 'checks'];

/** Parse and validate a config; text undefined means environment-only mode. */
export function parseConfig(text: string | undefined, options: ParseOptions): AgentConfig {
  checkKinds(options.kinds);
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
  // Read token files now, as the agent will: one that cannot be read is a config error, not a surprise later.
  const readToken = (path: readonly string[], key: string, file: string, { mustHoldToken }: { mustHoldToken: boolean }) => {
    try {
      const token = readFile(file);
      // A token file that turned out empty would open nothing: for heartbeats, refuse it outright.
      if (mustHoldToken && token.trim() === '') fail(path, `${show(file)} is empty: it must hold the bearer token`, key);
    } catch (error) {
      const why = (error as { code?: string }).code ?? (error as Error).message;
      fail(path, `cannot read ${show(file)}: ${why}`, key);
    }
  };
  if (server?.detailsTokenFile !== undefined) readToken(['server'], 'detailsTokenFile', server.detailsTokenFile, { mustHoldToken: false });
  if (server?.heartbeatTokenFile !== undefined) readToken(['server'], 'heartbeatTokenFile', server.heartbeatTokenFile, { mustHoldToken: true });
  const resolvedServer: ServerConfig | undefined = server && resolveServer(server);
  const resolvedDefaults: DefaultsConfig | undefined = defaults && resolveDefaults(defaults, fail);

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
  const identitySchemes = options.kinds.filter((kind) => kind.urlUserIsIdentity).flatMap((kind) => kind.schemes);
  for (const [, block] of entries) collectSecrets(block, secrets, identitySchemes);
  for (const [variable, url] of Object.entries(env)) if (variable.startsWith('VIGIL_CHECK_')) collectSecrets(url, secrets, identitySchemes);
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
    const failCheck: Fail = envVar ? (_path, message, key) => issues.push({ path: `${envVar}${key ? ` (${key})` : ''}`, message }) : fail;
    const check = resolveCheck(name, block, { kinds: options.kinds, defaults: resolvedDefaults, fail: failCheck, warnings, interpolated });
    if (!check) continue;
    checks.push(check);
    const push = options.kinds.find((kind) => kind.type === check.type)?.push;
    for (const file of push?.files?.(check.options) ?? []) readToken(['checks', name], file.key, file.path, { mustHoldToken: true });
  }

  if (!isTooMany) checkDependencies(entries, options.kinds, fail);
  // A default no check can use: most likely `connection: persistent` was meant too.
  if (resolvedDefaults && resolvedDefaults.reconnectEvery > 0 && checks.length > 0 && !checks.some((check) => check.connection === 'persistent')) {
    warnings.push(`defaults.reconnectEvery: ${resolvedDefaults.reconnectEvery} applies to connection: persistent only, and no check keeps a connection (defaults.connection is ${resolvedDefaults.connection})`);
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

/**
 * dependsOn names declared checks, not the check itself, and makes no cycle. Read from every
 * declared block as written, whatever other problems it or the defaults have: `validate` reports
 * every problem at once. A dependsOn that is not a list of names is its schema's to report.
 */
function checkDependencies(entries: readonly [string, unknown][], kinds: readonly CheckKind[], fail: Fail): void {
  const declared = new Set(entries.map(([name]) => name));
  const edges = new Map<string, readonly string[]>();
  // A pushed check (a heartbeat) may not have dependsOn at all: its own rules say so.
  const isPushed = (block: Record<string, unknown>) => kinds.some((kind) => kind.type === block.type && kind.push !== undefined);
  for (const [name, block] of entries) {
    const given = isRecord(block) && !isPushed(block) ? block.dependsOn : undefined;
    const dependsOn = Array.isArray(given) ? [...new Set(given.filter((item): item is string => typeof item === 'string' && checkNamePattern.test(item)))] : [];
    dependsOn.forEach((dependency) => {
      const path = ['checks', name, 'dependsOn'];
      const index = String((given as unknown[]).indexOf(dependency));
      if (dependency === name) fail(path, `${show(dependency)}: a check cannot depend on itself`, index);
      else if (!declared.has(dependency)) fail(path, `${show(dependency)} is not a declared check`, index);
    });
    edges.set(name, dependsOn.filter((dependency) => dependency !== name && declared.has(dependency)));
  }
  // Depth-first, each check once: a back edge closes a cycle, reported once at its first check.
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (name: string): void => {
    if (done.has(name)) return;
    const at = onPath.indexOf(name);
    if (at !== -1) {
      const cycle = [...onPath.slice(at), name];
      fail(['checks', cycle[0]!], `a cycle of dependencies: ${cycle.join(' → ')}`, 'dependsOn');
      return;
    }
    onPath.push(name);
    for (const dependency of edges.get(name) ?? []) visit(dependency);
    onPath.pop();
    done.add(name);
  };
  for (const name of edges.keys()) visit(name);
}

