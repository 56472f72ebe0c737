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
  it('replaces ${VAR}', () => {
    expect(interpolate('a-${X}-b', source({ X: 'value' })).value).toBe('a-value-b');
  });
  it('over-masking garbles logs: a variable whose name says nothing secret gives no secret', () => {
    expect(interpolate('postgres://${PGUSER}@h/${PGDATABASE}', source({ PGUSER: 'postgres', PGDATABASE: 'app' }))).toEqual({ value: 'postgres://postgres@h/app', secrets: [], errors: [] });
  });
  it('over-masking garbles logs: a variable whose name says secret gives a secret, even through its default', () => {
    expect(interpolate('${PG_PASSWORD}|${API_KEY}|${apiToken:-dflt}', source({ PG_PASSWORD: 'pw1', API_KEY: 'k2' }))).toEqual({ value: 'pw1|k2|dflt', secrets: ['pw1', 'k2', 'dflt'], errors: [] });
  });
  it('over-masking garbles logs: ${secret:VAR} marks any value a secret', () => {
    expect(interpolate('${secret:PGUSER}@${secret:HOST:-h1}', source({ PGUSER: 'role-x' }))).toEqual({ value: 'role-x@h1', secrets: ['role-x', 'h1'], errors: [] });
    expect(interpolate('${secret:1BAD}', source({})).errors[0]).toMatch(/not a variable reference/);
  });
  it('uses the default when the variable is unset or empty, and a plain default is no secret', () => {
    expect(interpolate('${X:-dflt}', source({})).value).toBe('dflt');
    expect(interpolate('${X:-dflt}', source({ X: '' })).value).toBe('dflt');
    expect(interpolate('${X:-dflt}', source({})).secrets).toEqual([]);
  });
  it('reads VAR_FILE when VAR is unset, dropping one trailing newline; file contents are secrets', () => {
    expect(interpolate('${CONTENT}', source({ CONTENT_FILE: '/run/secrets/pw' }))).toMatchObject({ value: 'from-file', secrets: ['from-file'] });
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
    expect(interpolate('${secret:MISSING}', source({})).errors[0]).toMatch(/MISSING is not set/);
  });
  it('reports malformed references', () => {
    expect(interpolate('${unterminated', source({})).errors[0]).toMatch(/unterminated/);
    expect(interpolate('${1BAD}', source({})).errors[0]).toMatch(/not a variable reference/);
  });
});
