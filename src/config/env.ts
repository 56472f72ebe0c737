// Environment-only mode: VIGIL_CHECK_<NAME>=<url> declares a check whose type comes from the URL's
// scheme; VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL override server settings. Kubernetes' service
// links (variables it injects for every Service of the namespace) are never read as either.
import type { CheckKind } from '../check.js';
import type { ConfigIssue } from '../errors.js';

const PREFIX = 'VIGIL_CHECK_';

export interface EnvChecks {
  /** Raw check blocks keyed by (lower-cased) name: a Map, so a name such as "constructor" is only a name. */
  readonly checks: ReadonlyMap<string, Record<string, unknown>>;
  /** Which variable declared each check, for messages. */
  readonly origin: ReadonlyMap<string, string>;
  readonly issues: ConfigIssue[];
  readonly warnings: string[];
}

export function checksFromEnv(env: Readonly<Record<string, string | undefined>>, kinds: readonly CheckKind[]): EnvChecks {
  const checks = new Map<string, Record<string, unknown>>();
  const origin = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const links = new Map<string, string[]>();
  for (const variable of Object.keys(env).sort()) {
    if (!variable.startsWith(PREFIX)) continue;
    const service = serviceLinkOf(variable, env);
    if (service !== undefined) {
      links.set(service, [...(links.get(service) ?? []), variable]);
      continue;
    }
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
  const warnings = [...links].map(
    ([service, variables]) => `${variables.join(', ')} ignored: Kubernetes service links of the Service "${service}", not checks`,
  );
  return { checks, origin, issues, warnings };
}

export interface EnvServer {
  /** Raw server keys, validated later together with the file's. */
  readonly values: Record<string, unknown>;
  /** The variable behind each key: a problem with it names the variable, not a place in the file. */
  readonly origin: Readonly<Record<string, string>>;
  readonly warnings: string[];
}

/** Server settings given by VIGIL_PORT, VIGIL_HOST and VIGIL_LOG_LEVEL. */
export function serverFromEnv(env: Readonly<Record<string, string | undefined>>): EnvServer {
  const values: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  const warnings: string[] = [];
  const port = env.VIGIL_PORT;
  if (port && SERVICE_LINK_URL.test(port)) {
    // A Service named "vigil" sets VIGIL_PORT=tcp://<cluster IP>:<port> in every pod of its namespace.
    warnings.push(
      `VIGIL_PORT=${port} ignored: that is the Kubernetes service link of a Service named "vigil", not a port number (set server.port or --port, or enableServiceLinks: false in the pod spec)`,
    );
  } else if (port) {
    values.port = /^\d+$/.test(port) ? Number(port) : port;
    origin.port = 'VIGIL_PORT';
  }
  if (env.VIGIL_HOST) {
    values.host = env.VIGIL_HOST;
    origin.host = 'VIGIL_HOST';
  }
  if (env.VIGIL_LOG_LEVEL) {
    values.logLevel = env.VIGIL_LOG_LEVEL.toLowerCase();
    origin.logLevel = 'VIGIL_LOG_LEVEL';
  }
  return { values, origin, warnings };
}

/** <NAME>_PORT's value in a service link: tcp://10.96.0.12:9898. */
const SERVICE_LINK_URL = /^(tcp|udp|sctp):\/\/[^/\s]+:\d+$/i;

/**
 * Kubernetes injects, for every Service of the namespace, <NAME>_SERVICE_HOST, <NAME>_SERVICE_PORT,
 * <NAME>_SERVICE_PORT_<PORT NAME>, <NAME>_PORT and <NAME>_PORT_<PORT>_<PROTO>[_PROTO|_PORT|_ADDR]:
 * a Service named vigil-check-db sets VIGIL_CHECK_DB_PORT=tcp://…. Such a variable is a link when
 * its Service's <NAME>_SERVICE_HOST is set too; returns the Service's name.
 */
function serviceLinkOf(variable: string, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const match = /^(.+?)_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)?)$/.exec(variable);
  if (!match || !env[`${match[1]}_SERVICE_HOST`]) return undefined;
  return match[1]!.toLowerCase().replaceAll('_', '-');
}
