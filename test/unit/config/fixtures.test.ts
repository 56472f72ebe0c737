import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { kinds as registry } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { configJsonSchema } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';
import { withBuiltins } from '../../../src/kinds.js';

// The kinds the CLI knows: the registry's and the built-in ones.
const kinds = withBuiltins(registry);

const DIR = 'test/fixtures/config';
// {known} stands for the registered types, in registry order: a new type changes no expectation.
const expected = JSON.parse(readFileSync(`${DIR}/expected.json`, 'utf8').replaceAll('{known}', kinds.map((k) => k.type).join(', '))) as Record<
  string,
  { line: number; path: string; message?: string }[]
>;
const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
/** Rules the JSON Schema cannot express: YAML-level problems and relations between keys. */
const VALIDATOR_ONLY = new Set([
  'timeout-longer.yaml',
  'duplicate-key.yaml',
  'syntax-error.yaml',
  'flow-map-reference.yaml',
  'http-invalid-url.yaml',
  'http-reversed-status.yaml',
  'http-head-body.yaml',
  // Conditions parse by their own grammar, and a body depends on the method.
  'http-json-condition.yaml',
  'http-body-get.yaml',
  'postgres-expect.yaml',
  'url-invalid.yaml',
  // A duration's bounds (whole ms, at least 1 ms, at most what a timer holds) are beyond a pattern.
  'duration-too-long.yaml',
  'duration-zero.yaml',
  'duration-sub-ms.yaml',
  'interval-zero.yaml',
  'alias-bomb.yaml',
]);

function issuesOf(file: string) {
  try {
    parseConfig(readFileSync(`${DIR}/${file}`, 'utf8'), { kinds, env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
}

describe('config fixtures: one per failure mode', () => {
  it('has an expectation for every fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(fixtures.sort());
  });

  it.each(fixtures)('%s is refused with its expected issues and lines', (file) => {
    const issues = issuesOf(file);
    expect(issues.map((i) => ({ line: i.line, path: i.path, ...(expected[file]![0]!.message === undefined ? {} : { message: i.message }) }))).toEqual(expected[file]);
  });
});

describe('config.schema.json', () => {
  const schema = configJsonSchema(kinds);
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

  it('is the committed file, generated from the validator (npm run schema)', () => {
    expect(JSON.parse(readFileSync('config.schema.json', 'utf8'))).toEqual(schema);
  });

  it('accepts config.example.yaml, as the validator does', () => {
    const example = readFileSync('config.example.yaml', 'utf8');
    expect(validate(parseYaml(example)), JSON.stringify(validate.errors)).toBe(true);
    expect(() => parseConfig(example, { kinds, env: {} })).not.toThrow();
  });

  it.each(fixtures.filter((f) => !VALIDATOR_ONLY.has(f)))('rejects %s, as the validator does', (file) => {
    expect(validate(parseYaml(readFileSync(`${DIR}/${file}`, 'utf8')))).toBe(false);
  });
});
