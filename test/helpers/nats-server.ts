// A throw-away nats-server (Debian's package) on free ports, with its own configuration and store in
// a temp folder, and its monitoring port open so a test can ask it which connections it holds.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';

export const NATS_SERVER = '/usr/sbin/nats-server';

export interface NatsServer {
  readonly host: string;
  readonly port: number;
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  /** The folder holding its configuration: a test may put files there (credentials). */
  readonly dir: string;
  /** Client connections the server holds now, as its /connz reports them. */
  connections(): Promise<readonly NatsClientConnection[]>;
  log(): string;
  stop(): Promise<void>;
}

export interface NatsClientConnection {
  readonly port: number;
  readonly name?: string;
}

export interface NatsServerOptions {
  /** JetStream on (with a store in the temp folder). Default true. */
  readonly jetstream?: boolean;
  /** More configuration, in nats-server's syntax (authorization, accounts, limits). */
  readonly config?: string;
  /** The client port: a free one by default (a restart takes the port it had). */
  readonly port?: number;
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nats-'));
  const [port, monitorPort] = [options.port ?? (await freePort()), await freePort()];
  const logfile = join(dir, 'nats-server.log');
  const config = join(dir, 'nats-server.conf');
  writeFileSync(
    config,
    [
      'host: 127.0.0.1',
      `port: ${port}`,
      `http: "127.0.0.1:${monitorPort}"`,
      `log_file: "${logfile}"`,
      options.jetstream === false ? '' : `jetstream { store_dir: "${join(dir, 'store')}", max_memory_store: 64MB, max_file_store: 64MB }`,
      options.config ?? '',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(NATS_SERVER, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const log = () => {
    try {
      return readFileSync(logfile, 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  // A new connection per question, closed after it: no pooled socket stays open in the test process.
  const monitor = (path: string) =>
    new Promise<unknown>((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port: monitorPort, path, agent: false, headers: { connection: 'close' } }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          if (response.statusCode !== 200) return reject(new Error(`nats-server ${path} answered ${response.statusCode}`));
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error as Error);
          }
        });
      });
      request.on('error', reject);
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log()}`))));
  exited.catch(() => undefined);
  try {
    await Promise.race([waitFor(`nats-server on ${port}`, async () => (await monitor('/healthz').catch(() => undefined)) !== undefined), exited]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    url: `nats://127.0.0.1:${port}`,
    dir,
    async connections() {
      const { connections = [] } = (await monitor('/connz?limit=1024')) as { connections?: NatsClientConnection[] };
      return connections;
    },
    log,
    stop,
  };
}
