// redis: connect with `url` (redis:// or rediss://), PING, expect PONG, disconnect. The client is
// built for a health check: no offline queue, no retries, no reconnect, a timeout on every command.
import type { RedisOptions as RedisClientOptions } from 'ioredis';
import { z } from 'zod';
import type { CheckKind } from '../src/check.js';
import { CheckError, describeSocketError, reasonFromSocketError } from '../src/errors.js';
import { untilAborted } from './support/abort.js';

const options = z.strictObject({
  url: z
    .string()
    .regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
    .describe('Connection URL, e.g. redis://:${REDIS_PASSWORD}@cache:6379/0; rediss:// for TLS.'),
});
export type RedisOptions = z.output<typeof options>;

export const redis: CheckKind<RedisOptions> = {
  type: 'redis',
  componentType: 'datastore',
  options,
  schemes: ['redis', 'rediss'],
  async prepare() {
    await import('ioredis');
  },
  async run({ url }, { signal, timeoutMs }) {
    // Loaded on first use: an agent without redis checks never pays for the driver.
    const { Redis } = await import('ioredis');
    const target = describeTarget(url);
    const client = new Redis(url, clientOptions(timeoutMs));
    // ioredis rejects connect() with only "Connection is closed."; the reason arrives here.
    let lastError: unknown;
    client.on('error', (error) => {
      lastError ??= error;
    });
    try {
      // On abort the attempt ends at once: ioredis's own promise settles ~2 s after disconnect()
      // against a hung server, and would hold the next attempt back.
      const reply = await untilAborted(
        signal,
        async () => {
          await client.connect();
          return client.ping();
        },
        () => client.disconnect(),
      );
      if (reply !== 'PONG') throw new CheckError('body', `${target} answered PING with ${JSON.stringify(reply)}, expected "PONG"`);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw translate(lastError ?? error, target);
    } finally {
      client.disconnect();
    }
  },
};

/** A client for one health attempt: no offline queue, no retries, no reconnect, bounded waits. */
export function clientOptions(timeoutMs: number): RedisClientOptions {
  return {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // The ready check sends an INFO on every connect: a third more CPU per attempt, for nothing here.
    enableReadyCheck: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResendUnfulfilledCommands: false,
    connectionName: 'vigil',
  };
}

/** host:port/db, never the password. */
function describeTarget(url: string): string {
  try {
    const parsed = new URL(url);
    return `redis ${parsed.hostname || 'localhost'}:${parsed.port || 6379}${parsed.pathname.length > 1 ? parsed.pathname : ''}`;
  } catch {
    return 'redis';
  }
}

function translate(error: unknown, target: string): CheckError {
  if (error instanceof CheckError) return error;
  const socketReason = reasonFromSocketError(error);
  if (socketReason) return new CheckError(socketReason, describeSocketError(error, target), { cause: error });
  const message = (error as Error)?.message ?? String(error);
  if (/NOAUTH|WRONGPASS|invalid password|invalid username|AUTH.*failed|NOPERM/i.test(message)) {
    return new CheckError('auth', `${target} refused the login: ${message}`, { cause: error });
  }
  if (/Protocol error|Unknown RESP type|unexpected|parse/i.test(message)) {
    return new CheckError('protocol', `${target} does not speak the Redis protocol: ${message.replace(/ Please report this\.$/, '')}`, { cause: error });
  }
  if (/Command timed out|connect ETIMEDOUT/i.test(message)) return new CheckError('timeout', `${target}: ${message}`, { cause: error });
  if (/Connection is closed/i.test(message)) return new CheckError('protocol', `${target} closed the connection`, { cause: error });
  if ((error as { name?: string }).name === 'ReplyError') return new CheckError('body', `${target} answered with an error: ${message}`, { cause: error });
  return new CheckError('unknown', `${target}: ${message}`, { cause: error });
}
