// A throw-away Mosquitto (Debian's package) on a free port with its own config in a temp folder:
// users and passwords, an ACL, a TLS listener, $SYS published every second — what the shared
// broker on 1883 (anonymous, never reconfigured) cannot be made to do.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface MosquittoSettings {
  /** Users and their passwords; with any, anonymous clients are refused. */
  readonly users?: Record<string, string>;
  /** The content of an acl_file (`user NAME`, `topic read|write|readwrite TOPIC`). */
  readonly acl?: string;
  /** Serve TLS on the port: server certificate and key, and the CA that signs client certificates when they are required. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile?: string; readonly requireCertificate?: boolean };
  /** More lines for the listener (e.g. `max_connections 1`) or the broker (`sys_interval 1`). */
  readonly lines?: readonly string[];
  /** The listener's port: a free one by default (a restart takes the port it had). */
  readonly port?: number;
}

export interface Mosquitto {
  readonly port: number;
  /** `mqtt://127.0.0.1:PORT` (mqtts:// with tls). */
  readonly url: string;
  log(): string;
  stop(): Promise<void>;
}

export async function startMosquitto(settings: MosquittoSettings = {}): Promise<Mosquitto> {
  const port = settings.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const logfile = join(dir, 'mosquitto.log');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'persistence false',
    `log_dest file ${logfile}`,
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
  ];
  // Run as root, Mosquitto would switch to its own user, which cannot read the temp folder.
  if (process.getuid?.() === 0) lines.push('user root');
  if (settings.users) {
    const passwords = join(dir, 'passwords');
    writeFileSync(passwords, '');
    for (const [user, password] of Object.entries(settings.users)) execFileSync('mosquitto_passwd', ['-b', passwords, user, password], { stdio: 'ignore' });
    lines.push('allow_anonymous false', `password_file ${passwords}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (settings.acl !== undefined) {
    writeFileSync(join(dir, 'acl'), settings.acl);
    lines.push(`acl_file ${join(dir, 'acl')}`);
  }
  if (settings.tls) {
    lines.push(`certfile ${settings.tls.certFile}`, `keyfile ${settings.tls.keyFile}`);
    if (settings.tls.caFile) lines.push(`cafile ${settings.tls.caFile}`);
    lines.push(`require_certificate ${settings.tls.requireCertificate ? 'true' : 'false'}`);
  }
  lines.push(...(settings.lines ?? []));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const log = () => {
    try {
      return readFileSync(logfile, 'utf8') + stderr;
    } catch {
      return stderr;
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The log says when the listener is open. A connection made to find out would be counted
    // wrongly by Mosquitto 2.0.11: closed before its CONNECT, it frees a place under max_connections.
    await waitFor(`mosquitto on ${port}`, () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${log()}`);
      return / running$/m.test(log()) || undefined;
    });
  } catch (error) {
    // Never leave a broker behind when it did not come up.
    await stop();
    throw error;
  }
  return { port, url: `${settings.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`, log, stop };
}
