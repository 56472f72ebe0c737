// A throw-away DNS resolver: Debian's dnsmasq (package dnsmasq-base) on a free loopback port with its
// records given on the command line; no configuration file, no /etc/hosts, no upstream unless asked.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './net.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';

/**
 * The zone the tests ask about. Names under `test.` are answered from here only: an unknown name is
 * NXDOMAIN, a known name without the asked type has no data; a name outside `test.` is REFUSED (no
 * upstream to ask).
 */
export const TEST_ZONE: readonly string[] = [
  '--local=/test/',
  '--host-record=app.test,127.0.0.10,::10',
  '--host-record=multi.test,127.0.0.11',
  '--host-record=multi.test,127.0.0.12',
  '--host-record=multi.test,127.0.0.13',
  '--cname=www.app.test,app.test',
  '--srv-host=_http._tcp.app.test,app.test,8080,0,10',
  '--mx-host=app.test,mail.app.test,10',
  '--txt-record=app.test,v=spf1 -all',
];

export interface Dnsmasq {
  readonly host: string;
  readonly port: number;
  /** `127.0.0.1:PORT`, as a dns check's `server`. */
  readonly server: string;
  log(): string;
  stop(): Promise<void>;
}

/** Starts dnsmasq with `args` on a free port of 127.0.0.1 (UDP and TCP), once it serves. */
export async function startDnsmasq(args: readonly string[] = TEST_ZONE): Promise<Dnsmasq> {
  let lastLog = '';
  // freePort finds a free TCP port; dnsmasq also needs the UDP one, which may be taken: try another.
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      DNSMASQ,
      ['--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', ...args],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const outcome = await new Promise<'started' | 'exited'>((resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot run ${DNSMASQ} (Debian package dnsmasq-base; .ci/run installs it): ${error.message}`)));
      child.once('exit', () => resolve('exited'));
      // Logged once its sockets are bound.
      child.stderr!.on('data', () => log.includes('started, version') && resolve('started'));
    });
    if (outcome === 'started') {
      return {
        host: '127.0.0.1',
        port,
        server: `127.0.0.1:${port}`,
        log: () => log,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    lastLog = log;
    if (!/address already in use/i.test(log)) break;
  }
  throw new Error(`dnsmasq did not start: ${lastLog}`);
}
