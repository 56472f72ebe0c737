// What a mysql check's options may say, judged at validation: a URL or a tls block no connection
// could use is a config error naming it, never an attempt that fails with unknown.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';

const issues = (block: string) => {
  try {
    parseConfig(`checks:\n  db: ${block}\n`, { kinds, env: {} });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
};
const url = (text: string, rest = '') => issues(`{ type: mysql, url: "${text}"${rest} }`);

describe('mysql options at validation', () => {
  it('accepts the URLs users of the mysql client write', () => {
    expect(url('mysql://app:pw@db:3306/orders')).toEqual([]);
    expect(url('mysql://db')).toEqual([]);
    expect(url('mysql://app@[::1]:3307/orders?ssl-mode=verify_identity&ssl-ca=/etc/ca.pem')).toEqual([]);
    expect(url('mysql://app@db/orders?ssl-mode=REQUIRED&ssl-cert=/c.pem&ssl-key=/k.pem')).toEqual([]);
    expect(url('mysql://app%40corp:p%2Fw@db/my%20db')).toEqual([]);
  });

  it('refuses another scheme, a bad port, a path of more than one part', () => {
    expect(url('mariadb://db/x')).toEqual(['checks.db.url: "mariadb://db/x" must be a mysql:// URL']);
    expect(url('mysql://db:99999/x')).toEqual(['checks.db.url: "mysql://db:99999/x" has port "99999": a port is a number from 1 to 65535']);
    expect(url('mysql://db/a/b')).toEqual(['checks.db.url: "/a/b" has a path of more than one part: the path of a mysql URL is the database name']);
  });

  it('ssl modes: an unknown mode, and other drivers\' spellings, are refused naming the right one', () => {
    expect(url('mysql://db/x?ssl-mode=verify-full')).toEqual([
      'checks.db.url: "ssl-mode=verify-full" is not an ssl-mode (one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)',
    ]);
    expect(url('mysql://db/x?sslmode=require')).toEqual(['checks.db.url: "sslmode" is not a parameter of a mysql URL: vigil reads the mysql client\'s spelling, ssl-mode']);
    expect(url('mysql://db/x?ssl=true')).toEqual(['checks.db.url: "ssl" is not a parameter of a mysql URL: vigil reads the mysql client\'s spelling, ssl-mode']);
    expect(url('mysql://db/x?charset=utf8mb4')).toEqual(['checks.db.url: "charset" is not a parameter of a mysql URL: vigil reads ssl-mode, ssl-ca, ssl-cert, ssl-key']);
    expect(url('mysql://db/x?ssl-mode=REQUIRED&ssl-mode=DISABLED')).toEqual(['checks.db.url: "ssl-mode" is given more than once']);
  });

  it('files: a certificate without its key, or files that ssl-mode=DISABLED never uses', () => {
    expect(url('mysql://db/x?ssl-cert=/c.pem')).toEqual(['checks.db.url: "ssl-cert" needs ssl-key as well']);
    expect(url('mysql://db/x?ssl-mode=DISABLED&ssl-ca=/ca.pem')).toEqual(['checks.db.url: "ssl-mode=DISABLED" names certificate files that ssl-mode=DISABLED never uses']);
  });

  it('the tls block against the URL: no effect with DISABLED, insecureSkipVerify against VERIFY_*, a file named twice', () => {
    expect(url('mysql://db/x?ssl-mode=DISABLED', ', tls: { caFile: /ca.pem }')).toEqual(['checks.db.tls: a map has no effect: the URL says ssl-mode=DISABLED']);
    expect(url('mysql://db/x?ssl-mode=VERIFY_CA', ', tls: { insecureSkipVerify: true }')).toEqual(["checks.db.tls.insecureSkipVerify: true contradicts the URL's ssl-mode=VERIFY_CA"]);
    expect(url('mysql://db/x?ssl-ca=/a.pem', ', tls: { caFile: /b.pem }')).toEqual(['checks.db.tls.caFile: "/b.pem" and the URL\'s ssl-ca both name a file: give one']);
    expect(url('mysql://db/x?ssl-mode=REQUIRED', ', tls: { insecureSkipVerify: true }')).toEqual([]);
  });

  it('environment-only mode: VIGIL_CHECK_<NAME>=mysql://… is a mysql check', () => {
    const config = parseConfig(undefined, { kinds, env: { VIGIL_CHECK_ORDERS: 'mysql://app@db/orders' } });
    expect(config.checks[0]).toMatchObject({ name: 'orders', type: 'mysql', options: { url: 'mysql://app@db/orders' } });
  });
});
