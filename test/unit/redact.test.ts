import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../src/redact.js';

// Spaces, quotes, @, /, %, a backslash and non-ASCII: each encoder treats a different subset.
const CANARY = 'Cn21a w"x ü@/%\\ é\'Cn21z';

/** Every way the canary may show once a URL, JSON or a form has encoded it. */
function encodings(secret: string): string[] {
  const path = new URL(`http://h/status/${secret}`).pathname.slice('/status/'.length);
  const query = new URL(`http://h/p?token=${secret}`).search.slice('?token='.length);
  const fragment = new URL(`http://h/p#${secret}`).hash.slice(1);
  const user = new URL('http://h/');
  user.username = secret;
  const password = new URL('http://h/');
  password.password = secret;
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ t: secret }).toString().slice(2),
    path,
    query,
    fragment,
    user.username,
    password.password,
  ];
}

describe('redactor', () => {
  it('percent-encoded secrets: masks a secret verbatim and in every form a URL, JSON or a form encodes it', () => {
    const redact = createRedactor([CANARY]);
    const forms = encodings(CANARY);
    expect(new Set(forms).size).toBeGreaterThan(5);
    for (const form of forms) {
      const text = `before ${form} after`;
      expect(redact(text), form).toBe('before *** after');
    }
  });

  it('percent-encoded secrets: masks a secret inside a URL the URL class serialized', () => {
    const redact = createRedactor([CANARY]);
    const href = new URL(`http://127.0.0.1:8081/status/${CANARY}`).href;
    expect(redact(`GET ${href} answered 404`)).toBe('GET http://127.0.0.1:8081/status/*** answered 404');
  });

  it('environment-only mode leaks secrets: masks user info and query values of any URL, keeping host, port, path and keys', () => {
    const redact = createRedactor([]);
    expect(redact('GET http://T0k3n@api.internal:8080/v1/health?api_key=abc123&region=eu#x=1 answered 404')).toBe(
      'GET http://***@api.internal:8080/v1/health?api_key=***&region=***#x=*** answered 404',
    );
    expect(redact('redis://:pw@cache:6379/0 and postgres://app:p@ss@db:5432/app?sslmode=require')).toBe('redis://***@cache:6379/0 and postgres://***@db:5432/app?sslmode=***');
    expect(redact('"https://user:pw@h/p?token=t0k" must be a URL')).toBe('"https://***@h/p?token=***" must be a URL');
  });

  it('environment-only mode leaks secrets: leaves URLs without credentials or query values alone, and masking twice changes nothing', () => {
    const redact = createRedactor(['s3cret-value']);
    const plain = 'GET http://127.0.0.1:8081/health?verbose answered 503; see https://example.com/docs/a@b';
    expect(redact(plain)).toBe(plain);
    const once = redact('http://u:s3cret-value@h/x?k=v s3cret-value');
    expect(once).toBe('http://***@h/x?k=*** ***');
    expect(redact(once)).toBe(once);
  });

  it('over-masking garbles logs: values shorter than four characters are not masked verbatim', () => {
    const redact = createRedactor(['on', 'abc']);
    expect(redact('abc is on')).toBe('abc is on');
  });

  it('masks the start of a secret left just before a cut (…) or at the very end, from four characters on', () => {
    const redact = createRedactor(['canary-straddle-token-0123456789']);
    expect(redact('status is "xxxxcanary-strad… (40 more characters)"')).toBe('status is "xxxx***… (40 more characters)"');
    expect(redact('header x-echo is "canary-st… (9 more characters)", and canary-straddle-token-0123456789 too')).toBe('header x-echo is "***… (9 more characters)", and *** too');
    expect(redact('a message cut at canary-straddle-to')).toBe('a message cut at ***');
    // Three characters, or a start not at a cut, say nothing of the secret: left as they are.
    expect(redact('value "xxcan… (3 more characters)"')).toBe('value "xxcan… (3 more characters)"');
    expect(redact('canary-straddle is a word here, not cut')).toBe('canary-straddle is a word here, not cut');
    // In an encoded form too (JSON escapes).
    const quoted = createRedactor(['to"ken-secret-value']);
    expect(quoted(`value ${JSON.stringify('to"ken-sec').slice(0, -1)}… (9 more characters)`)).toBe('value "***… (9 more characters)');
  });

  it('a peer repeating a secret\'s start and cut marks costs little', () => {
    const redact = createRedactor(['canary-straddle-token-0123456789']);
    const hostile = 'canary-strad…'.repeat(5000);
    const started = performance.now();
    expect(redact(hostile)).toBe('***…'.repeat(5000));
    expect(performance.now() - started).toBeLessThan(200);
  });
});
