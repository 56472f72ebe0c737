// The details policy against the built CLI: what callers from other addresses, from loopback,
// through a reverse proxy in the pod and with the bearer token see; the token file and its rotation.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { startUpstream, waitFor } from '../helpers/net.js';
import { agentsAsGiven, otherAddress, type AgentAsGiven } from '../helpers/serve-as-given.js';

const serve = agentsAsGiven(afterEach);
const closers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const closer of closers.splice(0)) await closer.close().catch(() => undefined);
});

async function upstream() {
  const started = await startUpstream((_req, res) => res.end('ok'));
  closers.push(started);
  return started;
}

async function body(url: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(url, { headers });
  return res.json();
}

describe('details policy (built CLI)', () => {
  it('details policy: exposeDetails defaults to false: other callers see the status only; loopback callers and bearer-token holders see details', async () => {
    const api = await upstream();
    const token = join(mkdtempSync(join(tmpdir(), 'vigil-token-')), 'token');
    writeFileSync(token, 'open-sesame\n');
    const agent = await serve(`server: { detailsTokenFile: ${token} }\nchecks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '0.0.0.0']);
    const other = `http://${otherAddress()}:${agent.port}`;
    await waitFor('ready', async () => (await fetch(`${other}/health/ready`)).status === 200);
    const hidden = await body(`${other}/health/ready`);
    expect(hidden.status).toBe('pass');
    expect(hidden).not.toHaveProperty('checks');
    expect(await body(`${other}/health`)).not.toHaveProperty('checks');
    expect((await body(`${other}/health/ready`, { Authorization: 'Bearer open-sesame' })).checks).toHaveProperty('api:responseTime');
    expect((await body(`http://127.0.0.1:${agent.port}/health/ready`)).checks).toHaveProperty('api:responseTime');
    // Neither a 404 names the groups or endpoints to them.
    expect(await body(`${other}/health/nosuchgroup`)).toEqual({ error: 'no health group "nosuchgroup"' });
    expect(await body(`${other}/nope`)).toEqual({ error: 'not found' });
  });

  it('details policy behind a proxy: every caller arrives from loopback; trustLoopback: false treats them like any other', async () => {
    const api = await upstream();
    const token = join(mkdtempSync(join(tmpdir(), 'vigil-token-')), 'token');
    writeFileSync(token, 'open-sesame');
    const through = async (agent: AgentAsGiven): Promise<FaultProxy> => {
      // A reverse proxy in the pod: it connects to the agent from 127.0.0.1, whoever the caller is.
      const proxy = await startFaultProxy('127.0.0.1', agent.port);
      closers.push(proxy);
      return proxy;
    };
    const config = (trustLoopback?: boolean) =>
      `server: { detailsTokenFile: ${token}${trustLoopback === undefined ? '' : `, trustLoopback: ${trustLoopback}`} }\nchecks:\n  api: { type: http, url: "${api.url}/" }\n`;
    const trusting = await through(await serve(config()));
    // The caveat: with the default, the proxy's callers are all "loopback" and see details.
    expect((await body(`http://127.0.0.1:${trusting.port}/health`)).checks).toHaveProperty('api:responseTime');

    const proxied = await through(await serve(config(false)));
    expect(await body(`http://127.0.0.1:${proxied.port}/health`)).not.toHaveProperty('checks');
    expect(await body(`http://127.0.0.1:${proxied.port}/health/nosuchgroup`)).toEqual({ error: 'no health group "nosuchgroup"' });
    expect((await body(`http://127.0.0.1:${proxied.port}/health`, { Authorization: 'bearer open-sesame' })).checks).toHaveProperty('api:responseTime');
  });

  it('details token: an empty or whitespace-only token file logs a warning and unlocks nothing', async () => {
    const api = await upstream();
    for (const content of ['', '  \n\t\n']) {
      const token = join(mkdtempSync(join(tmpdir(), 'vigil-token-')), 'token');
      writeFileSync(token, content);
      const agent = await serve(`server: { detailsTokenFile: ${token}, exposeDetails: false }\nchecks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '0.0.0.0']);
      const warning = agent.logLines().find((l) => l.level === 'warn' && /detailsTokenFile is empty/.test(String(l.msg)));
      expect(warning, agent.output()).toMatchObject({ file: token });
      for (const header of ['Bearer', 'Bearer ', 'Bearer  ']) {
        expect(await body(`http://${otherAddress()}:${agent.port}/health`, { Authorization: header })).not.toHaveProperty('checks');
      }
    }
  });

  it('details token: the token file is watched like the config; a rotated token applies without SIGHUP', async () => {
    const api = await upstream();
    // The way a Kubernetes Secret volume changes: a new folder, then an atomic swap of the link.
    const dir = mkdtempSync(join(tmpdir(), 'vigil-token-'));
    writeFileSync(join(dir, 'token'), 'first-token\n');
    const agent = await serve(`server: { detailsTokenFile: ${join(dir, 'token')}, exposeDetails: false }\nchecks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '0.0.0.0']);
    const url = `http://${otherAddress()}:${agent.port}/health`;
    expect((await body(url, { Authorization: 'Bearer first-token' })).checks).toHaveProperty('api:responseTime');
    writeFileSync(join(dir, 'token.next'), 'second-token\n');
    renameSync(join(dir, 'token.next'), join(dir, 'token'));
    await waitFor('the second token to unlock details', async () => (await body(url, { Authorization: 'Bearer second-token' })).checks !== undefined, 5000);
    expect(await body(url, { Authorization: 'Bearer first-token' })).not.toHaveProperty('checks');
    // The config watcher watches the token file too: its change reloads the config, which reads it again.
    expect(agent.logLines().some((l) => l.msg === 'configuration reloaded')).toBe(true);
    expect(agent.output()).not.toMatch(/first-token|second-token/);
  });

  it('details token: a token file replaced by a FIFO or an oversized file neither blocks the agent nor changes the token', async () => {
    const api = await upstream();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-token-'));
    writeFileSync(join(dir, 'token'), 'first-token\n');
    const agent = await serve(`server: { detailsTokenFile: ${join(dir, 'token')}, exposeDetails: false }\nchecks:\n  api: { type: http, url: "${api.url}/" }\n`, ['--host', '0.0.0.0']);
    const url = `http://${otherAddress()}:${agent.port}/health`;
    const reloadFailures = async () => Number(/vigil_config_reloads_total\{result="failure"\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text())?.[1]);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    writeFileSync(join(dir, 'huge'), 'x'.repeat(1024 * 1024));
    let failures = 0;
    for (const file of ['fifo', 'huge']) {
      renameSync(join(dir, file), join(dir, 'token'));
      await waitFor(`the reload with the token file as ${file} to be refused`, async () => (await reloadFailures()) > failures, 10_000);
      failures = await reloadFailures();
      // The agent answers at once, and the running token still unlocks details.
      expect((await fetch(`http://127.0.0.1:${agent.port}/health/live`)).status).toBe(200);
      expect((await body(url, { Authorization: 'Bearer first-token' })).checks).toHaveProperty('api:responseTime');
      expect(await body(url, { Authorization: `Bearer ${'x'.repeat(4096)}` })).not.toHaveProperty('checks');
    }
  });
});
