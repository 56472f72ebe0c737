// What in a config is a secret: variables whose names say so, values marked ${secret:VAR}, secret
// files, URL credentials, and values whose keys say so (credential headers, query parameters).
// src/redact.ts masks them, and the user info and query values of every URL, in all output.

/** A name part containing one of these says secret: PGPASSWORD, DB_PASSWORD, clientSecret, GITHUB_TOKEN. */
const SECRET_WORDS = ['PASSWORD', 'PASSWD', 'PASSPHRASE', 'SECRET', 'TOKEN', 'CREDENTIAL', 'APIKEY', 'AUTHORIZATION'];
/** Short words say secret only as a whole part (DB_PASS, API_KEY, X-Auth-User), not inside another word (PASSENGER, MONKEY, AUTHOR). */
const SECRET_PARTS = ['PASS', 'PWD', 'KEY', 'AUTH', 'CREDS', 'COOKIE', 'SIG', 'SIGNATURE', 'JWT', 'BEARER', 'PRIVATE'];
/** TOKEN_FILE or KEY_PATH names where a secret is, not the secret. */
const LOCATION_PARTS = ['FILE', 'PATH'];

/**
 * Whether a variable, option key, header or query parameter name says its value is a secret. Parts are
 * separated by non-alphanumerics and camelCase; matching ignores case.
 */
export function isSecretName(name: string): boolean {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter(Boolean);
  if (parts.length === 0 || LOCATION_PARTS.includes(parts[parts.length - 1]!)) return false;
  return parts.some((part) => SECRET_PARTS.includes(part) || SECRET_WORDS.some((word) => part.includes(word)));
}

/**
 * Records the secrets found in a config value (a check block, as written): URL credentials and
 * secret-named query values in every string, and every value under a key whose name says secret
 * (`Authorization`, `X-Api-Key`). Numbers count as their text: a config error may show them.
 */
export function collectSecrets(value: unknown, into: Set<string>, identitySchemes: readonly string[] = [], key?: string): void {
  if (typeof value === 'string' || typeof value === 'number') {
    const text = String(value);
    if (key !== undefined && isSecretName(key)) for (const secret of credentialValue(key, text)) add(secret, into);
    for (const secret of urlSecrets(text, identitySchemes)) add(secret, into);
  } else if (Array.isArray(value)) {
    for (const item of value) collectSecrets(item, into, identitySchemes, key);
  } else if (value !== null && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) collectSecrets(item, into, identitySchemes, name);
  }
}

/** The value, and for `Authorization: Bearer x` the credential alone, for `Cookie: a=x; b=y` each cookie's value. */
function credentialValue(key: string, value: string): string[] {
  const found = [value];
  const scheme = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value);
  if (/authorization/i.test(key) && scheme) found.push(scheme[1]!);
  if (/cookie/i.test(key)) for (const pair of value.split(';')) found.push(pair.slice(pair.indexOf('=') + 1).trim());
  return found;
}

/**
 * Credentials in a URL as written, which may be less than valid: a password (raw and %-decoded; it may
 * hold spaces or "@": the user info ends at the last "@" before the path), a user name given without
 * a password (a token), and values of query parameters whose names say secret (api_key, token, sig).
 */
function urlSecrets(text: string, identitySchemes: readonly string[]): string[] {
  const scheme = /^\s*([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) return [];
  const rest = text.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#\\]/);
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
  const found: string[] = [];
  const basic: string[] = [];
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const password = colon === -1 ? '' : userinfo.slice(colon + 1);
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    if (password !== '') found.push(password);
    else if (user !== '' && !identitySchemes.includes(scheme[1]!.toLowerCase())) found.push(user);
    if (/^https?$/i.test(scheme[1]!) && (password !== '' || (user !== '' && !identitySchemes.includes(scheme[1]!.toLowerCase())))) {
      basic.push(...basicCredentials(user, password));
    }
  }
  const query = authorityEnd === -1 ? '' : rest.slice(authorityEnd).split('#')[0]!;
  const start = query.indexOf('?');
  if (start !== -1) {
    for (const pair of query.slice(start + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && isSecretName(decode(pair.slice(0, eq)))) found.push(pair.slice(eq + 1));
    }
  }
  return [...found.flatMap((secret) => [secret, decode(secret), decode(secret.replace(/\+/g, ' '))]), ...basic];
}

/**
 * The Authorization: Basic credential an http(s) client makes of a URL's user info, which an
 * upstream may echo back: base64 of `user:password`, as written and as Node sends it (each part
 * %-decoded, after the WHATWG URL parser has %-encoded what it does).
 */
function basicCredentials(user: string, password: string): string[] {
  const forms = new Set([`${user}:${password}`, `${decode(user)}:${decode(password)}`]);
  try {
    const parsed = new URL(`http://${user}:${password}@host/`);
    forms.add(`${decode(parsed.username)}:${decode(parsed.password)}`);
  } catch {
    // User info no URL parser accepts: no request is made with it, the written forms remain.
  }
  return [...forms].map((form) => Buffer.from(form, 'utf8').toString('base64'));
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // A malformed %-escape: the text as written is what there is to mask.
    return text;
  }
}

function add(secret: string, into: Set<string>): void {
  if (secret !== '') into.add(secret);
}
