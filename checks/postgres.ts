// postgres: open a fresh connection with `url`, run `query` (default SELECT 1), close. A fresh
// connection per attempt is what an application's new connection would meet (auth, max_connections,
// a full disk at backend start); a kept one could hide it.
import { z } from 'zod';
import type { CheckKind } from '../src/check.js';
import { CheckError, reasonFromSocketError, describeSocketError } from '../src/errors.js';

const options = z.strictObject({
  url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
    .describe('Connection URL, e.g. postgres://app:${PG_PASSWORD}@db:5432/app?sslmode=require'),
  query: z.string().min(1).optional().describe('Query to run. Default SELECT 1.'),
});
export type PostgresOptions = z.output<typeof options>;

const APPLICATION_NAME = 'vigil';

export const postgres: CheckKind<PostgresOptions> = {
  type: 'postgres',
  componentType: 'datastore',
  options,
  schemes: ['postgres', 'postgresql'],
  async prepare() {
    await import('pg');
  },
  async run({ url, query = 'SELECT 1' }, { signal, timeoutMs }) {
    // Loaded on first use: an agent without postgres checks never pays for the driver.
    const { default: pg } = await import('pg');
    const target = describeTarget(url);
    const client = new pg.Client({
      connectionString: url,
      application_name: APPLICATION_NAME,
      connectionTimeoutMillis: timeoutMs,
      // Ends a slow query on the server too, not only our wait for it.
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs,
    });
    // The driver emits late socket errors on the client; the attempt's promise already reports them.
    client.on('error', () => undefined);
    // end() waits for the server to close, which a hung server never does: destroy the socket instead.
    const destroy = () => (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    signal.addEventListener('abort', destroy, { once: true });
    try {
      await client.connect();
      await client.query(query);
      await client.end();
    } catch (error) {
      destroy();
      if (signal.aborted) throw signal.reason;
      throw translate(error, target);
    } finally {
      signal.removeEventListener('abort', destroy);
    }
  },
};

/** host:port/database, never the user or password. */
function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres ${parsed.hostname || 'localhost'}:${parsed.port || 5432}${parsed.pathname.length > 1 ? parsed.pathname : ''}`;
  } catch {
    return 'postgres';
  }
}

function translate(error: unknown, target: string): CheckError {
  const socketReason = reasonFromSocketError(error);
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = (error as Error)?.message ?? String(error);
  const sqlState = (error as { code?: unknown }).code;
  if (typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState)) {
    // Class 28: invalid authorization; 3D000: the database does not exist (or is not ours to see).
    if (sqlState.startsWith('28') || sqlState === '3D000') return new CheckError('auth', `${target} refused the login: ${message} (SQLSTATE ${sqlState})`, { cause: error });
    if (sqlState === '57014') return new CheckError('timeout', `${target}: the query was cancelled at the timeout (SQLSTATE 57014)`, { cause: error });
    return new CheckError('body', `${target} answered with an error: ${message} (SQLSTATE ${sqlState})`, { cause: error });
  }
  if (/timeout expired/i.test(message)) return new CheckError('connect_timeout', `${target}: connection timed out`, { cause: error });
  if (/SSL|certificate|self.signed/i.test(message)) return new CheckError('tls', `${target}: TLS failed: ${message}`, { cause: error });
  if (/terminated unexpectedly|Unexpected|protocol|Received unexpected/i.test(message)) {
    return new CheckError('protocol', `${target} does not speak the PostgreSQL protocol or closed the connection: ${message}`, { cause: error });
  }
  return new CheckError('unknown', `${target}: ${message}`, { cause: error });
}
