// Secrets never leave: every string the agent prints or serves passes through a redactor. It masks
// the config's secrets (config/secrets.ts says which) verbatim and in every encoded form a URL, JSON
// or a form gives them, and in any URL the user info and the query values.

import { CUT_MARK } from './output.js';

export type Redact = (text: string) => string;

/** Shorter values are not masked verbatim: masking "1" or "on" would garble every message. */
const MIN_SECRET_LENGTH = 4;
const MASK = '***';
/** scheme://authority path ?query#fragment, as URLs appear in messages (up to whitespace). */
const URL_IN_TEXT = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)([^\s?#]*)([?#]\S*)?/gi;
/** key=value in a query or fragment: the key stays readable, the value goes. */
const PARAM_VALUE = /([?&#][^=&#\s"'<>]*=)[^&#\s"'<>]+/g;

export function createRedactor(secrets: readonly string[]): Redact {
  const forms = new Set<string>();
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH) for (const form of encodedForms(secret)) forms.add(form);
  const masked = [...forms].sort((a, b) => b.length - a.length);
  const pattern = masked.length ? new RegExp(masked.map(escapeRegExp).join('|'), 'g') : undefined;
  return (text) => maskUrls(pattern ? maskCutTails(text.replace(pattern, MASK), masked) : text);
}

/**
 * Masks what remains of a secret that a check cut short before the core could mask it: a check
 * quoting a peer's value (a JSON value, a header) cuts it at CUT_MARK without knowing the secrets,
 * so the text just before each CUT_MARK, and at the very end, that is the start of a secret (at
 * least MIN_SECRET_LENGTH characters of it) is masked.
 */
function maskCutTails(text: string, forms: readonly string[]): string {
  const ranges: [number, number][] = [];
  for (const form of forms) {
    // Every such tail starts with the form's first MIN_SECRET_LENGTH characters: found by indexOf.
    const head = form.slice(0, MIN_SECRET_LENGTH);
    for (let at = text.indexOf(head); at !== -1; at = text.indexOf(head, at + 1)) {
      let length = MIN_SECRET_LENGTH;
      while (length < form.length - 1 && at + length < text.length && text.charCodeAt(at + length) === form.charCodeAt(length)) length++;
      const end = at + length;
      if (end === text.length || text.startsWith(CUT_MARK, end)) ranges.push([at, end]);
    }
  }
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  let result = '';
  let done = 0;
  for (const [start, end] of ranges) {
    if (end <= done) continue;
    result += `${text.slice(done, Math.max(start, done))}${start >= done ? MASK : ''}`;
    done = end;
  }
  return result + text.slice(done);
}

/** Masks the user info (user and password) and the query and fragment values of every URL in text. */
function maskUrls(text: string): string {
  // Most strings (names, types, messages) hold no URL: no regular expression scan for them.
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, (_url, scheme: string, authority: string, path: string, params: string | undefined) => {
    const at = authority.lastIndexOf('@');
    const host = at === -1 ? authority : `${MASK}@${authority.slice(at + 1)}`;
    return `${scheme}${host}${path}${params === undefined ? '' : params.replace(PARAM_VALUE, `$1${MASK}`)}`;
  });
}

/**
 * The secret as written and as it shows once encoded: JSON string escapes, encodeURIComponent and
 * encodeURI, a form body, and what the WHATWG URL serializer makes of it in user info, path, query
 * and fragment (each encodes a different set of characters).
 */
function encodedForms(secret: string): string[] {
  const forms = [secret, JSON.stringify(secret).slice(1, -1)];
  const url = new URL('http://host/');
  const encoders: (() => string)[] = [
    () => encodeURIComponent(secret),
    () => encodeURI(secret),
    () => new URLSearchParams([['', secret]]).toString().slice(1),
    () => ((url.username = secret), url.username),
    () => ((url.password = secret), url.password),
    () => ((url.pathname = `/${secret}`), url.pathname.slice(1)),
    () => ((url.search = `?${secret}`), url.search.slice(1)),
    () => ((url.hash = `#${secret}`), url.hash.slice(1)),
  ];
  for (const encode of encoders) {
    try {
      forms.push(encode());
    } catch {
      // encodeURI throws on a lone surrogate: the other forms still cover it.
    }
  }
  return forms.filter((form) => form !== '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
