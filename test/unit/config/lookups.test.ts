import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { MAX_YAML_VALUES } from '../../../src/config/limits.js';
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


describe('lookups reach built-in properties: ${__proto__}, ${constructor}, ${toString} are variables that are not set', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])('${%s} is "not set", never a built-in value', (name) => {
    const issues = issuesOf(`checks:\n  a: {type: tcp, host: "h\${${name}}", port: 1}\n`);
    expect(issues).toEqual([expect.objectContaining({ line: 2, message: `environment variable ${name} is not set (nor ${name}_FILE); set it or write \${${name}:-default}` })]);
    // With a default, the default is used.
    expect(parse(`checks:\n  a: {type: tcp, host: "\${${name}:-fallback}", port: 1}\n`).checks[0]!.options.host).toBe('fallback');
  });

  it('looks up only the environment\'s own variables, also when the environment is process.env', () => {
    const config = parseConfig('checks:\n  a: {type: tcp, host: "${constructor:-none}", port: 1}\n', { kinds, env: process.env });
    expect(config.checks[0]!.options.host).toBe('none');
  });

  it('a YAML alias bomb is a config error with its line and column, not a crash', () => {
    const bomb = readFileSync('test/fixtures/config/alias-bomb.yaml', 'utf8');
    const [issue] = issuesOf(bomb);
    expect(issue).toEqual({ path: '', line: 5, column: 24, message: `YAML: with its aliases expanded (here *d), the config holds more than ${MAX_YAML_VALUES} values` });
  });

  it('an alias inside the value it refers to is a config error', () => {
    expect(issuesOf('checks: &a\n  x: *a\n')[0]).toMatchObject({ line: 2, message: 'YAML: alias *a is inside the value it refers to' });
  });

  it('aliases used as intended, more than a hundred times, are fine', () => {
    const text = `x-groups: &g [ready, startup]\nchecks:\n${Array.from({ length: 300 }, (_, i) => `  c${i}: {type: tcp, host: h, port: 1, groups: *g}\n`).join('')}`;
    const [issue] = issuesOf(text);
    // The only problem is the unknown top-level key holding the anchor.
    expect(issue).toMatchObject({ path: 'x-groups', message: 'unknown key (known: server, defaults, checks)' });
  });

  it('VIGIL_CHECK_X=tcp://host:99999 is a config error naming the variable, without the value', () => {
    const issues = issuesOf(undefined, { VIGIL_CHECK_X: 'tcp://host:99999', VIGIL_CHECK_Y: 'tcp://h:1' });
    expect(issues).toEqual([{ path: 'VIGIL_CHECK_X', message: 'is not a valid tcp URL (check the host, the port and any characters that need %-encoding)' }]);
  });
});

describe('odd names: VIGIL_CHECK_CONSTRUCTOR, __proto__ and toString as check names work or are refused with a clear message', () => {
  it('constructor, toString and hasOwnProperty are check names like any other, in the file and the environment', () => {
    const file = parse('checks:\n  toString: {type: tcp, host: h, port: 1}\n  constructor: {type: tcp, host: h, port: 2}\n');
    expect(file.checks.map((c) => c.name)).toEqual(['toString', 'constructor']);
    const env = parse(undefined, { VIGIL_CHECK_CONSTRUCTOR: 'tcp://h:1', VIGIL_CHECK_TOSTRING: 'tcp://h:2', VIGIL_CHECK_HASOWNPROPERTY: 'tcp://h:3' });
    expect(env.checks.map((c) => c.name).sort()).toEqual(['constructor', 'hasownproperty', 'tostring']);
    const both = parse('checks:\n  db: {type: tcp, host: h, port: 1}\n', { VIGIL_CHECK_CONSTRUCTOR: 'tcp://h:1' });
    expect(both.checks.map((c) => c.name)).toEqual(['db', 'constructor']);
  });

  it('a name in the file and in the environment is refused as declared twice, built-in or not', () => {
    expect(issuesOf('checks:\n  db: {type: tcp, host: h, port: 1}\n', { VIGIL_CHECK_DB: 'tcp://h:1' })[0]).toMatchObject({ path: 'checks.db', message: 'declared in the file and by VIGIL_CHECK_DB' });
    expect(issuesOf('checks:\n  constructor: {type: tcp, host: h, port: 1}\n', { VIGIL_CHECK_CONSTRUCTOR: 'tcp://h:1' })[0]).toMatchObject({
      path: 'checks.constructor',
      message: 'declared in the file and by VIGIL_CHECK_CONSTRUCTOR',
    });
  });

  it('__proto__ is refused with the rule for names, in the file and the environment', () => {
    const rule = 'a check name must start with a letter or digit and hold only letters, digits, ".", "-" and "_"';
    expect(issuesOf('checks:\n  __proto__: {type: tcp, host: h, port: 1}\n')).toEqual([{ path: 'checks.__proto__', message: rule, line: 2, column: 3 }]);
    expect(issuesOf(undefined, { VIGIL_CHECK___PROTO__: 'tcp://h:1' })).toEqual([{ path: 'VIGIL_CHECK___PROTO__ (__proto__)', message: rule }]);
  });
});
