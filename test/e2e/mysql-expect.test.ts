// expect on MySQL answers that are not a plain SELECT of a number: a BIT(1) column (the type MySQL
// schemas and ORMs such as Hibernate use for booleans; the docs promise true means 1 and false 0),
// and a stored procedure's result (CALL answers with its result sets and a final OK). Real
// MariaDB, built CLI.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempConfig } from '../helpers/cli.js';
import { MYSQL_URL } from '../helpers/services.js';

const require = createRequire(import.meta.url);
const table = `vigil_bit_${process.pid}`;
const procedure = `vigil_proc_${process.pid}`;

async function sql(statement: string): Promise<void> {
  const mysql = require('mysql2') as typeof import('mysql2');
  const url = new URL(MYSQL_URL);
  const connection = mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), database: url.pathname.slice(1) });
  try {
    await new Promise<void>((resolve, reject) => connection.query(statement, (error) => (error ? reject(error) : resolve())));
  } finally {
    connection.end();
  }
}

describe('mysql expect beyond a plain SELECT', () => {
  beforeAll(async () => {
    await sql(`CREATE TABLE ${table} (enabled BIT(1) NOT NULL)`);
    await sql(`INSERT INTO ${table} VALUES (b'1')`);
    await sql(`CREATE TABLE ${table}_wide (mask BIT(16) NOT NULL)`);
    await sql(`INSERT INTO ${table}_wide VALUES (b'0000000100000010')`);
    await sql(`CREATE PROCEDURE ${procedure}() SELECT 7`);
  });
  afterAll(async () => {
    await sql(`DROP TABLE IF EXISTS ${table}`);
    await sql(`DROP TABLE IF EXISTS ${table}_wide`);
    await sql(`DROP PROCEDURE IF EXISTS ${procedure}`);
  });

  it('expect: true passes on a BIT(1) column holding 1', async () => {
    const config = tempConfig(`checks:\n  db:\n    type: mysql\n    url: ${MYSQL_URL}\n    query: SELECT enabled FROM ${table}\n    expect: true\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    expect(JSON.parse(result.stdout).checks[0]).toMatchObject({ name: 'db', status: 'pass' });
    expect(result.code).toBe(0);
  });

  it('expect: 7 passes on CALL of a procedure whose result set is SELECT 7', async () => {
    const config = tempConfig(`checks:\n  db:\n    type: mysql\n    url: ${MYSQL_URL}\n    query: CALL ${procedure}()\n    expect: 7\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    // Today: "the query's first column == 7 fails: it is nothing (a undefined)".
    expect(JSON.parse(result.stdout).checks[0]).toMatchObject({ name: 'db', status: 'pass' });
    expect(result.code).toBe(0);
  });

  it('a wider BIT is the unsigned number its bits make (BIT(16) b\'0000000100000010\' is 258)', async () => {
    const config = tempConfig(`checks:\n  db:\n    type: mysql\n    url: ${MYSQL_URL}\n    query: SELECT mask FROM ${table}_wide\n    expect: 258\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    expect(JSON.parse(result.stdout).checks[0]).toMatchObject({ name: 'db', status: 'pass' });
  });
});
