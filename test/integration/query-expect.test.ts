// `expect` on a query's result, against the local PostgreSQL and MariaDB: a query that answers
// false, no rows, or a number out of bounds fails with reason assertion, where before any query
// that did not error passed.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { mysql } from '../../checks/mysql.js';
import { postgres } from '../../checks/postgres.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { runOnce } from '../helpers/run.js';
import { MYSQL_URL, PG_URL } from '../helpers/services.js';

const pgTarget = new URL(PG_URL).host;

describe('postgres: expect on the first column of the first row', () => {
  it('passes "must be primary" on a primary: SELECT pg_is_in_recovery() = false, expect true', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: 'SELECT pg_is_in_recovery() = false', expect: true })).toMatchObject({ ok: true });
  });

  it('fails a query that returns false with reason assertion, naming the condition and the value seen', async () => {
    const result = await runOnce(postgres, { url: PG_URL, query: 'SELECT pg_is_in_recovery()', expect: true });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toBe(`postgres ${pgTarget}/test: the query's first column == true fails: it is false`);
  });

  it('fails a query that returns no rows', async () => {
    const result = await runOnce(postgres, { url: PG_URL, query: 'SELECT 1 WHERE false', expect: 1 });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/the query returned no rows, expected a first column == 1$/);
  });

  it('compares numbers (int, bigint, numeric, float) with the comparison grammar', async () => {
    const run = (query: string, condition: string | number) => runOnce(postgres, { url: PG_URL, query, expect: condition });
    expect(await run('SELECT count(*) FROM pg_class', '> 10')).toMatchObject({ ok: true });
    expect(await run('SELECT 42::int', 42)).toMatchObject({ ok: true });
    expect(await run('SELECT 2.50::numeric', '<= 2.5')).toMatchObject({ ok: true });
    expect(await run('SELECT 0.25::float8', '< 1')).toMatchObject({ ok: true });
    const lag = await run('SELECT 45::bigint', '< 30');
    expect(lag).toMatchObject({ ok: false, reason: 'assertion' });
    expect(lag.message).toMatch(/the query's first column < 30 fails: it is 45$/);
  });

  it('replica not behind: an interval comparison done by the server, judged as a boolean', async () => {
    // On a primary pg_last_xact_replay_timestamp() is NULL: the comparison is NULL, not true.
    const result = await runOnce(postgres, { url: PG_URL, query: "SELECT now() - pg_last_xact_replay_timestamp() < interval '30 s'", expect: true });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/== true fails: it is null \(null\)$/);
  });

  it('compares strings and other types as the server writes them', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: "SELECT 'primary'", expect: '== "primary"' })).toMatchObject({ ok: true });
    expect(await runOnce(postgres, { url: PG_URL, query: "SELECT interval '5 s'", expect: '== "00:00:05"' })).toMatchObject({ ok: true });
    const result = await runOnce(postgres, { url: PG_URL, query: "SELECT 'replica'", expect: '!= "replica"' });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/!= "replica" fails: it is "replica"$/);
  });

  it('judges the last statement of a query of several', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: "SET LOCAL application_name = 'probe'; SELECT current_setting('application_name')", expect: '== "probe"' })).toMatchObject({ ok: true });
    expect(await runOnce(postgres, { url: PG_URL, query: 'SELECT true; SELECT false;', expect: true })).toMatchObject({ ok: false, reason: 'assertion' });
  });

  it('still passes any query that does not error when no expect is given', async () => {
    expect(await runOnce(postgres, { url: PG_URL, query: 'SELECT false' })).toMatchObject({ ok: true });
  });
});

describe('mysql: expect on the first column of the first row', () => {
  const target = new URL(MYSQL_URL).host;
  it('reads true and false as MySQL does (1 and 0)', async () => {
    expect(await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT @@read_only = 0', expect: true })).toMatchObject({ ok: true });
    const result = await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT 1 = 2', expect: true });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toBe(`mysql ${target}/test: the query's first column == 1 fails: it is 0`);
  });

  it('fails a query that returns no rows, and one that has no result set', async () => {
    const none = await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT 1 FROM DUAL WHERE 1 = 0', expect: 1 });
    expect(none).toMatchObject({ ok: false, reason: 'assertion' });
    expect(none.message).toMatch(/the query returned no rows, expected a first column == 1$/);
    expect(await runOnce(mysql, { url: MYSQL_URL, query: 'DO 1', expect: 1 })).toMatchObject({ ok: false, reason: 'assertion' });
  });

  it('compares numbers (integer, decimal) and strings', async () => {
    expect(await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT COUNT(*) FROM information_schema.tables', expect: '> 10' })).toMatchObject({ ok: true });
    expect(await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT 2.50', expect: 2.5 })).toMatchObject({ ok: true });
    expect(await runOnce(mysql, { url: MYSQL_URL, query: "SELECT 'ON'", expect: '== "ON"' })).toMatchObject({ ok: true });
    const result = await runOnce(mysql, { url: MYSQL_URL, query: 'SELECT 45', expect: '< 30' });
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/< 30 fails: it is 45$/);
  });
});

describe('config: an expect that is no comparison', () => {
  it('is refused at its line and column, with the character it stops at', () => {
    const yaml = ['checks:', '  db:', '    type: postgres', `    url: ${PG_URL}`, '    query: SELECT 1', '    expect: primary', '  my:', '    type: mysql', `    url: ${MYSQL_URL}`, "    expect: '< \"10\"'", ''].join('\n');
    let issues: string[] = [];
    try {
      parseConfig(yaml, { kinds, env: {} });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues = error.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    }
    expect(issues).toEqual([
      `6:13 checks.db.expect: "primary" is not a comparison: at character 1, expected an operator (==, !=, <=, >=, <, >) (e.g. true, 42, "< 30", '== "primary"')`,
      `10:13 checks.my.expect: "< \\"10\\"" is not a comparison: at character 3, < compares numbers: "10" is not a number (e.g. true, 42, "< 30", '== "primary"')`,
    ]);
  });
});
