// The image built from the repository's Dockerfile, as it is, by a real container engine, and run as
// a deployment runs it: host networking, read-only root filesystem, every capability dropped, no new
// privileges; its HEALTHCHECK run by the engine, its stop, its size, and a docker-compose equivalent of
// compose.yaml's vigil service with a dependant that waits for it.
// Needs an engine (the docker CLI and a daemon, DOCKER_HOST honoured; `.ci/engine up` starts one):
// without one the tests report themselves skipped with the reason, and VIGIL_REQUIRE_ENGINE=1 (CI)
// turns the missing engine into a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, engineTime, healthVerdict, inspect, probeEngine, run } from '../helpers/engine.js';
import { freePort, waitFor } from '../helpers/net.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const probe = probeEngine();
const required = process.env.VIGIL_REQUIRE_ENGINE === '1';
const skip = !probe.ok && !required;
const missingEngine = probe.ok ? undefined : probe.reason;
if (!probe.ok) console.log(`image tests: ${required ? 'VIGIL_REQUIRE_ENGINE=1, failing' : 'skipped'}: ${probe.detail}`);
const title = probe.ok ? `under ${probe.engine.name}` : required ? `(required by VIGIL_REQUIRE_ENGINE=1: ${missingEngine})` : `(skipped: ${missingEngine})`;
const compose = probe.ok ? probe.engine.compose : [];
const missingCompose = 'missing' in compose ? compose.missing : undefined;
const skipCompose = !!missingCompose && !required;
if (probe.ok && missingCompose) console.log(`image tests: compose ${required ? 'required, failing' : 'skipped'}: ${missingCompose}`);

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; devDependencies: Record<string, string> };
const BASE = /^FROM\s+(\S+)\s+AS\s+runtime\s*$/im.exec(readFileSync('Dockerfile', 'utf8'))![1]!;
const TAG = 'localhost/vigil:test'; // kept, so that the next build reuses its layers
const DRAIN_MS = 5000; // server.drainDelay's default, spelt out in the configs below
// Containers of this run carry its pid: a run that was killed leaves them, the next one removes them.
const LABEL = `vigil.test.pid=${process.pid}`;
let dir = ''; // configs and secrets to bind-mount, made in beforeAll
let image = ''; // the built image's id

/** A file the container's user (uid 1000) can read, for a bind mount. */
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, 0o644);
  return path;
}

/** A config for the agent: the local PostgreSQL and Redis, and the server settings given. */
function config(name: string, server: Record<string, unknown>): string {
  return file(name, stringifyYaml({ server: { drainDelay: `${DRAIN_MS}ms`, ...server }, checks: { db: { type: 'postgres', url: PG_URL }, cache: { type: 'redis', url: REDIS_URL } } }));
}

// As compose.yaml and k8s/ run it. Docker's --read-only mounts no tmpfs on /tmp or /run (podman's
// does unless told not to): nothing but /dev/shm is writable.
const HARDENED = ['--read-only', '--cap-drop=ALL', '--security-opt=no-new-privileges', '--stop-timeout=15', '--label', LABEL];

async function removeLeftovers(): Promise<void> {
  const lines = (await docker(['ps', '-a', '--filter', 'label=vigil.test.pid', '--format', '{{.ID}} {{.Label "vigil.test.pid"}}'])).split('\n').filter(Boolean);
  for (const [id, pid] of lines.map((line) => line.split(' '))) {
    if (Number(pid) === process.pid || !isAlive(Number(pid))) await docker(['rm', '-f', id!]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Containers of a compose project's service, running or not (the same for compose v1 and v2). */
async function composeContainer(project: string, service: string): Promise<string> {
  return docker(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
}

const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`).catch(() => undefined);

describe.skipIf(skip)(`the image ${title}`, () => {
  // main: host network, the port from VIGIL_PORT as documented. The port* ones: the port given only
  // to serve (flag, file given by flag, file named by VIGIL_CONFIG), each in a container of its own
  // network namespace (`--network=none`: its own loopback, on which nothing else listens), so that
  // the HEALTHCHECK can pass only by asking that agent.
  const names = {
    main: `vigil-test-${process.pid}-main`,
    portFlag: `vigil-test-${process.pid}-port-flag`,
    portInFile: `vigil-test-${process.pid}-port-in-file`,
    portInEnvFile: `vigil-test-${process.pid}-port-in-env-file`,
  };
  let port = 0;
  let startedAt = 0;

  beforeAll(async () => {
    if (!probe.ok) throw new Error(`VIGIL_REQUIRE_ENGINE=1: ${probe.detail}`);
    await removeLeftovers();
    dir = mkdtempSync(join(tmpdir(), 'vigil-engine-'));
    chmodSync(dir, 0o755);
    const started = Date.now();
    // The repository's Dockerfile as it is. --network=host: `npm ci` in its RUN steps reaches the
    // registry through the host (the engine may have no bridge network).
    const build = await run('docker', ['build', '--network=host', '--iidfile', join(dir, 'iid'), '-t', TAG, '.'], 900_000);
    if (build.code !== 0) throw new Error(`docker build failed (exit ${build.code}):\n${(build.stdout + build.stderr).split('\n').slice(-30).join('\n')}`);
    image = readFileSync(join(dir, 'iid'), 'utf8').trim();
    console.log(`image: built ${image.slice(7, 19)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    port = await freePort();
    const conf = config('main.yaml', { host: '127.0.0.1' });
    startedAt = Date.now();
    await docker(['run', '-d', '--name', names.main, '--network=host', ...HARDENED, '-v', `${conf}:/etc/vigil/vigil.yaml:ro`, '-e', 'VIGIL_CONFIG=/etc/vigil/vigil.yaml', '-e', `VIGIL_PORT=${port}`, image]);
    const isolated = (conf: string) => ['--network=none', ...HARDENED, '-v', `${conf}:/etc/vigil/vigil.yaml:ro`];
    const inFile = config('port-in-file.yaml', { port: 9797 });
    await docker(['run', '-d', '--name', names.portFlag, ...isolated(config('port-flag.yaml', {})), image, 'serve', '--config', '/etc/vigil/vigil.yaml', '--port', '9797']);
    await docker(['run', '-d', '--name', names.portInFile, ...isolated(inFile), image, 'serve', '--config', '/etc/vigil/vigil.yaml']);
    await docker(['run', '-d', '--name', names.portInEnvFile, ...isolated(inFile), '-e', 'VIGIL_CONFIG=/etc/vigil/vigil.yaml', image]);
  }, 900_000);

  afterAll(async () => {
    if (probe.ok) await removeLeftovers();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs node as PID 1 with uid and gid 1000, no capabilities and no new privileges, on a read-only root filesystem', async () => {
    await waitFor('the agent to answer /health/live', async () => (await get(port, '/health/live'))?.status === 200, 30_000);
    const status = await docker(['exec', names.main, 'cat', '/proc/1/status']);
    const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)![1]!.split(/\s+/);
    expect(field('Uid')).toEqual(['1000', '1000', '1000', '1000']);
    expect(field('Gid')).toEqual(['1000', '1000', '1000', '1000']);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(field(set), set).toEqual(['0000000000000000']);
    expect(field('NoNewPrivs')).toEqual(['1']);
    expect(await docker(['exec', names.main, 'readlink', '/proc/1/exe'])).toBe('/usr/local/bin/node');
    const argv = (await docker(['exec', names.main, 'cat', '/proc/1/cmdline'])).split('\0').filter(Boolean);
    expect(argv).toEqual(['node', '--single-threaded-gc', '--max-semi-space-size=2', '/app/dist/src/cli.js', 'serve']);
    // As root inside the container, so that only the read-only mount (not permissions) can refuse.
    for (const path of ['/app/written', '/tmp/written', '/etc/vigil/written']) {
      const write = await run('docker', ['exec', '-u', '0', names.main, 'touch', path]);
      expect(write.stderr, path).toMatch(/Read-only file system/);
    }
    const host = (await inspect(names.main)).HostConfig;
    expect(host).toMatchObject({ NetworkMode: 'host', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] });
  });

  it('answers /health/live, /health/ready and /metrics on the host network, reaching the local PostgreSQL and Redis', async () => {
    const ready = await waitFor('/health/ready to answer 200', async () => {
      const res = await get(port, '/health/ready');
      return res?.status === 200 ? ((await res.json()) as any) : undefined;
    }, 30_000);
    expect(ready.status).toBe('pass');
    expect(ready.checks['db:responseTime'][0].status).toBe('pass');
    expect(ready.checks['cache:responseTime'][0].status).toBe('pass');
    expect((await get(port, '/health/live'))?.status).toBe(200);
    const metrics = await (await get(port, '/metrics'))!.text();
    const node = (await docker(['run', '--rm', '--network=none', '--entrypoint', 'node', image, '--version'])).trim();
    expect(metrics).toContain(`vigil_build_info{version="${pkg.version}",node="${node}"} 1`);
    expect(metrics).toMatch(/^vigil_check_up\{check="db",type="postgres"\} 1$/m);
    expect(metrics).toMatch(/^vigil_check_up\{check="cache",type="redis"\} 1$/m);
    console.log(`image: runs Node ${node}`);
  });

  it("turns healthy through the image's own HEALTHCHECK, with nothing triggering it", async () => {
    const healthcheck = (await inspect(image)).Config.Healthcheck;
    expect(healthcheck.Test).toEqual(['CMD', 'node', '--single-threaded-gc', '--max-semi-space-size=2', '/app/dist/src/cli.js', 'probe']);
    expect((await inspect(names.main)).Config.Healthcheck).toEqual(healthcheck); // the run did not override it
    const { verdict, lastOutput } = await healthVerdict(names.main, startedAt, 60_000);
    expect(verdict, `last probe said: ${lastOutput}`).toBe('healthy');
    console.log(`image: healthy ${((Date.now() - startedAt) / 1000).toFixed(1)} s after docker run`);
  });

  it.each([
    ['serve --port N', 'portFlag'],
    ["the server.port of the file given by serve --config", 'portInFile'],
    ["the server.port of the file named by VIGIL_CONFIG", 'portInEnvFile'],
  ] as const)('keeps the HEALTHCHECK healthy when the port comes from %s', async (_how, which) => {
    const name = names[which];
    // The agent listens on 9797 inside its own network namespace (asked from inside, as the
    // HEALTHCHECK asks), before the engine's first health probe is judged.
    await waitFor(`${name} to answer on 9797`, async () => (await run('docker', ['exec', name, 'node', '/app/dist/src/cli.js', 'probe', 'http://127.0.0.1:9797/health/live'])).code === 0, 30_000, 250);
    const listening = Date.now();
    const { verdict, lastOutput } = await healthVerdict(name, listening, 60_000);
    expect(verdict, `last probe said: ${lastOutput}`).toBe('healthy');
  });

  it(`drains on engine stop (SIGTERM): readiness 503 at once, liveness and metrics answer, exit 0 within drainDelay + 2 s`, async () => {
    await waitFor('/health/ready to answer 200', async () => (await get(port, '/health/ready'))?.status === 200, 30_000);
    const stopAt = Date.now();
    const stopping = docker(['stop', '-t', '15', names.main], 30_000);
    await waitFor('/health/ready to turn 503', async () => (await get(port, '/health/ready'))?.status === 503, 3000, 20);
    const draining = (await (await get(port, '/health/ready'))!.json()) as any;
    expect(draining.status).toBe('fail');
    expect((await get(port, '/health/live'))?.status).toBe(200);
    expect((await get(port, '/metrics'))?.status).toBe(200);
    await stopping;
    const state = (await inspect(names.main)).State;
    const tookMs = engineTime(state.FinishedAt) - stopAt;
    console.log(`image: docker stop -> exit ${state.ExitCode} after ${tookMs} ms (drainDelay ${DRAIN_MS} ms)`);
    expect(state.ExitCode).toBe(0);
    expect(state.OOMKilled).toBe(false);
    expect(tookMs).toBeGreaterThanOrEqual(DRAIN_MS - 50);
    expect(tookMs).toBeLessThan(DRAIN_MS + 2000);
    // Nothing but JSON lines, from start to stop: no runtime warning of the Node the image ships.
    const logs = await run('docker', ['logs', names.main]);
    const lines = (logs.stdout + logs.stderr).split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages[0]).toBe('vigil started');
    expect(messages.at(-1)).toBe('vigil stopped');
  });

  it('has its size and its production node_modules printed and bounded, with no dev dependency in it', async () => {
    const size = Number(await docker(['image', 'inspect', '--format', '{{.Size}}', image]));
    const base = Number(await docker(['image', 'inspect', '--format', '{{.Size}}', BASE]));
    const du = async (path: string) => Number((await docker(['run', '--rm', '--network=none', '--entrypoint', 'du', image, '-sk', path])).split('\t')[0]) * 1024;
    const nodeModules = await du('/app/node_modules');
    const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
    console.log(`image: ${mb(size)} in all = ${BASE} ${mb(base)} + ${mb(size - base)} of vigil's own layers; /app/node_modules ${mb(nodeModules)} on disk (production dependencies)`);
    // Measured with the drivers of the eleven check types (each loaded only when a check of its type
    // is configured): node_modules about 49 MB on disk (ext4 blocks), MQTT.js and its dependencies
    // 9.4 MB of it, @grpc/grpc-js and its dependencies 9.9 MB (protobufjs, proto-loader and yargs
    // among them, never loaded). The bounds leave room for growth but catch a dev dependency or a
    // build cache left in the image.
    expect(size - base).toBeLessThan(55e6);
    expect(nodeModules).toBeLessThan(60e6);
    // Every package on disk (scoped ones by their full name) against the lockfile: none may be one
    // npm marks dev-only. A scope directory alone says nothing: MQTT.js brings @types/ws at run time.
    const listing = await docker(['run', '--rm', '--network=none', '--entrypoint', 'node', image, '-e',
      "const fs=require('fs');const d='/app/node_modules';for(const n of fs.readdirSync(d))if(n.startsWith('@'))for(const m of fs.readdirSync(d+'/'+n))console.log(n+'/'+m);else if(!n.startsWith('.'))console.log(n)"]);
    const installed = listing.split('\n').filter(Boolean);
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(installed.length).toBeGreaterThan(10);
    for (const dev of Object.keys(pkg.devDependencies)) if (lock.packages[`node_modules/${dev}`]?.dev) expect(installed, dev).not.toContain(dev);
    const devOnly = installed.filter((name) => lock.packages[`node_modules/${name}`]?.dev === true);
    expect(devOnly, 'dev-only packages in the image').toEqual([]);
    const cache = await run('docker', ['run', '--rm', '--network=none', '--entrypoint', 'ls', image, '-A', '/root/.npm/_cacache']);
    expect(cache.code, 'no npm cache left in the image').not.toBe(0);
  });

  describe.skipIf(skipCompose)(`docker-compose up of compose.yaml's vigil service${missingCompose ? ` (skipped: ${missingCompose})` : ''}`, () => {
    // compose.yaml's vigil service with its own settings (read_only, cap_drop, security_opt,
    // secrets as files through *_FILE, its healthcheck, stop_grace_period) and its `app` that
    // depends on it with condition service_healthy. What cannot run here is swapped: images from
    // a registry (the app runs the vigil image instead of nginx), the compose network (host
    // networking; PostgreSQL and Redis are the local ones, Redis a throw-away one that requires the
    // password from the secret file), and port 9898 (a free one).
    const project = `vigiltest${process.pid}`;
    const composeFile = () => join(dir, 'compose.yaml');
    const cmd = 'missing' in compose ? [] : [...compose];
    const up = (args: string[]) => run(cmd[0]!, [...cmd.slice(1), '-p', project, '-f', composeFile(), ...args], 300_000);
    const secrets = { pg: `pg-${Math.random().toString(36).slice(2)}`, redis: `redis-${Math.random().toString(36).slice(2)}` };
    let redis: ChildProcess | undefined;
    let vigilPort = 0;

    beforeAll(async () => {
      if (missingCompose) throw new Error(`VIGIL_REQUIRE_ENGINE=1: ${missingCompose}`);
      const redisPort = await freePort();
      redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', secrets.redis], { stdio: 'ignore' });
      await waitFor('the throw-away redis-server', () => new Promise<boolean>((resolve) => {
        const socket = connect(redisPort, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        }).on('error', () => resolve(false));
      }));
      vigilPort = await freePort();

      const original = parseYaml(readFileSync('compose.yaml', 'utf8'));
      const vigil = { ...original.services.vigil };
      const app = original.services.app;
      const shipped = parseYaml(readFileSync('deploy/compose/vigil.yaml', 'utf8'));
      expect(shipped.checks.db.url).toContain('${PG_PASSWORD}');
      expect(shipped.checks.cache.url).toContain('${REDIS_PASSWORD}');
      const pg = new URL(PG_URL);
      const conf = file('compose-vigil.yaml', stringifyYaml({
        ...shipped,
        server: { ...shipped.server, port: vigilPort },
        checks: {
          db: { ...shipped.checks.db, url: `postgres://${pg.username}:\${PG_PASSWORD}@${pg.host}${pg.pathname}` },
          cache: { ...shipped.checks.cache, url: `redis://:\${REDIS_PASSWORD}@127.0.0.1:${redisPort}/0` },
        },
      }));
      const mount = (vigil.volumes as string[]).find((v) => v.includes('/etc/vigil/vigil.yaml'))!.split(':')[1];
      delete vigil.build;
      delete vigil.ports;
      delete vigil.depends_on;
      Object.assign(vigil, {
        image: TAG,
        network_mode: 'host',
        volumes: [`${conf}:${mount}:ro`],
        healthcheck: { ...vigil.healthcheck, test: (vigil.healthcheck.test as string[]).map((a) => a.replace(':9898/', `:${vigilPort}/`)) },
        labels: [LABEL],
      });
      const dependant = {
        image: TAG,
        network_mode: 'host',
        // Starts only once vigil is healthy; exits 0 only if vigil is past its startup gate then.
        entrypoint: ['node', '/app/dist/src/cli.js', 'probe', `http://127.0.0.1:${vigilPort}/health/startup`],
        depends_on: app.depends_on,
        labels: [LABEL],
      };
      writeFileSync(composeFile(), stringifyYaml({
        services: { app: dependant, vigil },
        secrets: {
          pg_password: { file: file('pg_password.txt', `${secrets.pg}\n`) },
          redis_password: { file: file('redis_password.txt', `${secrets.redis}\n`) },
        },
      }));
    }, 60_000);

    afterAll(async () => {
      await up(['down', '--timeout', '15']).catch(() => undefined);
      redis?.kill();
    });

    it("carries compose.yaml's hardening, secrets and gate", () => {
      const vigil = parseYaml(readFileSync(composeFile(), 'utf8')).services.vigil;
      expect(vigil).toMatchObject({ read_only: true, cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'], secrets: ['pg_password', 'redis_password'], stop_grace_period: '15s' });
      expect(vigil.environment).toEqual({ PG_PASSWORD_FILE: '/run/secrets/pg_password', REDIS_PASSWORD_FILE: '/run/secrets/redis_password' });
      expect(vigil.healthcheck.test.at(-1)).toBe(`http://127.0.0.1:${vigilPort}/health/startup`);
      expect(parseYaml(readFileSync(composeFile(), 'utf8')).services.app.depends_on).toEqual({ vigil: { condition: 'service_healthy' } });
    });

    it('starts the dependant only after vigil is healthy, reads the passwords from the secret files, and stops with exit 0', async () => {
      const started = Date.now();
      const result = await up(['up', '-d']);
      expect(result.code, result.stderr).toBe(0);
      const ids = { vigil: await composeContainer(project, 'vigil'), app: await composeContainer(project, 'app') };
      const vigil = await inspect(ids.vigil);
      const app = await waitFor('the dependant to finish', async () => {
        const state = (await inspect(ids.app)).State;
        return state.Status === 'exited' ? state : undefined;
      }, 30_000);
      const passes = (vigil.State.Health.Log as any[]).filter((entry) => entry.ExitCode === 0).map((entry) => engineTime(entry.End));
      expect(passes.length, 'vigil passed its healthcheck').toBeGreaterThan(0);
      const healthyAt = Math.min(...passes);
      console.log(`compose: vigil healthy ${((healthyAt - started) / 1000).toFixed(1)} s after up, the dependant started ${engineTime(app.StartedAt) - healthyAt} ms later`);
      expect(engineTime(app.StartedAt)).toBeGreaterThanOrEqual(healthyAt);
      expect(app.ExitCode, 'the dependant found vigil past its startup gate').toBe(0);
      expect(vigil.HostConfig).toMatchObject({ ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'] });

      // The Redis check passes only with the password from the secret file.
      const health = (await (await get(vigilPort, '/health'))!.json()) as any;
      expect(health.checks['db:responseTime'][0].status).toBe('pass');
      expect(health.checks['cache:responseTime'][0].status).toBe('pass');

      expect((await up(['stop'])).code).toBe(0);
      const stopped = (await inspect(ids.vigil)).State;
      expect(stopped.ExitCode).toBe(0);
      const logs = await run('docker', ['logs', ids.vigil]);
      for (const secret of Object.values(secrets)) expect(logs.stdout + logs.stderr).not.toContain(secret);
      expect(JSON.stringify(health)).not.toContain(secrets.redis);
    });
  });
});
