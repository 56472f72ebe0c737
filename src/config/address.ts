// The address `vigil serve` listens on, from the sources serve reads (VIGIL_PORT and VIGIL_HOST,
// the file's server.port and server.host, the defaults) without validating the rest of the config:
// `vigil probe` must find a running agent even when its file has since gained a problem elsewhere
// (the agent refused that reload and runs on).
import { isMap, parseDocument } from 'yaml';
import { CONFIG_DEFAULTS } from './defaults.js';
import { serverFromEnv } from './env.js';
import { interpolate } from './interpolate.js';

export interface ListenAddressOptions {
  /** The config file; undefined for environment-only mode. */
  readonly path: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** Sources passed over and why, one sentence each. */
  readonly notes: readonly string[];
}

export function listenAddressOf({ path, env, readFile }: ListenAddressOptions): ListenAddress {
  const notes: string[] = [];
  const fromEnv = serverFromEnv(env).values;
  let fromFile: Record<string, unknown> = {};
  if (path !== undefined && (fromEnv.port === undefined || fromEnv.host === undefined)) {
    try {
      const doc = parseDocument(readFile(path));
      const server = isMap(doc.contents) ? doc.contents.get('server') : undefined;
      if (doc.errors.length) notes.push(`${path} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}): assuming the default address`);
      else if (isMap(server)) fromFile = server.toJSON() as Record<string, unknown>;
    } catch (error) {
      notes.push(`cannot read ${path} (${(error as { code?: string }).code ?? (error as Error).message}): assuming the default address`);
    }
  }
  const value = (key: 'port' | 'host', where: string, raw: unknown): string | undefined => {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'string') return String(raw);
    const { value: resolved, errors } = interpolate(raw, { env, readFile });
    if (errors.length) {
      notes.push(`${where}: ${errors[0]}: assuming the default ${key}`);
      return undefined;
    }
    return resolved;
  };
  const portOf = (where: string, raw: unknown): number | undefined => {
    const text = value('port', where, raw);
    if (text === undefined) return undefined;
    if (/^\d+$/.test(text) && Number(text) <= 65535) return Number(text);
    notes.push(`${where} ${JSON.stringify(text)} is not a port number: assuming the default port`);
    return undefined;
  };
  const port = portOf('VIGIL_PORT', fromEnv.port) ?? portOf(`${path}: server.port`, fromFile.port) ?? CONFIG_DEFAULTS.server.port.value;
  const host = value('host', 'VIGIL_HOST', fromEnv.host) ?? value('host', `${path}: server.host`, fromFile.host);
  return { host: host || CONFIG_DEFAULTS.server.host.value, port, notes };
}

/**
 * Where a local client reaches an agent listening on `host`: a wildcard listener (`::`, `0.0.0.0`)
 * accepts loopback in its families, so IPv4 first, then IPv6 (an IPv6-only host has no 127.0.0.1,
 * a dual-stack `::` accepts both); a specific address is dialled as it is.
 */
export function loopbackAddresses(host: string): string[] {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === '' || bare === '::' || bare === '0.0.0.0') return ['127.0.0.1', '::1'];
  return [bare];
}
