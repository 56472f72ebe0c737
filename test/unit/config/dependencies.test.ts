// intervalWhenFailing and dependsOn in the config: what they resolve to, and every way to get them
// wrong reported with its place.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';
import { withBuiltins } from '../../../src/kinds.js';

const parse = (text: string) => parseConfig(text, { kinds });

function issuesOf(text: string): readonly ConfigIssue[] {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}
const placed = (issues: readonly ConfigIssue[]) => issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);

describe('intervalWhenFailing', () => {
  it('resolves per check and from defaults; unset means the interval', () => {
    const config = parse(
      [
        'defaults: { interval: 10s, timeout: 500ms, intervalWhenFailing: 2s }',
        'checks:',
        '  a: { type: tcp, host: h, port: 1 }',
        '  b: { type: tcp, host: h, port: 1, interval: 30s, intervalWhenFailing: 1s }',
        '  c: { type: tcp, host: h, port: 1, interval: 1s }',
        '',
      ].join('\n'),
    );
    expect(config.defaults.intervalWhenFailingMs).toBe(2000);
    expect(config.checks.map((c) => [c.name, c.intervalWhenFailingMs])).toEqual([
      ['a', 2000],
      ['b', 1000],
      // Inherited and longer than this check's own interval: it keeps its interval while failing.
      ['c', undefined],
    ]);
    expect(parse('checks:\n  a: { type: tcp, host: h, port: 1 }\n').checks[0]!.intervalWhenFailingMs).toBeUndefined();
  });

  it('an inherited timeout longer than a check\'s intervalWhenFailing is clamped, with a warning', () => {
    const config = parse('checks:\n  a: { type: tcp, host: h, port: 1, interval: 30s, intervalWhenFailing: 1s }\n');
    expect(config.checks[0]).toMatchObject({ timeoutMs: 500, intervalWhenFailingMs: 1000 });
    expect(config.warnings).toContain('checks.a.timeout: the default 2s is longer than intervalWhenFailing 1s; using 500ms');
  });

  it('an inherited intervalWhenFailing shorter than a check\'s own timeout gives way to the timeout', () => {
    const config = parse('defaults: { intervalWhenFailing: 2s }\nchecks:\n  a: { type: tcp, host: h, port: 1, timeout: 5s }\n');
    expect(config.checks[0]).toMatchObject({ timeoutMs: 5000, intervalWhenFailingMs: 5000 });
  });

  it('is a config error when longer than interval, or shorter than an explicit timeout, with its place', () => {
    expect(placed(issuesOf('checks:\n  a: { type: tcp, host: h, port: 1, interval: 5s, intervalWhenFailing: 10s }\n'))).toEqual([
      '2:72 checks.a.intervalWhenFailing: 10s must not be longer than interval (5s)',
    ]);
    expect(placed(issuesOf('checks:\n  a: { type: tcp, host: h, port: 1, timeout: 3s, intervalWhenFailing: 1s }\n'))).toEqual([
      '2:46 checks.a.timeout: 3s must not be longer than intervalWhenFailing (1s)',
    ]);
    expect(placed(issuesOf('defaults:\n  intervalWhenFailing: 1m\n'))).toEqual(['2:24 defaults.intervalWhenFailing: 1m must not be longer than defaults.interval (10s)']);
    expect(placed(issuesOf('defaults:\n  intervalWhenFailing: 1s\n'))).toEqual(['2:24 defaults.intervalWhenFailing: 1s must not be shorter than defaults.timeout (2s)']);
    expect(placed(issuesOf('checks:\n  a: { type: tcp, host: h, port: 1, intervalWhenFailing: soon }\n'))).toEqual([
      '2:58 checks.a.intervalWhenFailing: "soon" must be a duration such as 250ms, 2s, 1m or 1m30s',
    ]);
  });
});

describe('dependsOn', () => {
  it('resolves to the names, duplicates once; unset or empty means none', () => {
    const config = parse('checks:\n  db: { type: tcp, host: h, port: 1 }\n  api: { type: tcp, host: h, port: 2, dependsOn: [db, db] }\n  x: { type: tcp, host: h, port: 3, dependsOn: [] }\n');
    expect(config.checks.map((c) => c.dependsOn)).toEqual([undefined, ['db'], undefined]);
  });

  it('names declared checks only, never itself: each offending name reported with line:column', () => {
    const text = ['checks:', '  db: { type: tcp, host: h, port: 1 }', '  api:', '    type: tcp', '    host: h', '    port: 2', '    dependsOn: [db, dns, api]', ''].join('\n');
    expect(placed(issuesOf(text))).toEqual([
      '7:21 checks.api.dependsOn.1: "dns" is not a declared check',
      '7:26 checks.api.dependsOn.2: "api": a check cannot depend on itself',
    ]);
  });

  it('a dependency on a check with problems of its own is not reported again', () => {
    expect(placed(issuesOf('checks:\n  db: { type: tcp, host: h, port: 99999 }\n  api: { type: tcp, host: h, port: 2, dependsOn: [db] }\n'))).toEqual([
      '2:35 checks.db.port: 99999 must be at most 65535',
    ]);
  });

  it('a cycle is a config error naming the whole cycle, at the dependsOn of its first check', () => {
    const text = [
      'checks:',
      '  a: { type: tcp, host: h, port: 1, dependsOn: [b] }',
      '  b: { type: tcp, host: h, port: 1, dependsOn: [c] }',
      '  c: { type: tcp, host: h, port: 1, dependsOn: [a] }',
      '  d: { type: tcp, host: h, port: 1, dependsOn: [a] }',
      '',
    ].join('\n');
    expect(placed(issuesOf(text))).toEqual(['2:48 checks.a.dependsOn: a cycle of dependencies: a → b → c → a']);
  });

  it('a name that is not a check name is a schema error', () => {
    expect(placed(issuesOf('checks:\n  a: { type: tcp, host: h, port: 1, dependsOn: ["no way"] }\n'))).toEqual([
      '2:49 checks.a.dependsOn.0: "no way" must be the name of a check',
    ]);
  });
});

describe('every problem at once', () => {
  it('reports dependsOn cycles, unknown names and a heartbeat polling key even when the defaults are invalid', () => {
    const text = [
      'defaults: { timeout: 2 seconds }',
      'checks:',
      '  a: { type: tcp, host: h, port: 1, dependsOn: [b] }',
      '  b: { type: tcp, host: h, port: 1, dependsOn: [a, zz] }',
      '  beat: { type: heartbeat, ttl: 10s, interval: 5s }',
      '',
    ].join('\n');
    const issues = (() => {
      try {
        parseConfig(text, { kinds: withBuiltins(kinds) });
      } catch (error) {
        return (error as ConfigError).issues;
      }
      throw new Error('expected the config to be rejected');
    })();
    expect(placed(issues)).toEqual([
      '1:22 defaults.timeout: "2 seconds" must be a duration such as 250ms, 2s, 1m or 1m30s',
      '3:48 checks.a.dependsOn: a cycle of dependencies: a → b → a',
      '4:52 checks.b.dependsOn.1: "zz" is not a declared check',
      '5:38 checks.beat.interval: does not apply to a heartbeat check: it is not polled, its results are pushed to the agent',
    ]);
  });

  it('asks for a unit when a duration is a bare number', () => {
    expect(placed(issuesOf('checks:\n  a: { type: tcp, host: h, port: 1, interval: 10 }\n'))).toEqual([
      '2:47 checks.a.interval: 10 has no unit: write it as a duration such as 250ms, 2s, 1m or 1m30s',
    ]);
  });
});

describe('messages that survive masking', () => {
  it('a nats URL with a token and a path: the token masked, the explanation whole', () => {
    const [issue] = issuesOf('checks:\n  n: { type: nats, url: "nats://tok3nS3cret@127.0.0.1:4222/path" }\n');
    expect(issue!.message).not.toContain('tok3nS3cret');
    expect(issue!.message).toContain('with credentials before the host if any (user:password@ or token@), and no path or query');
  });
});
