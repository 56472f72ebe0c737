// Environment-only mode: VIGIL_CHECK_<NAME>=<url> declares a check whose type comes from the URL's
// scheme; VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL override server settings.
import type { CheckKind } from '../check.js';
import type { ConfigIssue } from '../errors.js';

const PREFIX = 'VIGIL_CHECK_';

export interface EnvChecks {
  /** Raw check blocks keyed by (lower-cased) name: a Map, so a name such as "constructor" is only a name. */
  readonly checks: ReadonlyMap<string, Record<string, unknown>>;
  /** Which variable declared each check, for messages. */
  readonly origin: ReadonlyMap<string, string>;
  readonly issues: ConfigIssue[];
}

export function checksFromEnv(env: Readonly<Record<string, string | undefined>>, kinds: readonly CheckKind[]): EnvChecks {
  const checks = new Map<string, Record<string, unknown>>();
  const origin = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX)) continue;
    const url = env[variable]!;
    const name = variable.slice(PREFIX.length).toLowerCase();
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    const kind = kinds.find((k) => scheme !== undefined && k.schemes.includes(scheme));
    if (!kind) {
      const known = kinds.flatMap((k) => k.schemes.map((s) => `${s}://`)).join(', ');
      issues.push({ path: variable, message: `the URL must start with one of ${known}` });
      continue;
    }
    if (name === '' || checks.has(name)) {
      issues.push({ path: variable, message: name === '' ? 'names no check' : `declares check "${name}" twice` });
      continue;
    }
    let block: Record<string, unknown>;
    try {
      block = { type: kind.type, ...(kind.fromUrl ? kind.fromUrl(url) : { url }) };
    } catch {
      // The value may hold a password: say what is wrong, not what it is.
      issues.push({ path: variable, message: `is not a valid ${kind.type} URL (check the host, the port and any characters that need %-encoding)` });
      continue;
    }
    checks.set(name, block);
    origin.set(name, variable);
  }
  return { checks, origin, issues };
}

/** Server settings given by VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL (raw, validated later). */
export function serverFromEnv(env: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const server: Record<string, unknown> = {};
  if (env.VIGIL_PORT) server.port = /^\d+$/.test(env.VIGIL_PORT) ? Number(env.VIGIL_PORT) : env.VIGIL_PORT;
  if (env.VIGIL_HOST) server.host = env.VIGIL_HOST;
  if (env.VIGIL_LOG_LEVEL) server.logLevel = env.VIGIL_LOG_LEVEL.toLowerCase();
  return server;
}
