// A throw-away PostgreSQL cluster (initdb in a temp folder, run as the postgres user on a free port)
// for tests that need settings the shared server must keep: TLS with a certificate made by the
// test's own CA (certs.ts), a pg_hba.conf of the test's own, roles of its own.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificates, type CertFiles } from './certs.js';
import { freePort } from './net.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface ClusterOptions {
  /** Turn ssl on with the generated server certificate (and the CA for client certificates). */
  readonly tls?: boolean;
  /** pg_hba.conf lines; the default trusts every local and 127.0.0.1 connection. */
  readonly hba?: readonly string[];
  /** Addresses to listen on. Default 127.0.0.1. */
  readonly listen?: readonly string[];
}

export interface Cluster {
  readonly port: number;
  readonly dir: string;
  /** The generated certificates (the server's is in use when `tls` is on). */
  readonly files: CertFiles;
  /** postgres://user@host:port/postgres plus `params`. */
  url(user?: string, host?: string, params?: string): string;
  /** Runs SQL as the superuser over the cluster's Unix socket. */
  sql(text: string): string;
  /** Stops the server (fast shutdown: sessions are told, then closed), keeping its data. */
  halt(): void;
  /** Starts it again after halt(), with the same settings. */
  resume(): void;
  stop(): void;
}

function asPostgres(command: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const certs = makeCertificates(dir);
  for (const file of ['server.key', 'client.key']) {
    chmodSync(join(dir, file), 0o600);
    chownSync(join(dir, file), uid, gid);
  }
  const hba = options.hba ?? ['local all all trust', 'host all all 127.0.0.1/32 trust'];
  writeFileSync(join(data, 'pg_hba.conf'), `${hba.join('\n')}\n`);
  chownSync(join(data, 'pg_hba.conf'), uid, gid);
  const port = await freePort();
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses='${(options.listen ?? ['127.0.0.1']).join(',')}'`,
    '-c fsync=off',
    '-c max_connections=20',
    ...(options.tls ? ['-c ssl=on', `-c ssl_cert_file=${certs.serverCert}`, `-c ssl_key_file=${certs.serverKey}`, `-c ssl_ca_file=${certs.ca}`] : []),
  ];
  asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', join(dir, 'server.log'), '-o', settings.join(' '), '-w', 'start']);
  const cluster: Cluster = {
    port,
    dir,
    files: certs,
    url: (user = 'postgres', host = '127.0.0.1', params = '') => `postgres://${user}@${host}:${port}/postgres${params ? `?${params}` : ''}`,
    sql: (text) => asPostgres(`${BIN}/psql`, ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', text]),
    halt: () => void asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'fast', '-w', 'stop']),
    resume: () => void asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', join(dir, 'server.log'), '-o', settings.join(' '), '-w', 'start']),
    stop() {
      try {
        asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
