// node bench/connections.mjs: what connection: persistent saves, measured the way npm run bench
// measures CPU per attempt. For postgres, redis, mysql, nats, mqtt (connect only, and with
// roundTripTopic) and grpc (the health of the server as a whole), in each mode (fresh, persistent): the dependency's CPU per attempt (the whole
// PostgreSQL process tree, forked backends included; the mariadbd process, its ended threads
// included; the redis-server, nats-server or mosquitto process, every thread; the grpc-js server's
// node process), vigil's own CPU per
// attempt (minus an idle agent's), and a bare script at the same rate (fresh: a new client per
// attempt; persistent: one client kept, the same probe).
// vigil runs 20 checks every 100 ms (200 attempts/s), pinned to core 0 as in npm run bench;
// rounds alternate sides; medians. Failed attempts are counted and reported, never fatal.
// The dependencies are a PostgreSQL cluster, a redis-server, a MariaDB server, a nats-server, a
// Mosquitto and a gRPC server (bench/servers.mjs grpc) of the script's own (initdb as the postgres user, mariadb-install-db; nothing else uses
// them, so their CPU is the attempts' alone), unless PG_URL, REDIS_URL and MYSQL_URL name others.
// BENCH_TYPES picks some of them (postgres, redis, mysql, nats, mqtt, mqtt-roundtrip, grpc; default all).
//   BENCH_ROUNDS=3 BENCH_SECONDS=6 taskset -c 1 node bench/connections.mjs
//   BENCH_TYPES=nats,mqtt,mqtt-roundtrip taskset -c 1 node bench/connections.mjs
//   BENCH_TYPES=grpc taskset -c 1 node bench/connections.mjs
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, freePort, treeCpuMs } from './proc.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/src/cli.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const RATE = 200;
const TYPES = (process.env.BENCH_TYPES ?? 'postgres,redis,mysql,nats,mqtt,mqtt-roundtrip,grpc').split(',');
const CHECKS = 20;
const tmp = mkdtempSync(join(tmpdir(), 'vigil-connections-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const children = new Set();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

function fetchText(url) {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function start(args, ready) {
  const child = spawn('taskset', ['-c', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, VIGIL_LOG_LEVEL: 'error' } });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.output = () => output;
  child.on('exit', () => children.delete(child));
  if (ready === 'ipc') await new Promise((resolve) => child.once('message', resolve));
  else {
    for (;;) {
      if (await ready().catch(() => false)) break;
      await sleep(50);
    }
  }
  return child;
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

function pgPostmasterPid(url) {
  const dataDir = spawnSync('psql', [url, '-Atc', 'SHOW data_directory'], { encoding: 'utf8' }).stdout.trim();
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}
function redisPid(url) {
  const out = spawnSync('redis-cli', ['-p', new URL(url).port || '6379', 'INFO', 'server'], { encoding: 'utf8' }).stdout;
  return Number(/process_id:(\d+)/.exec(out)[1]);
}

const PG_BIN = '/usr/lib/postgresql/15/bin';
/** A PostgreSQL cluster of the script's own, on a free port; returns its URL. */
async function startPostgres() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-connections-pg-'));
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
  const asPostgres = (command, args) => execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  asPostgres(`${PG_BIN}/initdb`, ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  asPostgres(`${PG_BIN}/pg_ctl`, ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', 'start']);
  process.on('exit', () => {
    spawnSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  });
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** A redis-server of the script's own, on a free port; returns its URL. */
async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // The server does not keep the script running: it is killed as the script exits.
  child.unref();
  children.add(child);
  for (;;) {
    if (spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).stdout.trim() === 'PONG') break;
    await sleep(50);
  }
  return `redis://127.0.0.1:${port}/0`;
}

/** A MariaDB server of the script's own (root without a password, over TCP), on a free port; returns its URL. */
async function startMariadb() {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-connections-mariadb-'));
  execFileSync('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${join(dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'ignore' });
  const port = await freePort();
  const child = spawn(
    'mariadbd',
    ['--no-defaults', '--user=root', `--datadir=${join(dir, 'data')}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'sock')}`, `--pid-file=${join(dir, 'pid')}`, '--skip-log-bin', '--innodb-buffer-pool-size=16M', `--log-error=${join(dir, 'err.log')}`],
    { stdio: 'ignore' },
  );
  // The server does not keep the script running: it is killed as the script exits.
  child.unref();
  children.add(child);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (;;) {
    if (spawnSync('mariadb', ['-uroot', '-h127.0.0.1', `-P${port}`, '-e', 'SELECT 1'], { stdio: 'ignore' }).status === 0) break;
    await sleep(100);
  }
  return `mysql://root@127.0.0.1:${port}/mysql`;
}
/** The server's pid, from its pid file (a relative one is under its datadir). */
function mariadbPid(url) {
  const { hostname, port } = new URL(url);
  const [pidFile, dataDir] = spawnSync('mariadb', ['-uroot', `-h${hostname}`, `-P${port || '3306'}`, '-N', '-B', '-e', 'SELECT @@pid_file, @@datadir'], { encoding: 'utf8' }).stdout.trim().split('\t');
  return Number(readFileSync(pidFile.startsWith('/') ? pidFile : join(dataDir, pidFile), 'utf8').trim());
}

/** A nats-server of the script's own (no JetStream, as a nats check without `jetstream`), on a free port; returns its URL and pid. */
async function startNats() {
  const port = await freePort();
  const child = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  children.add(child);
  await waitForPort(port);
  return { url: `nats://127.0.0.1:${port}`, pid: child.pid };
}

/** A Mosquitto of the script's own (anonymous, no persistence, no log), on a free port; returns its URL and pid. */
async function startMosquitto() {
  const port = await freePort();
  const config = join(tmp, 'mosquitto.conf');
  // Run as root, Mosquitto would switch to its own user.
  writeFileSync(config, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', ...(process.getuid?.() === 0 ? ['user root'] : []), ''].join('\n'));
  const child = spawn('/usr/sbin/mosquitto', ['-c', config], { stdio: 'ignore' });
  children.add(child);
  await waitForPort(port);
  return { url: `mqtt://127.0.0.1:${port}`, pid: child.pid };
}

async function waitForPort(port) {
  for (;;) {
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
}

async function startVigil(name, block) {
  const path = join(tmp, `${name}.yaml`);
  const checks = Array.from({ length: CHECKS }, (_, i) => `  c${i}: { ${typeof block === 'function' ? block(i) : block}, interval: 100ms, timeout: 100ms }`);
  writeFileSync(path, `checks:\n${checks.join('\n')}\n`);
  const port = await freePort();
  const child = await start(['node', '--single-threaded-gc', CLI, 'serve', '--config', path, '--port', String(port), '--host', '127.0.0.1'], async () => (await fetchText(`http://127.0.0.1:${port}/health/live`)) !== undefined);
  child.url = `http://127.0.0.1:${port}`;
  return child;
}

async function runs(vigil) {
  const text = await fetchText(`${vigil.url}/metrics`);
  const count = (result) => [...text.matchAll(new RegExp(`^vigil_check_runs_total\\{[^}]*result="${result}"\\} (\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
  return { total: count('pass') + count('fail') + count('timeout'), failed: count('fail') + count('timeout') };
}

async function measure(pid, dependency, seconds) {
  const cpu0 = cpuMs(pid);
  const dep0 = dependency();
  await sleep(seconds * 1000);
  return { cpu: cpuMs(pid) - cpu0, dep: dependency() - dep0 };
}

async function main() {
  const targets = {};
  if (TYPES.includes('postgres')) {
    const PG_URL = process.env.PG_URL ?? (await startPostgres());
    const pgPid = pgPostmasterPid(PG_URL);
    targets.postgres = { floor: 'postgres', url: PG_URL, dependency: () => treeCpuMs(pgPid), yaml: `type: postgres, url: "${PG_URL}"` };
  }
  if (TYPES.includes('redis')) {
    const REDIS_URL = process.env.REDIS_URL ?? (await startRedis());
    const rPid = redisPid(REDIS_URL);
    targets.redis = { floor: 'redis', url: REDIS_URL, dependency: () => cpuMs(rPid), yaml: `type: redis, url: "${REDIS_URL}"` };
  }
  if (TYPES.includes('mysql')) {
    const MYSQL_URL = process.env.MYSQL_URL ?? (await startMariadb());
    const mPid = mariadbPid(MYSQL_URL);
    // The process's own counters (/proc/PID/stat): they keep the CPU of connection threads that ended.
    targets.mysql = { floor: 'mysql', url: MYSQL_URL, dependency: () => treeCpuMs(mPid), yaml: `type: mysql, url: "${MYSQL_URL}"` };
  }
  if (TYPES.includes('nats')) {
    const nats = await startNats();
    targets.nats = { floor: 'nats', url: nats.url, dependency: () => cpuMs(nats.pid), yaml: `type: nats, url: "${nats.url}"` };
  }
  if (TYPES.includes('mqtt') || TYPES.includes('mqtt-roundtrip')) {
    const broker = await startMosquitto();
    if (TYPES.includes('mqtt')) targets.mqtt = { floor: 'mqtt', url: broker.url, dependency: () => cpuMs(broker.pid), yaml: `type: mqtt, url: "${broker.url}"` };
    // Each check's round trip has a topic of its own, as the docs advise: no check receives another's probes.
    if (TYPES.includes('mqtt-roundtrip')) {
      targets['mqtt-roundtrip'] = { floor: 'mqtt', url: `${broker.url} vigil/bench`, dependency: () => cpuMs(broker.pid), yaml: (i) => `type: mqtt, url: "${broker.url}", roundTripTopic: "vigil/bench-${i}"` };
    }
  }
  if (TYPES.includes('grpc')) {
    // The same gRPC server as npm run bench's (bench/servers.mjs grpc): its health service answers SERVING.
    // Not pinned with vigil: on the script's core, as the other servers of its own.
    const port = await freePort();
    const server = spawn('node', [join(ROOT, 'bench/servers.mjs'), 'grpc', String(port)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(server);
    await new Promise((resolve) => server.once('message', resolve));
    // Neither the process nor its IPC channel keeps the script running: it is killed as the script exits.
    server.unref();
    server.channel?.unref();
    targets.grpc = { floor: 'grpc', url: `127.0.0.1:${port}`, dependency: () => cpuMs(server.pid), yaml: `type: grpc, target: "127.0.0.1:${port}"` };
  }
  // Idle baselines: an agent with nothing to do, a node process doing nothing, the dependencies at rest.
  const idlePath = join(tmp, 'idle.yaml');
  writeFileSync(idlePath, 'checks: {}\n');
  const idlePort = await freePort();
  const idle = await start(['node', '--single-threaded-gc', CLI, 'serve', '--config', idlePath, '--port', String(idlePort), '--host', '127.0.0.1'], async () => (await fetchText(`http://127.0.0.1:${idlePort}/health/live`)) !== undefined);
  const idleNode = await start(['node', join(ROOT, 'bench/servers.mjs'), 'idle'], 'ipc');
  const depIdle = {};
  const agentIdle = await measure(idle.pid, () => 0, SECONDS);
  const nodeIdle = await measure(idleNode.pid, () => 0, SECONDS);
  for (const [type, target] of Object.entries(targets)) depIdle[type] = (await measure(process.pid, target.dependency, SECONDS)).dep / SECONDS;
  await stop(idle);
  await stop(idleNode);
  const idleAgentMsPerS = agentIdle.cpu / SECONDS;
  const idleNodeMsPerS = nodeIdle.cpu / SECONDS;

  const samples = {};
  const add = (key, value) => (samples[key] ??= []).push(value);
  const failures = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [type, target] of Object.entries(targets)) {
      for (const mode of ['fresh', 'persistent']) {
        const key = `${type} ${mode}`;
        const block = typeof target.yaml === 'function' ? (i) => `${target.yaml(i)}, connection: ${mode}` : `${target.yaml}, connection: ${mode}`;
        const vigil = await startVigil(`${type}-${mode}`, block);
        await sleep(1000);
        const before = await runs(vigil);
        const { cpu, dep } = await measure(vigil.pid, target.dependency, SECONDS);
        const after = await runs(vigil);
        const attempts = after.total - before.total;
        failures[`vigil ${key}`] = (failures[`vigil ${key}`] ?? 0) + after.failed - before.failed;
        add(`vigil ${key}`, (cpu - idleAgentMsPerS * SECONDS) / attempts);
        add(`dependency ${key}`, (dep - depIdle[type] * SECONDS) / attempts);
        await stop(vigil);

        const floorType = mode === 'fresh' ? target.floor : `${target.floor}-persistent`;
        const floor = await start(['node', join(ROOT, 'bench/floor.mjs'), floorType, target.url, String(RATE)], 'ipc');
        await sleep(1000);
        const f = await measure(floor.pid, target.dependency, SECONDS);
        const exited = new Promise((resolve) => floor.once('exit', resolve));
        floor.kill('SIGTERM');
        await exited;
        let counted;
        try {
          counted = JSON.parse(floor.output().trim().split('\n').at(-1));
        } catch {
          // The script ended without its count (it failed): its CPU still counts, its failures are unknown.
          console.error(`bare script ${key} ended without its count: ${floor.output().slice(-500)}`);
          counted = { failures: NaN };
        }
        failures[`floor ${key}`] = (failures[`floor ${key}`] ?? 0) + counted.failures;
        add(`floor ${key}`, (f.cpu - idleNodeMsPerS * SECONDS) / (RATE * SECONDS));
        add(`floor dependency ${key}`, (f.dep - depIdle[type] * SECONDS) / (RATE * SECONDS));
      }
    }
  }
  const rows = [];
  for (const type of Object.keys(targets)) {
    for (const mode of ['fresh', 'persistent']) {
      const key = `${type} ${mode}`;
      const m = (name) => round(median(samples[`${name} ${key}`]));
      rows.push({
        check: type,
        connection: mode,
        vigilMs: m('vigil'),
        bareScriptMs: m('floor'),
        ratio: round(m('vigil') / m('floor'), 2),
        dependencyMs: m('dependency'),
        dependencyWithBareScriptMs: m('floor dependency'),
        failedAttempts: failures[`vigil ${key}`],
        failedBareScript: failures[`floor ${key}`],
      });
    }
  }
  const result = { ratePerS: RATE, seconds: SECONDS, rounds: ROUNDS, idleAgentMsPerS: round(idleAgentMsPerS), rows };
  console.log(JSON.stringify(result, null, 2));
  console.log('\ncheck          connection  vigil ms  bare ms  ratio  dependency ms (vigil / bare)  failed (vigil / bare)');
  for (const r of rows) {
    console.log(
      `${r.check.padEnd(14)} ${r.connection.padEnd(11)} ${String(r.vigilMs).padStart(8)} ${String(r.bareScriptMs).padStart(8)} ${String(r.ratio).padStart(6)}  ${`${r.dependencyMs} / ${r.dependencyWithBareScriptMs}`.padStart(28)}  ${`${r.failedAttempts} / ${r.failedBareScript}`.padStart(20)}`,
    );
  }
  const pgPersistent = rows.find((r) => r.check === 'postgres' && r.connection === 'persistent');
  if (pgPersistent) console.log(`\ngoal: database CPU per persistent postgres attempt <= 0.1 ms: ${pgPersistent.dependencyMs} ms (${pgPersistent.dependencyMs <= 0.1 ? 'met' : 'NOT met'})`);
  for (const r of rows.filter((row) => row.connection === 'persistent')) {
    console.log(`goal: vigil's CPU per persistent ${r.check} attempt <= 1.2x the bare script keeping one client: ${r.ratio}x (${r.ratio <= 1.2 ? 'met' : 'NOT met'})`);
  }
}

main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
