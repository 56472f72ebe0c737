// The import structure is one-way: the core (src/) knows no check type, and check types use only
// the core's contract. Read from the sources themselves: a test fails on an import across the line.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** The one module of the core that may load the registry of check types: the CLI's wiring. */
const REGISTRY_WIRING = ['src/cli/kinds.ts'];
/** What a check type may use of the core: the contract and the errors. */
const CONTRACT = ['src/check.ts', 'src/errors.ts'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module a file imports (static, dynamic, or as a URL to load), as paths from the root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((specifier) => relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'));
}

describe('import structure', () => {
  it('no module of the core imports a check type, except the CLI wiring the registry in', () => {
    const crossing = sources('src').flatMap((file) => importsOf(file).filter((target) => target.startsWith('checks/')).map((target) => `${file} -> ${target}`));
    expect(crossing.filter((line) => !REGISTRY_WIRING.some((allowed) => line.startsWith(`${allowed} ->`)))).toEqual([]);
  });

  it('check types use only the contract of the core (and their shared support)', () => {
    const crossing = sources('checks').flatMap((file) => importsOf(file).filter((target) => target.startsWith('src/') && !CONTRACT.includes(target)).map((target) => `${file} -> ${target}`));
    expect(crossing).toEqual([]);
  });

  it('reads the imports it judges (a check of the test itself)', () => {
    expect(importsOf('checks/redis.ts')).toEqual(expect.arrayContaining(['src/check.ts', 'checks/support/guarded-socket.ts']));
    expect(importsOf('src/cli/kinds.ts')).toContain('checks/index.ts');
  });
});
