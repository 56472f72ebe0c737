// A throw-away PostgreSQL cluster (initdb in a temp folder, run as the postgres user on a free port)
// for tests that need settings the shared server must keep: TLS with a certificate made here by
// openssl (a CA, a server certificate for localhost and 127.0.0.1, a client certificate), a
// pg_hba.conf of the test's own, roles of its own.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** The generated files: ca.crt, other-ca.crt (a CA that signed nothing here), client.crt/key (CN client). */
  readonly files: { readonly ca: string; readonly otherCa: string; readonly clientCert: string; readonly clientKey: string };
  /** postgres://user@host:port/postgres plus `params`. */
  url(user?: string, host?: string, params?: string): string;
  /** Runs SQL as the superuser over the cluster's Unix socket. */
  sql(text: string): string;
  stop(): void;
}

function asPostgres(command: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a server certificate (CN localhost, SAN localhost and 127.0.0.1), another CA, a client certificate. */
function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    openssl(dir, ['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=vigil test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  }
  const leaf = (name: string, cn: string, ext: string) => {
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  asPostgres(`${BIN}/initdb`, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  makeCertificates(dir);
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
    ...(options.tls ? ['-c ssl=on', `-c ssl_cert_file=${dir}/server.crt`, `-c ssl_key_file=${dir}/server.key`, `-c ssl_ca_file=${dir}/ca.crt`] : []),
  ];
  asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-l', join(dir, 'server.log'), '-o', settings.join(' '), '-w', 'start']);
  const cluster: Cluster = {
    port,
    dir,
    files: { ca: join(dir, 'ca.crt'), otherCa: join(dir, 'other-ca.crt'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') },
    url: (user = 'postgres', host = '127.0.0.1', params = '') => `postgres://${user}@${host}:${port}/postgres${params ? `?${params}` : ''}`,
    sql: (text) => asPostgres(`${BIN}/psql`, ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', text]),
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
