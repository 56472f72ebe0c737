import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { kinds } from '../../../checks/index.js';
import { DURATION_PATTERN, MAX_DURATION_MS, parseDuration, readDuration } from '../../../src/config/duration.js';
import { parseConfig } from '../../../src/config/parse.js';
import { checkSchema, defaultsSchema, serverSchema } from '../../../src/config/schema.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';

const parse = (text: string | undefined, env: Record<string, string> = {}, readFile?: (path: string) => string) =>
  parseConfig(text, { kinds, env, ...(readFile ? { readFile } : {}) });

function issuesOf(text: string | undefined, env: Record<string, string> = {}, readFile?: (path: string) => string): readonly ConfigIssue[] {
  try {
    parse(text, env, readFile);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}


/** Every key of a zod schema whose JSON Schema is a duration, as a path (a list's item is 0, a map's key "k"). */
function durationKeys(schema: z.ZodType): (string | number)[][] {
  const found: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (!node || typeof node !== 'object') return;
    const s = node as Record<string, unknown>;
    if (s.pattern === DURATION_PATTERN.source) found.push(path);
    for (const [key, child] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) walk(child, [...path, key]);
    for (const child of [...((s.anyOf ?? []) as unknown[]), ...((s.oneOf ?? []) as unknown[]), ...((s.allOf ?? []) as unknown[])]) walk(child, path);
    if (s.items) walk(s.items, [...path, 0]);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, [...path, 'k']);
  };
  walk(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }), []);
  return found;
}

function valueAt(path: readonly (string | number)[], value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => (typeof key === 'number' ? [inner] : { [key]: inner }), value);
}

describe("durations above Node's timer limit (2^31-1 ms) become 1 ms hot loops: every duration a timer cannot hold is a config error", () => {
  const schemas: [string, z.ZodType][] = [
    ['server', serverSchema],
    ['defaults', defaultsSchema],
    ...kinds.map((kind): [string, z.ZodType] => [`checks (${kind.type})`, checkSchema(kind)]),
  ];
  const keys = schemas.flatMap(([where, schema]) => durationKeys(schema).map((path) => ({ where, schema, path })));

  it('finds every duration key of the config, including the kinds\' own', () => {
    const names = new Set(keys.map((k) => `${k.where.replace(/ \(.*/, '')}.${k.path.join('.')}`));
    for (const known of ['server.drainDelay', 'defaults.interval', 'defaults.timeout', 'checks.interval', 'checks.timeout', 'checks.staleAfter']) expect(names).toContain(known);
  });

  it.each([
    ['600h', 'is longer than the longest wait a timer can hold (596h31m23.647s)'],
    ['596h31m23.648s', 'is longer than the longest wait a timer can hold (596h31m23.647s)'],
    ['99999999999999999999999h', 'is longer than the longest wait a timer can hold (596h31m23.647s)'],
    ['0.5ms', 'is not a whole number of milliseconds (timers count whole milliseconds)'],
    ['1.0005s', 'is not a whole number of milliseconds (timers count whole milliseconds)'],
  ])('every duration key refuses %s with a clear message', (value, message) => {
    for (const { where, schema, path } of keys) {
      const result = schema.safeParse(valueAt(path, value), { reportInput: true });
      expect(result.success, `${where} ${path.join('.')}`).toBe(false);
      const issue = result.error!.issues.find((i) => i.path.join('.') === path.join('.'));
      expect(issue?.message, `${where} ${path.join('.')}`).toBe(message);
    }
  });

  it('every duration key refuses 0ms except drainDelay (no delay is a choice there)', () => {
    for (const { where, schema, path } of keys) {
      const result = schema.safeParse(valueAt(path, '0ms'), { reportInput: true });
      const issue = result.success ? undefined : result.error.issues.find((i) => i.path.join('.') === path.join('.'));
      if (path.join('.') === 'drainDelay') expect(issue).toBeUndefined();
      else expect(issue?.message, `${where} ${path.join('.')}`).toBe('must be at least 1ms');
    }
  });

  it('the duration parser holds the limit for every caller: exact, whole milliseconds, at most 2^31-1', () => {
    expect(MAX_DURATION_MS).toBe(2 ** 31 - 1);
    expect(parseDuration('596h31m23.647s')).toBe(MAX_DURATION_MS);
    expect(parseDuration('596h31m23.648s')).toBeUndefined();
    expect(parseDuration('600h')).toBeUndefined();
    expect(parseDuration('0.5ms')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration('0s', { allowZero: true })).toBe(0);
    // Exact decimals: 1.1s is 1100 ms (1.1 * 1000 is 1100.0000000000002 in floating point).
    expect(parseDuration('1.1s')).toBe(1100);
    expect(parseDuration('0.001s')).toBe(1);
    expect(parseDuration('1.5ms')).toBeUndefined();
    expect(readDuration('10 seconds').problem).toBe('must be a duration such as 250ms, 2s, 1m or 1m30s');
  });

  it('names the key, the line and the limit in a config', () => {
    const issues = issuesOf('server:\n  drainDelay: 700h\ndefaults:\n  interval: 25d\n  timeout: 0ms\nchecks:\n  api: {type: tcp, host: h, port: 1, interval: 600h, staleAfter: 1000h}\n');
    expect(issues.map((i) => [i.path, i.line, i.message])).toEqual([
      ['server.drainDelay', 2, '"700h" is longer than the longest wait a timer can hold (596h31m23.647s)'],
      ['defaults.interval', 4, '"25d" must be a duration such as 250ms, 2s, 1m or 1m30s'],
      ['defaults.timeout', 5, '"0ms" must be at least 1ms'],
      ['checks.api.interval', 7, '"600h" is longer than the longest wait a timer can hold (596h31m23.647s)'],
      ['checks.api.staleAfter', 7, '"1000h" is longer than the longest wait a timer can hold (596h31m23.647s)'],
    ]);
  });

  it('accepts the longest duration a timer holds', () => {
    const config = parse('server: {drainDelay: 0s}\nchecks:\n  api: {type: tcp, host: h, port: 1, interval: 596h31m23.647s, timeout: 1ms}\n');
    expect(config.checks[0]).toMatchObject({ intervalMs: MAX_DURATION_MS, timeoutMs: 1 });
    expect(config.server.drainDelayMs).toBe(0);
  });
});

describe('validate refuses what can never pass: durations', () => {
  it('interval: 0s gets a message about interval, not undefined', () => {
    const issues = issuesOf('checks:\n  db: {type: tcp, host: h, port: 1, interval: 0s}\n');
    expect(issues).toEqual([{ path: 'checks.db.interval', message: '"0s" must be at least 1ms', line: 2, column: 47 }]);
    expect(JSON.stringify(issuesOf('defaults: {interval: 0s}\n'))).not.toContain('undefined');
  });

  it('rounding never produces "0.5ms must be shorter than 1ms"', () => {
    const issues = issuesOf('checks:\n  db: {type: tcp, host: h, port: 1, interval: 1ms, timeout: 0.5ms}\n');
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['checks.db.timeout: "0.5ms" is not a whole number of milliseconds (timers count whole milliseconds)']);
    // A staleAfter that is too short is named as written, never as "undefined".
    expect(issuesOf('checks:\n  db: {type: tcp, host: h, port: 1, interval: 2s, staleAfter: 1.5s}\n')[0]!.message).toBe('1.5s must be longer than interval (2s)');
  });
});
