// The Dockerfile, parsed with a real Dockerfile parser, and its runtime stage reproduced on this
// machine (no Docker engine here): what its COPY lines copy, its production install, its
// ENTRYPOINT+CMD as an unprivileged user on a read-only folder, and its HEALTHCHECK command.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/net.js';
import { REDIS_URL } from '../helpers/services.js';

const dockerfile = DockerfileParser.parse(readFileSync('Dockerfile', 'utf8'));
const instructions = dockerfile.getInstructions();
const froms = dockerfile.getFROMs();
const runtimeStart = froms[froms.length - 1]!.getRange().start.line;
const runtime = instructions.filter((i) => i.getRange().start.line >= runtimeStart);
const one = (keyword: string) => runtime.filter((i) => i.getKeyword() === keyword);
const execArgs = (i: Instruction) => JSON.parse(i.getRawArgumentsContent()!.replace(/^CMD\s+/, '')) as string[];
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('Dockerfile', () => {
  it('is multi-stage, with the runtime on a current Node LTS slim image', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]!.getBuildStage()).toBe('build');
    const image = froms[froms.length - 1]!.getImageName() + ':' + froms[froms.length - 1]!.getImageTag();
    expect(image).toMatch(/^node:(2[02468])-(\w+-)?slim$/);
  });

  it('installs only production dependencies in the runtime stage and copies the compiled output', () => {
    const runs = one('RUN').map((i) => i.getRawArgumentsContent());
    expect(runs.some((r) => /npm ci --omit=dev/.test(r!))).toBe(true);
    const fromBuild = one('COPY').filter((i) => (i as Copy).getFromFlag()?.getValue() === 'build');
    expect(fromBuild.map((i) => i.getArguments()[0]!.getValue())).toEqual(['/src/dist']);
  });

  it('runs as a non-root numeric user, exposes 9898, uses exec form, and has a HEALTHCHECK through vigil probe', () => {
    const user = one('USER').at(-1)!.getRawArgumentsContent()!;
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(one('EXPOSE').map((i) => i.getRawArgumentsContent())).toEqual(['9898']);
    const entrypoint = execArgs(one('ENTRYPOINT')[0]!);
    expect(entrypoint[0]).toBe('node');
    expect(entrypoint.at(-1)).toBe('/app/dist/src/cli.js');
    expect(execArgs(one('CMD')[0]!)).toEqual(['serve']);
    const healthcheck = one('HEALTHCHECK')[0]!.getRawArgumentsContent()!;
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()) as string[];
    expect(command).toEqual([...entrypoint, 'probe']);
  });

  it('carries OCI labels, the version matching package.json', () => {
    const labels = one('LABEL').map((i) => i.getRawArgumentsContent()).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version']) expect(labels).toContain(`org.opencontainers.image.${key}=`);
    expect(labels).toContain(`org.opencontainers.image.version="${pkg.version}"`);
  });

  it('has a .dockerignore that keeps local state out of the context', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignored).toContain(entry);
  });
});

describe('the runtime stage, reproduced', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-image-'));
  const workdir = one('WORKDIR').at(-1)!.getRawArgumentsContent()!; // /app
  const app = join(root, workdir);
  const [node, ...entry] = execArgs(one('ENTRYPOINT')[0]!).map((a) => a.replaceAll(workdir, app));
  let child: ReturnType<typeof spawn> | undefined;
  let port = 0;

  beforeAll(async () => {
    mkdirSync(app, { recursive: true });
    // Exactly what the COPY lines copy: from the context, or from the build stage's output.
    for (const copy of one('COPY')) {
      const args = copy.getArguments().map((a) => a.getValue());
      const fromBuild = (copy as Copy).getFromFlag()?.getValue() === 'build';
      const [dest, ...sources] = args.reverse();
      for (const source of sources.reverse()) {
        const local = fromBuild ? relative('/src', source) : source; // the build stage's WORKDIR is /src
        const target = dest!.endsWith('/') ? join(app, dest!, local.split('/').at(-1)!) : join(app, dest!);
        expect(existsSync(local), `${local} (COPY ${source})`).toBe(true);
        cpSync(local, target, { recursive: true });
      }
    }
    // The runtime stage's RUN lines, with a throw-away npm cache.
    for (const run of one('RUN')) {
      const result = spawnSync('sh', ['-c', run.getRawArgumentsContent()!], { cwd: app, env: { ...process.env, npm_config_cache: join(root, 'npm-cache'), NODE_ENV: 'production' }, encoding: 'utf8' });
      expect(result.status, result.stderr).toBe(0);
    }
    // Read-only for everyone (root bypasses permissions, so the agent runs as nobody).
    const seal = (path: string) => {
      const isDir = statSync(path).isDirectory();
      chmodSync(path, isDir ? 0o555 : 0o444);
      if (isDir) for (const name of readdirSync(path)) seal(join(path, name));
    };
    seal(app);
    for (let dir = dirname(app); dir.startsWith(root); dir = dirname(dir)) chmodSync(dir, 0o555);
    const du = (path: string) => spawnSync('du', ['-sh', path], { encoding: 'utf8' }).stdout.split('\t')[0];
    console.log(`runtime stage ${workdir}: ${du(app)} in all, of which node_modules ${du(join(app, 'node_modules'))} (production dependencies)`);
  }, 180_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    spawnSync('chmod', ['-R', 'u+w', root]);
  });

  it('starts ENTRYPOINT+CMD as an unprivileged user on a read-only folder, and its HEALTHCHECK passes', async () => {
    port = await freePort();
    const env = { PATH: process.env.PATH!, VIGIL_PORT: String(port), VIGIL_HOST: '127.0.0.1', VIGIL_CHECK_CACHE: REDIS_URL };
    child = spawn(node!, [...entry, ...execArgs(one('CMD')[0]!)], { cwd: '/', env, uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitFor(`the agent to listen (output: ${output})`, async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200);

    const healthcheck = one('HEALTHCHECK')[0]!.getRawArgumentsContent()!;
    const [hcNode, ...hcArgs] = (JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()) as string[]).map((a) => a.replaceAll(workdir, app));
    const probe = spawnSync(hcNode!, hcArgs, { env, uid: 65534, gid: 65534, encoding: 'utf8' });
    expect(probe.status, probe.stderr).toBe(0);

    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child!.once('exit', resolve))).toBe(0);
    expect(output).not.toMatch(/EACCES|EROFS/);
  });

  it('vigil probe: its HEALTHCHECK asks the port set in the config file (VIGIL_CONFIG), not 9898', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-image-config-'));
    const config = join(dir, 'vigil.yaml');
    writeFileSync(config, `server: { port: ${port}, host: 127.0.0.1 }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);
    chmodSync(dir, 0o755);
    chmodSync(config, 0o644);
    const env = { PATH: process.env.PATH!, VIGIL_CONFIG: config };
    const agent = spawn(node!, [...entry, ...execArgs(one('CMD')[0]!)], { cwd: '/', env, uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    agent.stdout!.on('data', (d) => (output += d));
    agent.stderr!.on('data', (d) => (output += d));
    try {
      await waitFor(`the agent to listen (output: ${output})`, async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok);
      const healthcheck = one('HEALTHCHECK')[0]!.getRawArgumentsContent()!;
      const [hcNode, ...hcArgs] = (JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()) as string[]).map((a) => a.replaceAll(workdir, app));
      const probe = spawnSync(hcNode!, hcArgs, { env, uid: 65534, gid: 65534, encoding: 'utf8' });
      expect(probe.status, probe.stderr).toBe(0);
    } finally {
      agent.kill('SIGKILL');
    }
  });
});
