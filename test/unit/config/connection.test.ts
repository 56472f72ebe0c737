// connection and reconnectEvery: a persistent default applies to the types that can keep a
// connection; set on a check of another type, or reconnectEvery on a fresh check, it is an error.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';

const parse = (text: string) => parseConfig(text, { kinds });

function issuesOf(text: string): readonly ConfigIssue[] {
  try {
    parse(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}

const DB = '{ type: postgres, url: "postgres://db/app" }';
const WEB = '{ type: http, url: "http://web/health" }';

describe('connection: persistent in the config', () => {
  it('is fresh unless set; set in defaults it reaches postgres, redis, mysql, amqp, nats, mqtt and grpc, not http or tls', () => {
    expect(parse(`checks:\n  db: ${DB}\n`).checks[0]).toMatchObject({ connection: 'fresh', reconnectEvery: 0 });
    const config = parse(
      `defaults: { connection: persistent, reconnectEvery: 10 }\nchecks:\n  db: ${DB}\n  cache: { type: redis, url: "redis://cache:6379/0" }\n  orders: { type: mysql, url: "mysql://app@orders-db/orders" }\n  events: { type: amqp, url: "amqp://rabbit/%2F" }\n  bus: { type: nats, url: "nats://bus:4222" }\n  broker: { type: mqtt, url: "mqtt://broker:1883" }\n  api: { type: grpc, target: "orders:50051" }\n  web: ${WEB}\n  cert: { type: tls, host: web, port: 443 }\n`,
    );
    expect(config.checks.map((c) => [c.name, c.connection, c.reconnectEvery])).toEqual([
      ['db', 'persistent', 10],
      ['cache', 'persistent', 10],
      ['orders', 'persistent', 10],
      ['events', 'persistent', 10],
      ['bus', 'persistent', 10],
      ['broker', 'persistent', 10],
      ['api', 'persistent', 10],
      ['web', 'fresh', 0],
      ['cert', 'fresh', 0],
    ]);
  });

  it('a check may go back to fresh, or set its own reconnectEvery', () => {
    const config = parse(`defaults: { connection: persistent }\nchecks:\n  a: { type: postgres, url: "postgres://db/app", connection: fresh }\n  b: { type: postgres, url: "postgres://db/app", reconnectEvery: 5 }\n`);
    expect(config.checks.map((c) => [c.connection, c.reconnectEvery])).toEqual([
      ['fresh', 0],
      ['persistent', 5],
    ]);
  });

  it('persistent set on a type that cannot keep a connection is an error naming those that can', () => {
    expect(issuesOf(`checks:\n  web: { type: http, url: "http://web/health", connection: persistent }\n`)).toMatchObject([
      { path: 'checks.web.connection', message: 'persistent is not supported by type http: it opens a new connection for every attempt (persistent: postgres, redis, mysql, amqp, nats, mqtt, grpc)' },
    ]);
  });

  it('reconnectEvery on a fresh check is an error; it must be a whole number from 1', () => {
    expect(issuesOf(`checks:\n  db: { type: postgres, url: "postgres://db/app", reconnectEvery: 5 }\n`)).toMatchObject([
      { path: 'checks.db.reconnectEvery', message: "5 applies to connection: persistent only (this check's connection is fresh)" },
    ]);
    expect(issuesOf(`defaults: { reconnectEvery: 0 }\nchecks: {}\n`)[0]).toMatchObject({ path: 'defaults.reconnectEvery' });
    expect(issuesOf(`defaults: { connection: sometimes }\nchecks: {}\n`)[0]).toMatchObject({ path: 'defaults.connection' });
  });
  it('defaults.reconnectEvery that no check can use (no check keeps a connection) is a warning; with one that does, none', () => {
    expect(parse(`defaults: { reconnectEvery: 10 }\nchecks:\n  db: ${DB}\n`).warnings).toEqual([
      'defaults.reconnectEvery: 10 applies to connection: persistent only, and no check keeps a connection (defaults.connection is fresh)',
    ]);
    expect(parse(`defaults: { reconnectEvery: 10 }\nchecks:\n  db: ${DB.replace(' }', ', connection: persistent }')}\n  web: ${WEB}\n`).warnings).toEqual([]);
    expect(parse(`defaults: { reconnectEvery: 10, connection: persistent }\nchecks:\n  web: ${WEB}\n`).warnings).toEqual([
      'defaults.reconnectEvery: 10 applies to connection: persistent only, and no check keeps a connection (defaults.connection is persistent)',
    ]);
  });
});
