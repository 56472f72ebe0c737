import { describe, expect, it } from 'vitest';
import { interpolate } from '../../../src/config/interpolate.js';

const files: Record<string, string> = { '/run/secrets/pw': 'from-file\n', '/run/secrets/crlf': 'x\r\n' };
const source = (env: Record<string, string>) => ({
  env,
  readFile: (path: string) => {
    if (!(path in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return files[path]!;
  },
});

describe('interpolate', () => {
  it('replaces ${VAR} and records the value as a secret', () => {
    expect(interpolate('a-${X}-b', source({ X: 'value' }))).toEqual({ value: 'a-value-b', secrets: ['value'], errors: [] });
  });
  it('uses the default when the variable is unset or empty, and it is no secret', () => {
    expect(interpolate('${X:-dflt}', source({})).value).toBe('dflt');
    expect(interpolate('${X:-dflt}', source({ X: '' })).value).toBe('dflt');
    expect(interpolate('${X:-dflt}', source({})).secrets).toEqual([]);
  });
  it('reads VAR_FILE when VAR is unset, dropping one trailing newline', () => {
    expect(interpolate('${PW}', source({ PW_FILE: '/run/secrets/pw' }))).toMatchObject({ value: 'from-file', secrets: ['from-file'] });
    expect(interpolate('${PW}', source({ PW_FILE: '/run/secrets/crlf' })).value).toBe('x');
  });
  it('prefers VAR over VAR_FILE', () => {
    expect(interpolate('${PW}', source({ PW: 'direct', PW_FILE: '/run/secrets/pw' })).value).toBe('direct');
  });
  it('names an unreadable VAR_FILE', () => {
    expect(interpolate('${PW}', source({ PW_FILE: '/missing' })).errors).toEqual(['cannot read PW_FILE (/missing): ENOENT']);
  });
  it('treats $${ as a literal ${', () => {
    expect(interpolate('cost: $${X}', source({ X: 'no' })).value).toBe('cost: ${X}');
  });
  it('reports an unset variable with no default and no file', () => {
    expect(interpolate('${MISSING}', source({})).errors[0]).toMatch(/MISSING is not set/);
  });
  it('reports malformed references', () => {
    expect(interpolate('${unterminated', source({})).errors[0]).toMatch(/unterminated/);
    expect(interpolate('${1BAD}', source({})).errors[0]).toMatch(/not a variable reference/);
  });
});
