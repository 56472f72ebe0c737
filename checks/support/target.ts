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
