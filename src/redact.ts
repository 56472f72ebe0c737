// Secrets never leave: every string the agent prints or serves passes through a redactor built from
// the config's secrets (values from the environment or files, URL passwords).

export type Redact = (text: string) => string;

/** Shorter values are not masked verbatim: masking "1" or "on" would garble every message. */
const MIN_SECRET_LENGTH = 4;
const MASK = '***';
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*:)[^@/\s]*@/gi;

export function createRedactor(secrets: readonly string[]): Redact {
  const masked = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  const pattern = masked.length ? new RegExp(masked.map(escapeRegExp).join('|'), 'g') : undefined;
  return (text) => {
    const withoutPasswords = text.replace(URL_USERINFO, `$1${MASK}@`);
    return pattern ? withoutPasswords.replace(pattern, MASK) : withoutPasswords;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
