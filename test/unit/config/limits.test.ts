import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { MAX_CHECKS, MAX_YAML_ALIASES, MAX_YAML_VALUES } from '../../../src/config/limits.js';
import { parseConfig } from '../../../src/config/parse.js';
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


describe('very large configs stall the event loop: the config is bounded in checks, values and aliases', () => {
  const checks = (n: number, extra = '') => `checks:\n${Array.from({ length: n }, (_, i) => `  c${i}: {type: tcp, host: h, port: 1${extra}}\n`).join('')}`;

  it(`more than ${MAX_CHECKS} checks is a config error`, () => {
    expect(parse(checks(MAX_CHECKS)).checks).toHaveLength(MAX_CHECKS);
    expect(issuesOf(checks(MAX_CHECKS + 1))).toEqual([{ path: 'checks', line: 2, column: 3, message: `${MAX_CHECKS + 1} checks, more than the limit of ${MAX_CHECKS} for one agent` }]);
    const env = Object.fromEntries(Array.from({ length: MAX_CHECKS + 1 }, (_, i) => [`VIGIL_CHECK_C${i}`, 'tcp://h:1']));
    expect(issuesOf(undefined, env)[0]!.message).toBe(`${MAX_CHECKS + 1} checks, more than the limit of ${MAX_CHECKS} for one agent`);
  });

  it(`more than ${MAX_YAML_VALUES} values is a config error, found before the checks are validated`, () => {
    const [issue] = issuesOf(`checks:\n  a: {type: tcp, host: h, port: 1}\nx: [${'1,'.repeat(MAX_YAML_VALUES)}1]\n`);
    expect(issue).toMatchObject({ path: '', line: 3, message: `YAML: the config holds more than ${MAX_YAML_VALUES} values` });
  });

  it(`more than ${MAX_YAML_ALIASES} aliases is a config error (yaml resolves each alias by a scan of all of them)`, () => {
    const [issue] = issuesOf(`a: &a 1\nb: [${'*a,'.repeat(MAX_YAML_ALIASES)}*a]\n`);
    expect(issue).toMatchObject({ path: '', line: 2, message: `YAML: more than ${MAX_YAML_ALIASES} aliases` });
  });

  it('a map of 60,000 keys is refused in linear time (yaml\'s own duplicate check compares every key with every other)', () => {
    const keys = Array.from({ length: 60_000 }, (_, i) => `  k${i}: 1\n`).join('');
    const started = performance.now();
    const [issue] = issuesOf(`x:\n${keys}`);
    // It took yaml 30 s before any limit could be applied.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(issue).toMatchObject({ path: '', message: `YAML: the config holds more than ${MAX_YAML_VALUES} values` });
  });

  it('an alias with no anchor is a config error with its place, not a bare exit 1', () => {
    expect(issuesOf('checks:\n  a: { type: tcp, host: x, port: 1, critical: *a }\n')).toEqual([
      { path: '', message: 'YAML: alias *a refers to no anchor &a before it', line: 2, column: 47 },
    ]);
  });

  it('duplicate keys are found with their line, also far down a large map', () => {
    const keys = Array.from({ length: 15_000 }, (_, i) => `  k${i}: 1\n`).join('');
    expect(issuesOf(`x:\n${keys}  k7: 2\n`)).toEqual([{ path: '', line: 15_002, column: 3, message: 'YAML: "k7" is declared twice in this map (keys must be unique)' }]);
  });

  it(`the largest accepted config (${MAX_CHECKS} checks) parses in bounded time (printed)`, () => {
    const text = `checks:\n${Array.from(
      { length: MAX_CHECKS },
      (_, i) => `  check-${i}:\n    type: http\n    url: "http://127.0.0.1:8080/health/${i}"\n    interval: 10s\n    timeout: 2s\n    groups: [ready, startup]\n    expect: { status: [200-299] }\n`,
    ).join('')}`;
    parse(text); // warm up the YAML parser and the schemas
    const started = performance.now();
    expect(parse(text).checks).toHaveLength(MAX_CHECKS);
    const ms = performance.now() - started;
    console.log(`largest accepted config: ${MAX_CHECKS} checks, ${Math.round(text.length / 1024)} KiB, parsed in ${Math.round(ms)} ms`);
    // The agent parses off its event loop; this bounds the one-shot commands, which parse in line.
    expect(ms).toBeLessThan(10_000);
  });
});
