import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { defineCheck } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import { checkKinds, COMMON_KEYS, KindRegistryError } from '../../src/kinds.js';
import { createRunner } from '../../src/runner.js';

const scratch = (type: string, options: z.ZodRawShape, schemes: string[] = []) => defineCheck({ type, componentType: 'component', options, schemes, run: async () => undefined });

describe('the registry of check types', () => {
  it('accepts the registered kinds', () => {
    expect(checkKinds(kinds)).toBe(kinds);
  });

  it('refuses, at start-up, a kind whose options shadow a key every check has', () => {
    const shadowing = [...kinds, scratch('shadow', { timeout: z.string(), url: z.string() })];
    expect(() => createRunner(shadowing)).toThrow(KindRegistryError);
    expect(() => createRunner(shadowing)).toThrow('check type "shadow" declares "timeout", which every check has: the core owns it');
    expect(() => parseConfig('checks: {}\n', { kinds: shadowing })).toThrow(KindRegistryError);
    for (const key of COMMON_KEYS) expect(() => checkKinds([scratch('x', { [key]: z.string() })]), key).toThrow(KindRegistryError);
  });

  it('refuses a type registered twice and a URL scheme claimed by two types', () => {
    expect(() => checkKinds([...kinds, scratch('redis', {})])).toThrow('check type "redis" is registered twice');
    expect(() => checkKinds([...kinds, scratch('other', {}, ['redis'])])).toThrow('URL scheme redis:// is claimed by check types "redis" and "other"');
  });

  it('types run by the options schema: a run expecting other options does not compile (tsc checks this file)', () => {
    const kind = defineCheck({
      type: 'typed',
      componentType: 'component',
      options: { url: z.string(), retries: z.number().optional() },
      schemes: [],
      // The options' type comes from the schema: url is a string, retries a number or undefined.
      run: async ({ url, retries }) => void (url.length + (retries ?? 0)),
    });
    defineCheck({
      type: 'mistyped',
      componentType: 'component',
      options: { url: z.string() },
      schemes: [],
      // @ts-expect-error run wants a port the schema does not have
      run: async (options: { port: number }) => void options.port,
    });
    expect(kind.options.parse({ url: 'x' })).toEqual({ url: 'x' });
    expect(() => kind.options.parse({ url: 'x', unknown: 1 })).toThrow();
  });
});
