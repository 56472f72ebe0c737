// A throw-away PgBouncer (Debian's package) on a free port, in front of the shared PostgreSQL, with
// its own ini in a temp folder. It refuses to run as root: it runs as the postgres user.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, waitFor } from './net.js';
import { PG_URL } from './services.js';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  readonly port: number;
  /** A URL for the database `test` through the pooler, as the postgres user. */
  readonly url: string;
  log(): string;
  stop(): Promise<void>;
}

export type PoolMode = 'session' | 'transaction' | 'statement';

/** `settings`: more lines of its [pgbouncer] section (client_idle_timeout = 1, say). */
export async function startPgBouncer(poolMode: PoolMode, settings: readonly string[] = []): Promise<PgBouncer> {
  const upstream = new URL(PG_URL);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pgbouncer-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const ini = join(dir, 'pgbouncer.ini');
  const logfile = join(dir, 'pgbouncer.log');
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    ini,
    [
      '[databases]',
      `test = host=${upstream.hostname} port=${upstream.port || 5432} dbname=test`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = ${poolMode}`,
      // One server connection: consecutive clients share it, so anything a client leaves on it shows.
      'default_pool_size = 1',
      `logfile = ${logfile}`,
      ...settings,
      '',
    ].join('\n'),
  );
  for (const file of ['userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, file), uid, gid);
  const child: ChildProcess = spawn(PGBOUNCER, ['-u', 'postgres', ini], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const log = () => {
    try {
      return readFileSync(logfile, 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  await waitFor(`pgbouncer on ${port} (${log()})`, () => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${log()}`);
    return new Promise<boolean | undefined>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(undefined));
    });
  });
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
