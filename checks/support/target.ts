// How a network kind names its dependency in messages: where it is (scheme, host, port, database),
// never who logs in or what the query string carries.
import { peerText } from './peer-text.js';

const MASK = '***';

/** `<label> host:port/path` for a URL, e.g. "postgres db:5432/app"; just the label if it does not parse. */
export function describeUrlTarget(label: string, url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || 'localhost';
    return `${label} ${host}:${parsed.port || defaultPort}${parsed.pathname.length > 1 ? parsed.pathname : ''}`;
  } catch {
    return label;
  }
}

/** A URL as shown in messages: user and password masked, query values masked, at most peerText's length. */
export function showUrl(href: string | URL): string {
  const url = new URL(href);
  if (url.username) url.username = MASK;
  if (url.password) url.password = MASK;
  for (const key of new Set(url.searchParams.keys())) url.searchParams.set(key, MASK);
  return peerText(url.href);
}

/**
 * What is wrong with a URL a network kind connects to, for its options schema, or undefined: a
 * scheme it does not serve, a port that is not a number from 1 to 65535, or anything else the URL
 * parser refuses. Caught at validation, it never becomes an attempt that fails with `unknown`.
 */
export function urlProblem(text: string, schemes: readonly string[]): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined || !schemes.includes(scheme)) return `must be a ${schemes.map((s) => `${s}://`).join(' or ')} URL`;
  const authority = text.slice(scheme.length + 3).split(/[/?#]/)[0]!;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const bracketed = /^\[[^\]]*\]/.exec(hostPort)?.[0];
  const rest = bracketed === undefined ? hostPort : hostPort.slice(bracketed.length);
  const port = hostPort.startsWith('[') && bracketed === undefined ? undefined : rest.includes(':') ? rest.slice(rest.indexOf(':') + 1) : undefined;
  if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    return `has port ${JSON.stringify(port)}: a port is a number from 1 to 65535`;
  }
  try {
    new URL(text);
  } catch {
    return 'is not a valid URL (check the host; percent-encode @, : and / in a user name or password)';
  }
  return undefined;
}
