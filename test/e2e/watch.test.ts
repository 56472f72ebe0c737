// Watching (built CLI): the config reached through a symbolic link into another folder, and the
// secret files it names (VAR_FILE), reload on change without a SIGHUP.
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, serve, type Served } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';

const running: Served[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) agent.kill();
  for (const upstream of upstreams.splice(0)) await upstream.close();
});

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'vigil-watch-'));
}

async function start(path: string, env: Record<string, string> = {}): Promise<Served> {
  const agent = await serve(['--config', path], await freePort(), env);
  running.push(agent);
  return agent;
}

async function checkNames(agent: Served): Promise<string> {
  return Object.keys((await getJson(`${agent.url}/health`)).body.checks).filter((k) => k.endsWith(':responseTime')).map((k) => k.replace(/:responseTime$/, '')).sort().join();
}

/** An upstream that answers 200 only to `Authorization: Bearer <accepted token>`. */
async function guarded(): Promise<Upstream & { accept(token: string): void }> {
  let accepted = '';
  const up = await startUpstream((req, res) => {
    res.statusCode = req.headers.authorization === `Bearer ${accepted}` ? 200 : 401;
    res.end();
  });
  upstreams.push(up);
  return Object.assign(up, { accept: (token: string) => void (accepted = token) });
}

const tcp = (name: string) => `  ${name}: { type: tcp, host: 127.0.0.1, port: 1, critical: false }\n`;

async function statusOf(agent: Served, name: string): Promise<string | undefined> {
  return (await getJson(`${agent.url}/health`)).body.checks[`${name}:responseTime`]?.[0]?.status;
}

describe('watching: a --config that is a symlink to another folder is watched through the link', () => {
  it('reloads when the target changes in its own folder', async () => {
    const target = join(tempDir(), 'vigil.yaml');
    writeFileSync(target, `checks:\n${tcp('a')}`);
    const link = join(tempDir(), 'vigil.yaml');
    symlinkSync(target, link);
    const agent = await start(link);
    expect(await checkNames(agent)).toBe('a');

    writeFileSync(target, `checks:\n${tcp('a')}${tcp('b')}`);
    await waitFor('b added', async () => (await checkNames(agent)) === 'a,b', 5000);
    // And when the target is replaced by a rename in its folder.
    writeFileSync(`${target}.next`, `checks:\n${tcp('c')}`);
    renameSync(`${target}.next`, target);
    await waitFor('c instead', async () => (await checkNames(agent)) === 'c', 5000);
  });

  it('follows a link that is re-pointed to a file in yet another folder', async () => {
    const first = join(tempDir(), 'vigil.yaml');
    const second = join(tempDir(), 'vigil.yaml');
    writeFileSync(first, `checks:\n${tcp('a')}`);
    writeFileSync(second, `checks:\n${tcp('b')}`);
    const folder = tempDir();
    symlinkSync(first, join(folder, 'vigil.yaml'));
    const agent = await start(join(folder, 'vigil.yaml'));

    symlinkSync(second, join(folder, 'next'));
    renameSync(join(folder, 'next'), join(folder, 'vigil.yaml'));
    await waitFor('b from the second folder', async () => (await checkNames(agent)) === 'b', 5000);
    // The new target's folder is watched from now on; the old one no longer matters.
    writeFileSync(second, `checks:\n${tcp('b')}${tcp('c')}`);
    await waitFor('c added in the second folder', async () => (await checkNames(agent)) === 'b,c', 5000);
  });
});

describe('watching: *_FILE secrets are watched too (a rotated password applies without SIGHUP)', () => {
  const config = (url: string) => `checks:\n  api: { type: http, url: "${url}/", interval: 200ms, timeout: 150ms, headers: { Authorization: "Bearer \${API_TOKEN}" } }\n`;

  it('a token file rewritten in place applies at once', async () => {
    const up = await guarded();
    up.accept('token-one');
    const secrets = tempDir();
    writeFileSync(join(secrets, 'api-token'), 'token-one\n');
    const path = join(tempDir(), 'vigil.yaml');
    writeFileSync(path, config(up.url));
    const agent = await start(path, { API_TOKEN_FILE: join(secrets, 'api-token') });
    await waitFor('api passes', async () => (await statusOf(agent, 'api')) === 'pass');

    up.accept('token-two');
    await waitFor('api fails with the old token', async () => (await statusOf(agent, 'api')) === 'fail');
    writeFileSync(join(secrets, 'api-token'), 'token-two\n');
    await waitFor('api passes with the rotated token', async () => (await statusOf(agent, 'api')) === 'pass', 5000);
    expect(agent.output()).toContain('configuration reloaded');
    expect(agent.output()).not.toContain('token-two');
  });

  it('a Kubernetes Secret update (the ..data symlink swapped) applies at once', async () => {
    const up = await guarded();
    up.accept('token-one');
    // The kubelet's layout: api-token -> ..data/api-token, ..data -> ..<timestamp>/
    const secrets = tempDir();
    mkdirSync(join(secrets, '..2026_01'));
    writeFileSync(join(secrets, '..2026_01', 'api-token'), 'token-one');
    symlinkSync('..2026_01', join(secrets, '..data'));
    symlinkSync('..data/api-token', join(secrets, 'api-token'));
    const path = join(tempDir(), 'vigil.yaml');
    writeFileSync(path, config(up.url));
    const agent = await start(path, { API_TOKEN_FILE: join(secrets, 'api-token') });
    await waitFor('api passes', async () => (await statusOf(agent, 'api')) === 'pass');

    up.accept('token-two');
    await waitFor('api fails with the old token', async () => (await statusOf(agent, 'api')) === 'fail');
    mkdirSync(join(secrets, '..2026_02'));
    writeFileSync(join(secrets, '..2026_02', 'api-token'), 'token-two');
    symlinkSync('..2026_02', join(secrets, '..data_tmp'));
    renameSync(join(secrets, '..data_tmp'), join(secrets, '..data'));
    await waitFor('api passes with the rotated token', async () => (await statusOf(agent, 'api')) === 'pass', 5000);

    // A second rotation: the watch follows the swapped link.
    up.accept('token-three');
    await waitFor('api fails with the old token', async () => (await statusOf(agent, 'api')) === 'fail');
    mkdirSync(join(secrets, '..2026_03'));
    writeFileSync(join(secrets, '..2026_03', 'api-token'), 'token-three');
    symlinkSync('..2026_03', join(secrets, '..data_tmp'));
    renameSync(join(secrets, '..data_tmp'), join(secrets, '..data'));
    await waitFor('api passes with the second rotated token', async () => (await statusOf(agent, 'api')) === 'pass', 5000);
  });

  it('a secret file that a reload starts to use is watched from then on', async () => {
    const up = await guarded();
    up.accept('token-one');
    const secrets = tempDir();
    writeFileSync(join(secrets, 'api-token'), 'token-one');
    const path = join(tempDir(), 'vigil.yaml');
    writeFileSync(path, `checks:\n${tcp('a')}`);
    const agent = await start(path, { API_TOKEN_FILE: join(secrets, 'api-token') });

    writeFileSync(path, config(up.url));
    await waitFor('api passes', async () => (await statusOf(agent, 'api')) === 'pass', 5000);
    up.accept('token-two');
    await waitFor('api fails with the old token', async () => (await statusOf(agent, 'api')) === 'fail');
    writeFileSync(join(secrets, 'api-token'), 'token-two');
    await waitFor('api passes with the rotated token', async () => (await statusOf(agent, 'api')) === 'pass', 5000);
  });
});
