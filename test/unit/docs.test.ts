// The documentation of check types follows the registry: every registered type has its section in
// docs/configuration.md and its URL schemes in the environment-only mode's list, and the docs name
// no type that is not registered.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kinds as registry } from '../../checks/index.js';
import { withBuiltins } from '../../src/kinds.js';

// The registry and the kinds the core brings itself (heartbeat).
const kinds = withBuiltins(registry);

const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

describe('docs/configuration.md and the registry of check types', () => {
  it('has a section for every registered type, and none for a type that is not', () => {
    const sections = [...docs.matchAll(/^### type: (\S+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(kinds.map((k) => k.type));
  });

  it('lists every scheme of environment-only mode', () => {
    const mode = docs.slice(docs.indexOf('## Environment-only mode'));
    const listed = mode.slice(mode.indexOf('The type comes from the scheme'), mode.indexOf('\n\n', mode.indexOf('The type comes from the scheme')));
    for (const scheme of kinds.flatMap((k) => k.schemes)) expect(listed, scheme).toContain(`\`${scheme}://`);
  });
});

describe('examples a reader copies', () => {
  it("README's configuration is a valid config", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]!;
    const { parseConfig } = await import('../../src/config/parse.js');
    const config = parseConfig(yaml, { kinds, env: { PG_PASSWORD: 'example' } });
    expect(config.checks.length).toBeGreaterThan(5);
  });

  it('the list of known types in the validate example is the registry', () => {
    const known = /is not a known type \(known: ([^)]*)\)/.exec(docs)![1]!;
    expect(known.split(', ')).toEqual(kinds.map((k) => k.type));
  });
});
