import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';

const parse = (text: string, env: Record<string, string> = {}) => parseConfig(text, { kinds, env });

function issuesOf(text: string, env: Record<string, string> = {}): readonly ConfigIssue[] {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}

describe('parseConfig', () => {
  it('accepts config.example.yaml and fills every default', () => {
    const config = parse(readFileSync('config.example.yaml', 'utf8'));
    expect(config.server.port).toBe(9898);
    expect(config.server.drainDelayMs).toBe(5000);
    const db = config.checks.find((c) => c.name === 'db')!;
    expect(db).toMatchObject({ type: 'postgres', intervalMs: 5000, timeoutMs: 1000, staleAfterMs: 15000, critical: true, groups: ['ready'] });
    expect(db.options).toEqual({ url: 'postgres://postgres@127.0.0.1:5432/test', query: 'SELECT 1' });
    const cache = config.checks.find((c) => c.name === 'cache')!;
    expect(cache).toMatchObject({ intervalMs: 10000, timeoutMs: 2000, failureThreshold: 1, successThreshold: 1, critical: false });
    expect(Object.isFrozen(config) && Object.isFrozen(config.checks[0]) && Object.isFrozen(db.options)).toBe(true);
  });

  it('takes checks as a map keyed by name, in file order', () => {
    const config = parse('checks:\n  b: {type: tcp, host: h, port: 1}\n  a: {type: tcp, host: h, port: 2}\n');
    expect(config.checks.map((c) => c.name)).toEqual(['b', 'a']);
  });

  it('reports the first line with a YAML syntax error, not the parser\'s recovery after it', () => {
    const issues = issuesOf('checks:\n  cache: { type: redis, url: ${REDIS_URL} }\n  web: { type: http, url: "http://x/" }\n  db: { type: postgress }\n', { REDIS_URL: 'redis://h:6379' });
    expect(issues.map((i) => [i.line, i.message])).toEqual([
      [2, 'YAML: an unquoted ${…} inside a { } flow map opens a nested map there; quote the value: key: "${VAR}"'],
      [3, expect.stringMatching(/^YAML: \d+ more problems from here on, which may follow from the one above: fix it and validate again$/)],
    ]);
  });

  it('names the key path and line of an unknown key', () => {
    const issues = issuesOf('server:\n  port: 9898\n  prot: 1\n');
    expect(issues).toEqual([{ path: 'server.prot', message: 'unknown key', line: 3, column: 3 }]);
  });

  it('lists the known types for an unknown type', () => {
    const [issue] = issuesOf('checks:\n  q:\n    type: kafka\n');
    expect(issue).toMatchObject({ path: 'checks.q.type', line: 3 });
    expect(issue!.message).toBe(`"kafka" is not a known type (known: ${kinds.map((k) => k.type).join(', ')})`);
  });

  it('refuses an explicit timeout longer than the interval', () => {
    const [issue] = issuesOf('checks:\n  db:\n    type: tcp\n    host: h\n    port: 1\n    interval: 1s\n    timeout: 1001ms\n');
    expect(issue).toMatchObject({ path: 'checks.db.timeout', line: 7, message: '1001ms must not be longer than interval (1s)' });
    expect(issuesOf('defaults: {interval: 5s, timeout: 6s}\n')[0]).toMatchObject({ path: 'defaults.timeout', message: '6s must not be longer than defaults.interval (5s)' });
  });

  it('timeout may equal interval, for a check and for the defaults (as Prometheus allows scrape_timeout == scrape_interval)', () => {
    const config = parse('defaults: {interval: 2s, timeout: 2s}\nchecks:\n  a: {type: tcp, host: h, port: 1, interval: 1s, timeout: 1s}\n  b: {type: tcp, host: h, port: 1}\n  c: {type: tcp, host: h, port: 1, interval: 2s}\n');
    expect(config.defaults).toMatchObject({ intervalMs: 2000, timeoutMs: 2000 });
    expect(config.checks.map((c) => [c.name, c.intervalMs, c.timeoutMs])).toEqual([['a', 1000, 1000], ['b', 2000, 2000], ['c', 2000, 2000]]);
    expect(config.warnings).toEqual([]);
  });

  it('clamps a default timeout longer than a short interval, and says so', () => {
    const config = parse('checks:\n  db: {type: tcp, host: h, port: 1, interval: 1s}\n');
    expect(config.checks[0]!.timeoutMs).toBe(500);
    expect(config.warnings.join('\n')).toContain('checks.db.timeout: the default 2s is longer than interval 1s; using 500ms');
  });

  it('reports every problem at once, in line order', () => {
    const issues = issuesOf(
      [
        'server:',
        '  port: 70000',
        'defaults:',
        '  interval: soon',
        'checks:',
        '  a: {type: nope}',
        '  b: {type: http, url: ftp://x}',
        '  c: {type: redis, url: "redis://h", extra: 1}',
      ].join('\n'),
    );
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['server.port', 2],
      ['defaults.interval', 4],
      ['checks.a.type', 6],
      ['checks.b.url', 7],
      ['checks.c.extra', 8],
    ]);
    expect(issues[0]!.message).toBe('70000 must be at most 65535');
    expect(issues[1]!.message).toBe('"soon" must be a duration such as 250ms, 2s, 1m or 1m30s');
  });

  it('parses durations in ms, s, m, h and combinations', () => {
    const config = parse('defaults: {interval: 1m30s, timeout: 250ms}\nchecks:\n  a: {type: tcp, host: h, port: 1, staleAfter: 1h}\n');
    expect(config.checks[0]).toMatchObject({ intervalMs: 90_000, timeoutMs: 250, staleAfterMs: 3_600_000 });
  });

  it('rejects a bare number as a duration', () => {
    expect(issuesOf('defaults: {interval: 10}\n')[0]).toMatchObject({ path: 'defaults.interval', message: '10 has no unit: write it as a duration such as 250ms, 2s, 1m or 1m30s' });
  });

  it('validates each type\'s own options', () => {
    const issues = issuesOf('checks:\n  u:\n    type: http\n    url: http://x\n    expect: {status: [200, "2xx"]}\n');
    expect(issues[0]).toMatchObject({ path: 'checks.u.expect.status.1', line: 5 });
  });

  it('reads ${VAR} from the environment and keeps plain scalars typed', () => {
    const config = parse('server:\n  port: ${PORT}\nchecks:\n  db: {type: postgres, url: "postgres://app:${PW}@h/app"}\n', { PORT: '9999', PW: 's3cret-pw' });
    expect(config.server.port).toBe(9999);
    expect(config.checks[0]!.options.url).toBe('postgres://app:s3cret-pw@h/app');
    expect(config.secrets).toContain('s3cret-pw');
  });

  it('names the variable and the line of an unset reference', () => {
    const [issue] = issuesOf('checks:\n  db: {type: postgres, url: "postgres://${NOPE}@h/app"}\n');
    expect(issue!.line).toBe(2);
    expect(issue!.message).toContain('NOPE is not set');
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(issuesOf('checks:\n  a: {type: tcp\n')[0]!.line).toBeGreaterThanOrEqual(2);
    const [dup] = issuesOf('checks:\n  a: {type: tcp, host: h, port: 1}\n  a: {type: tcp, host: h, port: 2}\n');
    expect(dup).toMatchObject({ line: 3 });
    expect(dup!.message).toMatch(/unique|duplicate/i);
  });

  it('declares checks from VIGIL_CHECK_* alone, the type from the scheme', () => {
    const config = parseConfig(undefined, {
      kinds,
      env: { VIGIL_CHECK_DB: 'postgresql://u:pw12345@h/db', VIGIL_CHECK_CACHE: 'rediss://h:6380', VIGIL_CHECK_API: 'https://h/x', VIGIL_CHECK_ES: 'tcp://h:9200', VIGIL_PORT: '8080' },
    });
    expect(config.checks.map((c) => [c.name, c.type]).sort()).toEqual([['api', 'http'], ['cache', 'redis'], ['db', 'postgres'], ['es', 'tcp']]);
    expect(config.checks.find((c) => c.name === 'es')!.options).toEqual({ host: 'h', port: 9200 });
    expect(config.server.port).toBe(8080);
    expect(config.secrets).toContain('pw12345');
  });

  it('refuses a check declared both in the file and in the environment', () => {
    const [issue] = issuesOf('checks:\n  db: {type: tcp, host: h, port: 1}\n', { VIGIL_CHECK_DB: 'tcp://h:2' });
    expect(issue).toMatchObject({ path: 'checks.db', message: 'declared in the file and by VIGIL_CHECK_DB' });
  });

  it('refuses to run with nothing declared', () => {
    expect(() => parseConfig(undefined, { kinds, env: {} })).toThrow(/no checks/);
  });
});

describe('validate refuses what can never pass: an unreadable server.detailsTokenFile', () => {
  it('an unreadable server.detailsTokenFile is an error naming the key and the reason', () => {
    const refuse = (path: string) => {
      throw Object.assign(new Error(`cannot open ${path}`), { code: 'ENOENT' });
    };
    const issues = issuesWith('server:\n  exposeDetails: false\n  detailsTokenFile: /run/secrets/missing\n', refuse);
    expect(issues).toEqual([{ path: 'server.detailsTokenFile', message: 'cannot read "/run/secrets/missing": ENOENT', line: 3, column: 21 }]);
    const config = parseConfig('server:\n  exposeDetails: false\n  detailsTokenFile: /run/secrets/token\nchecks:\n  a: {type: tcp, host: h, port: 1}\n', { kinds, readFile: () => 'tok\n' });
    expect(config.server.detailsTokenFile).toBe('/run/secrets/token');
    expect(config.files).toEqual(['/run/secrets/token']);
  });
});

function issuesWith(text: string, readFile: (path: string) => string): readonly ConfigIssue[] {
  try {
    parseConfig(text, { kinds, readFile });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}
