// The usage text of `vigil --help`: its list of environment-only URL schemes comes from the registry.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import type { CheckKind } from '../../../src/check.js';
import { main } from '../../../src/cli.js';
import { helpText } from '../../../src/cli/help.js';

async function help(): Promise<string> {
  let out = '';
  const code = await main({ argv: ['--help'], env: {}, stdout: (text) => (out += text), stderr: () => undefined });
  expect(code).toBe(0);
  return out;
}

/** How a kind's schemes read in the help: `redis://, rediss:// (redis)`. */
const entryOf = (kind: CheckKind) => `${kind.schemes.map((scheme) => `${scheme}://`).join(', ')} (${kind.type})`;

describe('help text that knows URL schemes: the schemes come from the registry of kinds', () => {
  it('help text that knows URL schemes: vigil --help lists every scheme of every registered kind, with its type', async () => {
    const text = await help();
    expect(kinds.length).toBeGreaterThan(0);
    for (const kind of kinds) {
      for (const scheme of kind.schemes) expect(text).toContain(`${scheme}://`);
      expect(text).toContain(entryOf(kind));
    }
  });

  it('help text that knows URL schemes: a kind added to the registry is listed without a change to the help', () => {
    const memcached: CheckKind = {
      type: 'memcached',
      componentType: 'datastore',
      options: z.object({ url: z.string() }),
      schemes: ['memcached', 'memcacheds'],
      run: async () => undefined,
    };
    const text = helpText([...kinds, memcached]);
    expect(text).toContain(entryOf(memcached));
    for (const kind of kinds) expect(text).toContain(entryOf(kind));
  });

  it('help text that knows URL schemes: the list wraps at 100 columns and keeps each kind on one line', () => {
    const many = Array.from({ length: 12 }, (_, i): CheckKind => ({ ...kinds[0]!, type: `kind${i}`, schemes: [`kind${i}`, `kind${i}s`] }));
    const text = helpText([...kinds, ...many]);
    const lines = text.slice(text.indexOf('Without a config file'), text.indexOf('Signals:')).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(100);
    for (const kind of [...kinds, ...many]) expect(lines.some((line) => line.includes(entryOf(kind)))).toBe(true);
  });
});
