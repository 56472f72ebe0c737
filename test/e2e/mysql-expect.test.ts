// expect on a MySQL query whose first column is a BIT(1): the type MySQL schemas (and ORMs such as
// Hibernate) use for booleans. The docs promise true means 1 and false 0. Real MariaDB, built CLI.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempConfig } from '../helpers/cli.js';
import { MYSQL_URL } from '../helpers/services.js';

const require = createRequire(import.meta.url);
const table = `vigil_bit_${process.pid}`;

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

describe('mysql expect on a BIT(1) column', () => {
  beforeAll(async () => {
    await sql(`CREATE TABLE ${table} (enabled BIT(1) NOT NULL)`);
    await sql(`INSERT INTO ${table} VALUES (b'1')`);
  });
  afterAll(async () => {
    await sql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('expect: true passes on a BIT(1) column holding 1', async () => {
    const config = tempConfig(`checks:\n  db:\n    type: mysql\n    url: ${MYSQL_URL}\n    query: SELECT enabled FROM ${table}\n    expect: true\n`);
    const result = await runCli(['check', '--config', config, '--json']);
    expect(JSON.parse(result.stdout).checks[0]).toMatchObject({ name: 'db', status: 'pass' });
    expect(result.code).toBe(0);
  });
});
