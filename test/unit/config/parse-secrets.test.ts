// parseConfig and the secrets it records; interpolated values and the types the schema wants.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { createRedactor } from '../../../src/redact.js';

const parse = (text: string, env: Record<string, string> = {}) => parseConfig(text, { kinds, env });

function errorOf(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the config to be rejected');
}

describe('secrets recorded by parseConfig', () => {
  it('over-masking garbles logs: a non-secret ${PGUSER}=postgres is not masked in "type":"postgres"', () => {
    const config = parse('checks:\n  db: {type: postgres, url: "postgres://${PGUSER}:${PGPASSWORD}@127.0.0.1:5432/${PGDATABASE}"}\n', {
      PGUSER: 'postgres',
      PGPASSWORD: 'pg-pass-value',
      PGDATABASE: 'test',
    });
    expect(config.secrets).toEqual(['pg-pass-value']);
    const lines: string[] = [];
    const log = createLogger({ redact: createRedactor(config.secrets), write: (line) => lines.push(line) });
    log.warn('check db fails', { check: 'db', type: 'postgres', output: 'postgres 127.0.0.1:5432/test refused the login: role "postgres" does not exist' });
    expect(lines[0]).toContain('"type":"postgres"');
    expect(lines[0]).toContain('role \\"postgres\\" does not exist');
    expect(lines[0]).toContain('postgres 127.0.0.1:5432/test');
  });

  it('over-masking garbles logs: secrets are what names, files, URL credentials, headers and ${secret:…} say', () => {
    const config = parseConfig(
      [
        'checks:',
        '  api:',
        '    type: http',
        '    url: "http://${API_HOST}/x/${API_TOKEN}?region=${REGION}"',
        '    headers: { X-Api-Key: "${KEY_VALUE}", Authorization: "Bearer ${BEARER_VALUE}", X-Tenant: "${secret:TENANT}", Accept: "${ACCEPT}" }',
        '  db: { type: postgres, url: "postgres://app:${DBPW}@db/app" }',
        '  cache: { type: redis, url: "redis://:${REDIS_PASSWORD}@cache:6379" }',
        '  search: { type: tcp, host: "${SEARCH_HOST}", port: 9200, timeout: "${TIMEOUT}" }',
      ].join('\n'),
      {
        kinds,
        env: {
          API_HOST: 'api.internal', API_TOKEN: 'tok-in-path', REGION: 'europe', KEY_VALUE: 'key-header', BEARER_VALUE: 'bearer-value', TENANT: 'tenant-x',
          ACCEPT: 'application/json', DBPW: 'db-pw-in-url', REDIS_PASSWORD_FILE: '/run/secrets/redis', SEARCH_HOST: 'search.internal', TIMEOUT: '500ms',
        },
        readFile: () => 'redis-from-file\n',
      },
    );
    expect([...config.secrets].sort()).toEqual(
      ['tok-in-path', 'key-header', 'Bearer bearer-value', 'bearer-value', 'tenant-x', 'db-pw-in-url', 'redis-from-file'].sort(),
    );
  });

  it('environment-only mode leaks secrets: tokens in VIGIL_CHECK_* URLs are secrets', () => {
    const config = parseConfig(undefined, {
      kinds,
      env: { VIGIL_CHECK_API: 'https://h/health?api_key=k3y-from-env&region=eu', VIGIL_CHECK_GH: 'https://t0ken-user@h/x', VIGIL_CHECK_DB: 'postgres://postgres@h/db' },
    });
    // The token user of an https URL also as the Basic credential a client makes of it ("t0ken-user:").
    expect([...config.secrets].sort()).toEqual([Buffer.from('t0ken-user:').toString('base64'), 'k3y-from-env', 't0ken-user'].sort());
  });
});

describe('interpolated values keep their type', () => {
  it('interpolated values are retyped: a numeric value substituted into a string field stays the exact string', () => {
    const config = parse('checks:\n  api:\n    type: http\n    url: http://h/\n    headers:\n      X-Api-Key: ${API_KEY}\n      X-Version: 1${MINOR}\n', {
      API_KEY: '00123456789012345678901',
      MINOR: '2',
    });
    expect(config.checks[0]!.options.headers).toEqual({ 'X-Api-Key': '00123456789012345678901', 'X-Version': '12' });
  });

  it('interpolated values are retyped: strings stay strings in server fields too; numbers and booleans are read where the schema wants them', () => {
    const config = parse('server:\n  port: ${PORT}\n  exposeDetails: ${DETAILS}\n  serviceId: ${ID}\n  description: ${DESC}\ndefaults:\n  failureThreshold: "${N}"\nchecks:\n  t: {type: tcp, host: h, port: "${TPORT}", critical: "${CRIT}"}\n', {
      PORT: '9999', DETAILS: 'false', ID: '12345', DESC: 'true', N: '3', TPORT: '6379', CRIT: 'false',
    });
    expect(config.server).toMatchObject({ port: 9999, exposeDetails: false, serviceId: '12345', description: 'true' });
    expect(config.defaults.failureThreshold).toBe(3);
    expect(config.checks[0]).toMatchObject({ critical: false, options: { host: 'h', port: 6379 } });
  });

  it('interpolated values are retyped: a value that is no plain number is refused as written, and a secret one masked', () => {
    const error = errorOf('server:\n  port: ${PORT}\nchecks:\n  t: {type: tcp, host: h, port: "${DB_PASSWORD}"}\n', { PORT: '09898', DB_PASSWORD: '0012345678901234567890' });
    expect(error.issues.map((i) => [i.path, i.message])).toEqual([
      ['server.port', '"09898" must be a number'],
      ['checks.t.port', '"***" must be a number'],
    ]);
    expect(error.message).not.toMatch(/12345678901234567/);
  });

  it('interpolated values are retyped: a literal in the file keeps YAML\'s typing', () => {
    const error = errorOf('checks:\n  api: {type: http, url: "http://h/", headers: {X-Api-Key: 12345678}}\n');
    expect(error.issues[0]).toMatchObject({ path: 'checks.api.headers.X-Api-Key', message: '*** must be a string' });
    expect(errorOf('server: {port: "9898"}\n').issues[0]).toMatchObject({ path: 'server.port', message: '"9898" must be a number' });
  });
});
