// The dns check without a server asks the system resolver: the nameservers of /etc/resolv.conf. The
// built CLI runs in a mount namespace of its own where /etc/resolv.conf names the test's dnsmasq, so
// the machine's resolver is neither changed nor asked.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, tempConfig, type Finished } from '../helpers/cli.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';

/** `vigil ARGS` with /etc/resolv.conf replaced by `resolvConf` for this process only. */
function runWithResolvConf(resolvConf: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const started = Date.now();
  const script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"';
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', resolvConf, process.execPath, CLI, ...args], {
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => setImmediate(() => resolve({ code, stdout, stderr, ms: Date.now() - started })));
  });
}

describe('dns check: the system resolver (no server)', () => {
  let resolver: Dnsmasq;
  let resolvConf: string;
  beforeAll(async () => {
    resolver = await startDnsmasq();
    // c-ares reads a port after the address; `search` is not applied to the check's name.
    resolvConf = join(dirname(tempConfig('')), 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${resolver.server}\nsearch test\n`);
  });
  afterAll(async () => resolver?.stop());

  it('asks the nameserver of /etc/resolv.conf, and names it in a failure', async () => {
    const config = tempConfig('checks:\n  app: { type: dns, name: app.test, expect: { equals: [127.0.0.10] } }\n  gone: { type: dns, name: gone.test, critical: false }\n  short: { type: dns, name: app, critical: false }\n');
    const run = await runWithResolvConf(resolvConf, ['check', '--json', '--config', config]);
    expect(run.code, run.stderr).toBe(0);
    const checks = Object.fromEntries((JSON.parse(run.stdout).checks as { name: string }[]).map((c) => [c.name, c]));
    expect(checks.app).toMatchObject({ status: 'pass' });
    expect(checks.gone).toMatchObject({ reason: 'dns', output: `dns A gone.test via the system resolver (${resolver.server}): NXDOMAIN: the name does not exist` });
    // The name is asked as written: the search list would have made it app.test.
    expect(checks.short).toMatchObject({ reason: 'dns' });
    expect(JSON.stringify(checks.short)).toContain('REFUSED');
  });

  it('environment-only mode: dns:///NAME?type=TYPE', async () => {
    const run = await runWithResolvConf(resolvConf, ['check', '--json'], { VIGIL_CHECK_APP6: 'dns:///app.test?type=AAAA' });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).checks[0]).toMatchObject({ name: 'app6', status: 'pass' });
  });
});
