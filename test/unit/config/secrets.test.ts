import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { collectSecrets, isSecretName } from '../../../src/config/secrets.js';

// The schemes whose URLs name an identity by a lone user name, as the registry declares them.
const identitySchemes = kinds.filter((kind) => kind.urlUserIsIdentity).flatMap((kind) => kind.schemes);
const collect = (value: unknown) => {
  const into = new Set<string>();
  collectSecrets(value, into, identitySchemes);
  return [...into];
};

describe('what counts as a secret', () => {
  it('over-masking garbles logs: a name says secret by its parts, whatever the case', () => {
    const secret = ['PGPASSWORD', 'PG_PASSWORD', 'db_passwd', 'DB_PASS', 'MYSQL_PWD', 'API_KEY', 'apiKey', 'APIKEY', 'X-Api-Key', 'Authorization',
      'Proxy-Authorization', 'Cookie', 'GITHUB_TOKEN', 'X-Auth-Token', 'CLIENT_SECRET', 'AWS_SECRET_ACCESS_KEY', 'GOOGLE_APPLICATION_CREDENTIALS',
      'REGISTRY_AUTH', 'SSH_PRIVATE_KEY', 'sig', 'X-Amz-Signature', 'passphrase', 'JWT'];
    const plain = ['PGUSER', 'PG_HOST', 'PORT', 'MINOR', 'MONKEY', 'PASSENGER', 'AUTHOR', 'KEYSPACE', 'BYPASS_CACHE', 'host', 'url', 'type',
      'PG_PASSWORD_FILE', 'TOKEN_PATH', 'X-Request-Id', 'Accept', 'region'];
    for (const name of secret) expect(isSecretName(name), name).toBe(true);
    for (const name of plain) expect(isSecretName(name), name).toBe(false);
  });

  it('over-masking garbles logs: values of credential headers and of keys that say secret are secrets; other values are not', () => {
    expect(collect({ type: 'http', url: 'http://h/x', headers: { Authorization: 'Bearer abc.def', Cookie: 'sid=s1d-v4lue; theme=dark', 'X-Api-Key': 424242, Accept: 'application/json' } }).sort()).toEqual(
      ['Bearer abc.def', 'abc.def', 'sid=s1d-v4lue; theme=dark', 's1d-v4lue', 'dark', '424242'].sort(),
    );
    expect(collect({ type: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' })).toEqual([]);
  });

  it('username-only and percent-encoded secrets: a user name alone is a token, except a PostgreSQL role', () => {
    expect(collect('http://T0ken-42@h/x')).toContain('T0ken-42');
    expect(collect('https://a%20b@h/')).toEqual(expect.arrayContaining(['a%20b', 'a b']));
    expect(collect('postgres://postgres@h/db')).toEqual([]);
    expect(collect('postgresql://app@h/db')).toEqual([]);
    // Without the registry's word for it, a lone user name is a token in any scheme.
    const bare = new Set<string>();
    collectSecrets('postgres://app@h/db', bare);
    expect([...bare]).toEqual(['app']);
    // Beside a password, the user name is masked inside URLs only.
    expect(collect('redis://default:pw-value@h:6379')).toEqual(['pw-value']);
  });

  it('username-only and percent-encoded secrets: a password holding whitespace or "@" is recorded whole', () => {
    expect(collect('postgres://app:pa ss@w0rd@db:5432/app')).toContain('pa ss@w0rd');
    expect(collect('http://u:p%40ss%20x@h/')).toEqual(expect.arrayContaining(['p%40ss%20x', 'p@ss x']));
    // The password, and the Basic credential an http client makes of u:pw; nothing of the path.
    expect(collect('http://u:pw@h/path/@not-userinfo')).toEqual(['pw', Buffer.from('u:pw').toString('base64')]);
  });

  it('an http(s) URL with credentials: the Authorization: Basic value a client sends is a secret, as written and %-decoded', () => {
    const base64 = (text: string) => Buffer.from(text).toString('base64');
    expect(collect('https://app:p%40ss%20x@h/')).toEqual(expect.arrayContaining([base64('app:p@ss x'), base64('app:p%40ss%20x')]));
    // A token as the user name: sent as "token:".
    expect(collect('http://t0ken-value@h/')).toEqual(expect.arrayContaining([base64('t0ken-value:')]));
    // Other schemes send no Basic header.
    expect(collect('postgres://app:pw@db/app')).not.toContain(base64('app:pw'));
  });

  it('environment-only mode leaks secrets: query values whose keys say secret are secrets', () => {
    expect(collect('https://h/health?api_key=k3y-value&region=eu&access_token=a%2Bb#sig=x').sort()).toEqual(['a%2Bb', 'a+b', 'k3y-value'].sort());
  });
});
