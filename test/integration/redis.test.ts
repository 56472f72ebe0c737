import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redis } from '../../checks/redis.js';
import { freePort, startUpstream, waitFor } from '../helpers/net.js';
import { expectTimeoutWithoutLeak, runOnce } from '../helpers/run.js';
import { REDIS_URL } from '../helpers/services.js';
import { startFakeRedis } from '../helpers/fake-redis.js';

/** A throw-away redis-server on a free port, with a password. */
async function startRedis(args: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
  const started = waitFor(`redis-server on ${port}`, () =>
    new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    }),
  );
  // Never leave a server behind when it did not come up.
  await started.catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

async function vigilClients(): Promise<number> {
  const admin = new Redis(REDIS_URL);
  const list = (await admin.client('LIST')) as string;
  await admin.quit();
  return list.split('\n').filter((line) => / name=vigil /.test(line)).length;
}

describe('redis check against a real server', () => {
  let secured: Awaited<ReturnType<typeof startRedis>>;
  beforeAll(async () => {
    secured = await startRedis(['--requirepass', 'pa55word-for-test']);
  });
  afterAll(async () => secured.stop());

  it('passes on a healthy server (PING answered PONG)', async () => {
    expect(await runOnce(redis, { url: REDIS_URL })).toMatchObject({ ok: true });
  });

  it('fails with auth when the server requires a password that was not given', async () => {
    const result = await runOnce(redis, { url: `redis://127.0.0.1:${secured.port}` });
    expect(result).toMatchObject({ ok: false, reason: 'auth' });
    expect(result.message).toMatch(/NOAUTH|Authentication required/i);
  });

  it('fails with auth on a wrong password, and passes with the right one', async () => {
    expect(await runOnce(redis, { url: `redis://:wrong-password@127.0.0.1:${secured.port}` })).toMatchObject({ ok: false, reason: 'auth' });
    expect(await runOnce(redis, { url: `redis://:pa55word-for-test@127.0.0.1:${secured.port}` })).toMatchObject({ ok: true });
  });

  it('fails with connect_refused on a closed port', async () => {
    expect(await runOnce(redis, { url: `redis://127.0.0.1:${await freePort()}` })).toMatchObject({ ok: false, reason: 'connect_refused' });
  });

  it('fails with protocol when pointed at an HTTP server', async () => {
    const web = await startUpstream((_req, res) => res.writeHead(400).end('bad request'));
    const result = await runOnce(redis, { url: `redis://127.0.0.1:${web.port}` });
    expect(result).toMatchObject({ ok: false, reason: 'protocol' });
    await web.close();
  });

  it('fails at its timeout against a server that never answers, leaving no socket open', async () => {
    await expectTimeoutWithoutLeak(redis, (port) => ({ url: `redis://127.0.0.1:${port}` }));
  });

  it('leaves no client connected after its attempts', async () => {
    for (let i = 0; i < 10; i++) await runOnce(redis, { url: REDIS_URL });
    await waitFor('vigil clients to disconnect', async () => (await vigilClients()) === 0, 3000);
  });

  it('the Redis URL database index is verified: /99 on a 16-database server fails with body naming it', async () => {
    const databases = Number(((await admin().config('GET', 'databases')) as string[])[1]);
    expect(databases).toBeLessThan(99);
    const result = await runOnce(redis, { url: withDb(REDIS_URL, 99) });
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message).toMatch(/refused to select database 99: ERR DB index is out of range/);
    expect(await runOnce(redis, { url: withDb(REDIS_URL, databases - 1) })).toMatchObject({ ok: true });
  });

  it('reasons: rediss:// to a plain (non-TLS) Redis is tls, before the deadline', async () => {
    const started = Date.now();
    const result = await runOnce(redis, { url: REDIS_URL.replace(/^redis:/, 'rediss:') }, 1000);
    expect(result).toMatchObject({ ok: false, reason: 'tls' });
    expect(result.message).toMatch(/TLS handshake with redis 127\.0\.0\.1:6379\S* did not complete within 900 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

let adminClient: Redis | undefined;
function admin(): Redis {
  adminClient ??= new Redis(REDIS_URL);
  return adminClient;
}
afterAll(async () => {
  await adminClient?.quit();
});

function withDb(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.href;
}

describe('output is unbounded: what a redis check quotes from its peer is cut short', () => {
  it('a 500 KB -ERR line is quoted at most 200 characters long, without control characters', async () => {
    const server = await startFakeRedis({ ping: `-ERR ${'\u001b[2J'.repeat(100_000)}\r\n` });
    const result = await runOnce(redis, { url: server.url });
    await server.close();
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message!.length).toBeLessThan(400);
    expect(result.message).not.toMatch(/\u001b/);
  });

  it('a 500 KB answer to PING other than PONG is quoted at most 200 characters long', async () => {
    const server = await startFakeRedis({ ping: `+${'LOADING '.repeat(60_000)}\r\n` });
    const result = await runOnce(redis, { url: server.url });
    await server.close();
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message!.length).toBeLessThan(400);
  });
});
