// A throw-away MariaDB server (mariadb-install-db and mariadbd in a temp folder, on a free port) for
// tests that need settings the shared server must keep: TLS with the test's own certificates, a
// small max_connections, accounts with passwords.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { makeCertificates, type CertFiles } from './certs.js';
import { freePort, waitFor } from './net.js';

export interface MariaDbOptions {
  /** Serve TLS with the generated server certificate (and its CA for client certificates). */
  readonly tls?: boolean;
  /** mariadbd's max_connections. Default 50. */
  readonly maxConnections?: number;
}

export interface MariaDb {
  readonly port: number;
  readonly files: CertFiles;
  /** mysql://user[:password]@127.0.0.1:port/test plus `params`. */
  url(user?: string, password?: string, params?: string): string;
  /** Runs SQL as root over the server's Unix socket. */
  sql(text: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mariadb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const files = makeCertificates(dir);
  const port = await freePort();
  const server: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      '--user=root',
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${socket}`,
      `--pid-file=${join(dir, 'mariadbd.pid')}`,
      `--log-error=${join(dir, 'error.log')}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=16M',
      '--innodb-log-file-size=8M',
      `--max-connections=${options.maxConnections ?? 50}`,
      ...(options.tls ? [`--ssl-cert=${files.serverCert}`, `--ssl-key=${files.serverKey}`, `--ssl-ca=${files.ca}`] : []),
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const sql = async (text: string) => {
    const admin = await createConnection({ socketPath: socket, user: 'root', multipleStatements: true });
    try {
      return (await admin.query(text))[0];
    } finally {
      await admin.end();
    }
  };
  const stop = async () => {
    server.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('the throw-away MariaDB to accept logins', () => sql('CREATE DATABASE IF NOT EXISTS test').then(() => true, () => undefined), 20_000, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    files,
    url: (user = 'root', password, params) => `mysql://${user}${password === undefined ? '' : `:${encodeURIComponent(password)}`}@127.0.0.1:${port}/test${params ? `?${params}` : ''}`,
    sql,
    stop,
  };
}
