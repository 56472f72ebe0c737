// npm run bench: vigil's cost, measured beside the limit of its stack, the limit of the runtime, a
// bare script doing the same work, and blackbox_exporter; everything on loopback, in one run,
// alternating sides, medians quoted. Servers under test run on core 0, load generators on core 1.
// Prints a table and writes bench/results.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, freePort, treeCpuMs } from './proc.mjs';

const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/src/cli.js');
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const QUICK = process.env.BENCH_QUICK === '1';
const SERVER_CORE = '0';
const tmp = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const children = new Set();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (...args) => console.error('bench:', ...args);

// ---------------------------------------------------------------- processes and /proc

function ensureTools() {
  const missing = [];
  if (!commandExists('wrk')) missing.push('wrk');
  if (!commandExists('prometheus-blackbox-exporter')) missing.push('prometheus-blackbox-exporter');
  if (missing.length) {
    log(`installing ${missing.join(' ')} (Debian packages)`);
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** Starts a process pinned to the server core; resolves once it is ready. */
async function startPinned(args, { ready, env = {}, core = SERVER_CORE } = {}) {
  const child = spawn('taskset', ['-c', core, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, VIGIL_LOG_LEVEL: 'error', ...env } });
  children.add(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  child.output = () => output;
  child.on('exit', () => children.delete(child));
  if (ready === 'ipc') await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${output}`)));
  });
  else if (ready) await waitUntil(ready, `${args.join(' ')} (${output})`);
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** dnsmasq (Debian's dnsmasq-base) on a free loopback port, answering app.bench with one address. */
async function startDnsmasq() {
  const port = await freePort();
  const server = `127.0.0.1:${port}`;
  const args = ['/usr/sbin/dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--host-record=app.bench,127.0.0.10'];
  const answers = async () => {
    const resolver = new Resolver({ timeout: 200, tries: 1 });
    resolver.setServers([server]);
    return (await resolver.resolve4('app.bench')).length === 1;
  };
  return { server, child: await startPinned(args, { ready: answers, core: '1' }) };
}

async function waitUntil(probe, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function fetchText(url) {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

/** Failed attempts so far in an agent's exposition (vigil_check_runs_total with result fail or timeout). */
function failedRuns(metrics) {
  let total = 0;
  for (const m of metrics.matchAll(/^vigil_check_runs_total\{[^}]*result="(?:fail|timeout)"[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

/** The pid of the real program under `taskset` (taskset execs, so it is the same pid). */
const pidOf = (child) => child.pid;

/**
 * Context switches of every thread of a live process: each time a thread sleeps (voluntary) or is
 * preempted. An idle process switches once per wakeup, so the count over a quiet window is its
 * wakeups.
 */
function switches(pid) {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      total += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
    } catch {
      // the thread ended
    }
  }
  return total;
}

function rssMiB(pid) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return kb / 1024;
}

function wrk(url, seconds, connections = 16) {
  const out = execFileSync('taskset', ['-c', '1', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const requests = Number(/(\d+) requests in/.exec(out)[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99Ms = Number(p99[1]) * { us: 0.001, ms: 1, s: 1000 }[p99[2]];
  return { rps, requests, p99Ms };
}

/**
 * Open-loop latency: requests sent at a fixed rate whatever the answers (as kubelets and balancers
 * do), unlike wrk's closed loop, which measures a saturated server's queue. Returns p50 and p99.
 */
async function paced(url, ratePerS, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const latencies = [];
  const total = ratePerS * seconds;
  await new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    const timer = setInterval(() => {
      for (let burst = 0; burst < ratePerS / 100 && sent < total; burst++) {
        sent++;
        const t0 = performance.now();
        get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - t0);
            if (++done === total) resolve();
          });
        }).on('error', () => {
          if (++done === total) resolve();
        });
      }
      if (sent >= total) clearInterval(timer);
    }, 10);
  });
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { p50Ms: latencies[Math.floor(latencies.length * 0.5)], p99Ms: latencies[Math.floor(latencies.length * 0.99)], samples: latencies.length };
}

// ---------------------------------------------------------------- vigil

function writeConfig(name, checks, extra = '') {
  const path = join(tmp, `${name}.yaml`);
  writeFileSync(path, `${extra}checks:\n${checks.join('\n')}\n`);
  return path;
}

async function startVigil(config, extraEnv = {}) {
  const port = await freePort();
  const child = await startPinned(['sh', '-c', `ulimit -n 65536; exec node --single-threaded-gc --max-semi-space-size=2 ${CLI} serve --config ${config} --port ${port} --host 127.0.0.1`], {
    env: extraEnv,
    ready: async () => (await fetchText(`http://127.0.0.1:${port}/health/live`)).status === 200,
  });
  child.url = `http://127.0.0.1:${port}`;
  return child;
}

async function healthBody(vigil) {
  return JSON.parse((await fetchText(`${vigil.url}/health`)).body);
}

async function runsTotal(vigil) {
  const text = (await fetchText(`${vigil.url}/metrics`)).body;
  let total = 0;
  for (const m of text.matchAll(/^vigil_check_runs_total\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
  return total;
}

// ---------------------------------------------------------------- 1. concurrency

async function concurrency() {
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '200'], { ready: 'ipc', core: '1' });
  const sizes = QUICK ? [1, 10, 100] : [1, 10, 100, 1000];
  const samples = Object.fromEntries(sizes.map((n) => [n, []]));
  const floors = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const n of sizes) {
      const checks = Array.from({ length: n }, (_, i) => `  api${i}: { type: http, url: "http://127.0.0.1:${upstreamPort}/${i}", interval: 1h, timeout: 10s }`);
      const vigil = await startVigil(writeConfig(`concurrency-${n}`, checks));
      let body;
      await waitUntil(async () => {
        body = await healthBody(vigil);
        return Object.values(body.checks).every((e) => e[0].observedValue !== undefined);
      }, `first round of ${n} checks`, 60_000);
      const entries = Object.values(body.checks).map((e) => e[0]);
      const start = Math.min(...entries.map((e) => Date.parse(e.time)));
      const end = Math.max(...entries.map((e) => Date.parse(e.time) + e.observedValue));
      samples[n].push(end - start);
      if (!entries.every((e) => e.status === 'pass')) throw new Error(`${n} checks: not all passed`);
      await stop(vigil);
      // The floor: a bare script sending the same N requests at once on the same core.
      const burst = spawnSync('sh', ['-c', `ulimit -n 65536; exec taskset -c ${SERVER_CORE} node ${join(ROOT, 'bench/floor.mjs')} burst http://127.0.0.1:${upstreamPort}/ ${n}`], { encoding: 'utf8' });
      (floors[n] ??= []).push(JSON.parse(burst.stdout).ms);
    }
  }
  await stop(upstream);
  const base = median(samples[1]);
  const rows = sizes.map((n) => ({
    checks: n,
    firstRoundMs: round(median(samples[n]), 1),
    ratio: round(median(samples[n]) / base),
    bareScriptMs: round(median(floors[n]), 1),
    bareScriptRatio: round(median(floors[n]) / median(floors[1])),
  }));
  return { upstreamDelayMs: 200, rows };
}

// ---------------------------------------------------------------- 2. endpoints

async function endpoints() {
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '0'], { ready: 'ipc', core: '1' });
  const shapes = {};
  // Two shapes: 100 checks under 16 connections, and a small agent (5 checks) under 50 connections.
  for (const [checkCount, connections] of [[100, 16], [5, 50]]) shapes[`${checkCount}x${connections}`] = await endpointShape(upstreamPort, checkCount, connections);
  const with1000 = await readyTail(upstreamPort);
  await stop(upstream);
  return { shapes, with1000 };
}

/** /health/ready and /metrics of an agent with `checkCount` tcp checks beside bare hono and node:http serving its bytes. */
async function endpointShape(upstreamPort, checkCount, connections) {
  const checks = Array.from({ length: checkCount }, (_, i) => `  svc${i}: { type: tcp, host: 127.0.0.1, port: ${upstreamPort} }`);
  const vigil = await startVigil(writeConfig(`endpoints-${checkCount}`, checks));
  await waitUntil(async () => (await fetchText(`${vigil.url}/health/ready`)).status === 200, 'ready');
  const seconds = QUICK ? 2 : 4;
  const paths = { ready: '/health/ready', metrics: '/metrics' };
  const bodies = {};
  const servers = { vigil };
  for (const [name, path] of Object.entries(paths)) {
    const file = join(tmp, `${name}-${checkCount}.body`);
    writeFileSync(file, (await fetchText(`${vigil.url}${path}`)).body);
    const type = name === 'ready' ? 'application/health+json' : 'text/plain; version=0.0.4; charset=utf-8';
    bodies[name] = { file, bytes: readFileSync(file).length };
    for (const kind of ['hono', 'http']) {
      const port = await freePort();
      const child = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), kind, String(port), file, type], { ready: 'ipc' });
      child.url = `http://127.0.0.1:${port}`;
      servers[`${kind}-${name}`] = child;
    }
  }
  const results = {};
  const add = (key, value) => (results[key] ??= []).push(value);
  // Warm-up, then alternating rounds.
  for (const [name, path] of Object.entries(paths)) {
    wrk(`${vigil.url}${path}`, 1, connections);
    for (const kind of ['hono', 'http']) wrk(`${servers[`${kind}-${name}`].url}${path}`, 1, connections);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, path] of Object.entries(paths)) {
      const before = cpuMs(pidOf(vigil));
      const v = wrk(`${vigil.url}${path}`, seconds, connections);
      const cpu = cpuMs(pidOf(vigil)) - before;
      add(`vigil-${name}`, { ...v, cpuMsPerRequest: cpu / v.requests });
      for (const kind of ['hono', 'http']) add(`${kind}-${name}`, wrk(`${servers[`${kind}-${name}`].url}${path}`, seconds, connections));
    }
  }
  for (const child of Object.values(servers)) await stop(child);
  const summary = (key) => ({
    rps: Math.round(median(results[key].map((x) => x.rps))),
    p99Ms: round(median(results[key].map((x) => x.p99Ms)), 3),
    ...(results[key][0].cpuMsPerRequest === undefined ? {} : { cpuMsPerRequest: round(median(results[key].map((x) => x.cpuMsPerRequest)), 3) }),
  });
  return {
    checks: checkCount,
    connections,
    bodyBytes: { ready: bodies.ready.bytes, metrics: bodies.metrics.bytes },
    ready: { vigil: summary('vigil-ready'), hono: summary('hono-ready'), nodeHttp: summary('http-ready') },
    metrics: { vigil: summary('vigil-metrics'), hono: summary('hono-metrics'), nodeHttp: summary('http-metrics') },
  };
}

/** 1000 checks: /health/ready's latency at a fixed 500 req/s while /metrics is scraped once a second. */
async function readyTail(upstreamPort) {
  const many = Array.from({ length: 1000 }, (_, i) => `  svc${i}: { type: tcp, host: 127.0.0.1, port: ${upstreamPort} }`);
  const big = await startVigil(writeConfig('endpoints-1000', many));
  await waitUntil(async () => (await fetchText(`${big.url}/health/ready`)).status === 200, 'ready with 1000 checks', 60_000);
  const readyBody = (await fetchText(`${big.url}/health/ready`)).body;
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      await fetchText(`${big.url}/metrics`);
      await sleep(1000);
    }
  })();
  const loaded = await paced(`${big.url}/health/ready`, 500, QUICK ? 4 : 10);
  const saturated = wrk(`${big.url}/health/ready`, QUICK ? 3 : 6, 2);
  scraping = false;
  await scraper;
  const metricsBytes1000 = (await fetchText(`${big.url}/metrics`)).body.length;
  const readyBytes1000 = (await fetchText(`${big.url}/health/ready`)).body.length;
  await stop(big);
  // Bare hono serving the same bytes at the same fixed rate: the stack's own tail.
  const file = join(tmp, 'ready-1000.body');
  writeFileSync(file, readyBody);
  const honoPort = await freePort();
  const hono = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'hono', String(honoPort), file, 'application/health+json'], { ready: 'ipc' });
  const honoLoaded = await paced(`http://127.0.0.1:${honoPort}/health/ready`, 500, QUICK ? 4 : 10);
  await stop(hono);
  return {
    readyRatePerS: 500,
    readyP50Ms: round(loaded.p50Ms, 3),
    readyP99Ms: round(loaded.p99Ms, 3),
    honoP99Ms: round(honoLoaded.p99Ms, 3),
    saturated: { rps: Math.round(saturated.rps), p99Ms: round(saturated.p99Ms, 3) },
    readyBytes: readyBytes1000,
    metricsBytes: metricsBytes1000,
  };
}

// ---------------------------------------------------------------- 3. memory

async function memory() {
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '0'], { ready: 'ipc', core: '1' });
  const body = join(tmp, 'tiny.body');
  writeFileSync(body, '{"status":"pass"}');
  const honoPort = await freePort();
  const hono = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'hono', String(honoPort), body, 'application/json'], { ready: 'ipc' });
  // The floor of the mixed agent: bare hono with the libraries it cannot run without loaded too.
  const libsPort = await freePort();
  const libs = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'hono-libs', String(libsPort), body, 'application/json'], { ready: 'ipc' });
  await fetchText(`http://127.0.0.1:${libsPort}/`);
  const sizes = [10, 100, 1000];
  const agents = {};
  for (const n of sizes) {
    const checks = Array.from({ length: n }, (_, i) => `  svc${i}: { type: tcp, host: 127.0.0.1, port: ${upstreamPort} }`);
    agents[n] = await startVigil(writeConfig(`memory-${n}`, checks));
  }
  // 100 checks of mixed types, 25 each: the drivers loaded, their clients made and dropped.
  const mixedTargets = [
    `type: postgres, url: "${PG_URL}"`,
    `type: redis, url: "${REDIS_URL}"`,
    `type: http, url: "http://127.0.0.1:${upstreamPort}/"`,
    `type: tcp, host: 127.0.0.1, port: ${upstreamPort}`,
  ];
  const mixed = await startVigil(writeConfig('memory-mixed', Array.from({ length: 100 }, (_, i) => `  m${i}: { ${mixedTargets[i % 4]} }`)));
  const waitMs = QUICK ? 10_000 : 60_000;
  log(`memory: waiting ${waitMs / 1000} s`);
  await sleep(waitMs);
  const rows = sizes.map((n) => ({ checks: n, types: 'tcp', rssMiB: round(rssMiB(pidOf(agents[n])), 1) }));
  rows.push({ checks: 100, types: '25 each of postgres, redis, http, tcp', rssMiB: round(rssMiB(pidOf(mixed)), 1) });
  const honoIdle = round(rssMiB(pidOf(hono)), 1);
  const libsIdle = round(rssMiB(pidOf(libs)), 1);
  for (const child of [...Object.values(agents), mixed, hono, libs, upstream]) await stop(child);
  const perCheckKiB = round(((rows[2].rssMiB - rows[0].rssMiB) * 1024) / 990, 1);
  return { afterSeconds: waitMs / 1000, honoIdleMiB: honoIdle, libsIdleMiB: libsIdle, rows, perCheckKiB };
}

// ---------------------------------------------------------------- 4. idle

/**
 * What an idle agent costs: 5 tcp checks every 10 s beside bare hono serving a small body, both
 * measured over the same window after a warm-up: CPU per second and wakeups per second.
 */
async function idle() {
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '0'], { ready: 'ipc', core: '1' });
  const body = join(tmp, 'idle.body');
  writeFileSync(body, '{"status":"pass"}');
  const honoPort = await freePort();
  const hono = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'hono', String(honoPort), body, 'application/json'], { ready: 'ipc' });
  const checks = Array.from({ length: 5 }, (_, i) => `  svc${i}: { type: tcp, host: 127.0.0.1, port: ${upstreamPort}, interval: 10s }`);
  const vigil = await startVigil(writeConfig('idle-5', checks));
  const warmUpS = QUICK ? 5 : 15;
  const windowS = QUICK ? 10 : 30;
  await sleep(warmUpS * 1000);
  const processes = { vigil: pidOf(vigil), hono: pidOf(hono) };
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, { cpu: cpuMs(pid), switches: switches(pid) }]));
  await sleep(windowS * 1000);
  const rows = Object.entries(processes).map(([name, pid]) => ({
    process: name,
    cpuMsPerS: round((cpuMs(pid) - before[name].cpu) / windowS, 2),
    wakeupsPerS: round((switches(pid) - before[name].switches) / windowS, 1),
  }));
  // The agent's own wakeups: 5 checks every 10 s are 0.5 attempts a second.
  const runs = await runsTotal(vigil);
  for (const child of [vigil, hono, upstream]) await stop(child);
  return { checks: 5, intervalS: 10, warmUpS, windowS, attemptsSoFar: runs, rows };
}

// ---------------------------------------------------------------- 4. CPU per attempt, 5. blackbox_exporter

const RATE = 200; // attempts per second
const CHECKS_FOR_RATE = 20; // 20 checks every 100 ms

function pgPostmasterPid() {
  const dataDir = spawnSync('psql', [PG_URL, '-Atc', 'SHOW data_directory'], { encoding: 'utf8' }).stdout.trim();
  return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** A CA and a server certificate for 127.0.0.1 it signed, for the tls check: [caFile, certFile, keyFile]. */
function tlsCertificates() {
  const openssl = (args) => execFileSync('openssl', args, { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'bench-ca.key', '-out', 'bench-ca.crt', '-days', '3650', '-subj', '/CN=vigil bench CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  openssl(['req', ...ec, '-keyout', 'bench-tls.key', '-out', 'bench-tls.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(tmp, 'bench-tls.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'bench-tls.csr', '-CA', 'bench-ca.crt', '-CAkey', 'bench-ca.key', '-CAcreateserial', '-out', 'bench-tls.crt', '-days', '30', '-extfile', 'bench-tls.ext']);
  return ['bench-ca.crt', 'bench-tls.crt', 'bench-tls.key'].map((name) => join(tmp, name));
}

function rabbitPid() {
  const out = spawnSync('rabbitmqctl', ['status', '--formatter', 'json'], { encoding: 'utf8' }).stdout;
  return Number(JSON.parse(out).pid);
}

/** The Mosquitto listening where MQTT_URL points, if this machine runs it (undefined otherwise). */
function mosquittoPid() {
  const port = new URL(MQTT_URL).port || '1883';
  const out = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' }).stdout;
  const pid = /"mosquitto",pid=(\d+)/.exec(out)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

function redisPid() {
  const port = new URL(REDIS_URL).port || '6379';
  const out = spawnSync('redis-cli', ['-p', port, 'INFO', 'server'], { encoding: 'utf8' }).stdout;
  return Number(/process_id:(\d+)/.exec(out)[1]);
}

function mysqlPid() {
  const { hostname, port } = new URL(MYSQL_URL);
  const file = spawnSync('mariadb', ['--protocol=tcp', '-h', hostname, '-P', port || '3306', '-u', 'root', '-N', '-e', 'SELECT @@pid_file'], { encoding: 'utf8' }).stdout.trim();
  return Number(readFileSync(file, 'utf8').trim());
}

/** The nats-server serving NATS_URL's port, found by its command line (it has no command that tells). */
function natsPid() {
  const port = new URL(NATS_URL).port || '4222';
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const args = (() => {
      try {
        return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    })();
    if (/nats-server$/.test(args[0] ?? '') && args.some((arg, i) => arg === port && ['-p', '--port'].includes(args[i - 1]))) return Number(entry);
  }
  return undefined;
}

async function cpuPerAttempt() {
  const seconds = QUICK ? 3 : 6;
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '0'], { ready: 'ipc', core: '1' });
  const tlsPort = await freePort();
  const [caFile, tlsCert, tlsKey] = tlsCertificates();
  const tlsServer = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'tls', String(tlsPort), tlsCert, tlsKey], { ready: 'ipc', core: '1' });
  const resolver = await startDnsmasq();
  const grpcPort = await freePort();
  const grpcServer = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'grpc', String(grpcPort)], { ready: 'ipc', core: '1' });
  const targets = {
    tcp: { floor: `127.0.0.1:${upstreamPort}`, yaml: `type: tcp, host: 127.0.0.1, port: ${upstreamPort}` },
    http: { floor: `http://127.0.0.1:${upstreamPort}/`, yaml: `type: http, url: "http://127.0.0.1:${upstreamPort}/"` },
    redis: { floor: REDIS_URL, yaml: `type: redis, url: "${REDIS_URL}"` },
    postgres: { floor: PG_URL, yaml: `type: postgres, url: "${PG_URL}"` },
    // connection: persistent, beside a bare script keeping one client and sending the same query.
    'postgres-persistent': { floor: PG_URL, yaml: `type: postgres, url: "${PG_URL}", connection: persistent` },
    'redis-persistent': { floor: REDIS_URL, yaml: `type: redis, url: "${REDIS_URL}", connection: persistent` },
    tls: { floor: `tls://127.0.0.1:${tlsPort}/?ca=${encodeURIComponent(caFile)}`, yaml: `type: tls, host: 127.0.0.1, port: ${tlsPort}, tls: { caFile: "${caFile}" }` },
    dns: { floor: `${resolver.server}/app.bench`, yaml: `type: dns, name: app.bench, server: "${resolver.server}"` },
    amqp: { floor: AMQP_URL, yaml: `type: amqp, url: "${AMQP_URL}"` },
    mysql: { floor: MYSQL_URL, yaml: `type: mysql, url: "${MYSQL_URL}"` },
    nats: { floor: NATS_URL, yaml: `type: nats, url: "${NATS_URL}"` },
    // The full attempt: CONNACK and a probe message round trip.
    mqtt: { floor: `${MQTT_URL} vigil/bench`, yaml: `type: mqtt, url: "${MQTT_URL}", roundTripTopic: vigil/bench` },
    // The health of the server as a whole, over a fresh channel.
    grpc: { floor: `127.0.0.1:${grpcPort}`, yaml: `type: grpc, target: "127.0.0.1:${grpcPort}"` },
  };
  if (process.env.BENCH_TYPES) for (const type of Object.keys(targets)) if (!process.env.BENCH_TYPES.split(',').includes(type)) delete targets[type];
  const dependencyPid = { redis: redisPid(), 'redis-persistent': redisPid(), postgres: pgPostmasterPid(), 'postgres-persistent': pgPostmasterPid(), dns: pidOf(resolver.child), amqp: rabbitPid(), mysql: mysqlPid(), nats: natsPid(), mqtt: mosquittoPid(), grpc: pidOf(grpcServer) };
  // A dependency whose process cannot be found is measured on the agent's side only.
  const dependencyCpu = Object.fromEntries(Object.entries(dependencyPid).filter(([, pid]) => pid !== undefined).map(([type, pid]) => [type, () => treeCpuMs(pid)]));

  // Idle baselines: an agent with one check an hour, a node process doing nothing, the dependencies at rest.
  const idleAgent = await startVigil(writeConfig('idle', [`  idle: { type: tcp, host: 127.0.0.1, port: ${upstreamPort}, interval: 1h, timeout: 1s }`]));
  const idleNode = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'idle'], { ready: 'ipc' });
  const measureIdle = async (pid) => {
    const before = cpuMs(pid);
    await sleep(seconds * 1000);
    return (cpuMs(pid) - before) / seconds;
  };
  const depIdleBefore = Object.fromEntries(Object.entries(dependencyCpu).map(([type, cpu]) => [type, cpu()]));
  const idle = { agentMsPerS: await measureIdle(pidOf(idleAgent)), nodeMsPerS: await measureIdle(pidOf(idleNode)) };
  const depIdle = Object.fromEntries(Object.entries(depIdleBefore).map(([type, before]) => [type, (dependencyCpu[type]() - before) / (2 * seconds)]));
  await stop(idleAgent);
  await stop(idleNode);

  const samples = {};
  const add = (key, value) => (samples[key] ??= []).push(value);
  const failures = Object.fromEntries(Object.keys(targets).map((type) => [type, { vigil: 0, floor: 0 }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [type, target] of Object.entries(targets)) {
      // vigil: 20 checks every 100 ms.
      const checks = Array.from({ length: CHECKS_FOR_RATE }, (_, i) => `  c${i}: { ${target.yaml}, interval: 100ms, timeout: 80ms }`);
      const vigil = await startVigil(writeConfig(`cpu-${type}`, checks));
      await sleep(1000);
      const runs0 = await runsTotal(vigil);
      const cpu0 = cpuMs(pidOf(vigil));
      const dep0 = dependencyCpu[type]?.();
      await sleep(seconds * 1000);
      const cpu1 = cpuMs(pidOf(vigil));
      const dep1 = dependencyCpu[type]?.();
      const runs1 = await runsTotal(vigil);
      const attempts = runs1 - runs0;
      // A failed attempt (a timeout against a loaded shared server, say) costs differently: it is
      // counted and reported beside the figure, and the bench carries on.
      const failed = failedRuns((await fetchText(`${vigil.url}/metrics`)).body);
      if (failed) log(`cpu: ${failed} of the vigil ${type} attempts failed in round ${r + 1}`);
      failures[type].vigil += failed;
      add(`vigil-${type}`, (cpu1 - cpu0 - idle.agentMsPerS * seconds) / attempts);
      if (dep0 !== undefined) add(`dep-${type}`, (dep1 - dep0 - depIdle[type] * seconds) / attempts);
      await stop(vigil);

      // The floor: the same attempt from a bare script at the same rate.
      const floor = await startPinned(['node', join(ROOT, 'bench/floor.mjs'), type, target.floor, String(RATE)], { ready: 'ipc' });
      await sleep(1000);
      const f0 = cpuMs(pidOf(floor));
      await sleep(seconds * 1000);
      const f1 = cpuMs(pidOf(floor));
      const exited = new Promise((resolve) => floor.once('exit', resolve));
      floor.kill('SIGTERM');
      await exited;
      const { failures: floorFailures } = JSON.parse(floor.output().trim().split('\n').at(-1));
      if (floorFailures) log(`cpu: ${floorFailures} of the bare script's ${type} attempts failed in round ${r + 1}`);
      failures[type].floor += floorFailures;
      add(`floor-${type}`, (f1 - f0 - idle.nodeMsPerS * seconds) / (RATE * seconds));
    }
  }

  // blackbox_exporter at the same probe rate, for tcp and http (the types it has that are measured).
  await stop(tlsServer);
  await stop(resolver.child);
  await stop(grpcServer);
  const blackboxTypes = ['tcp', 'http'].filter((type) => type in targets);
  const blackboxRssMiB = blackboxTypes.length ? await blackboxCpu(blackboxTypes, upstreamPort, measureIdle, add, failures, seconds) : undefined;
  await stop(upstream);

  const m = (key) => (samples[key] ? round(median(samples[key]), 3) : undefined);
  const rows = Object.keys(targets).map((type) => ({
    type,
    vigilMs: m(`vigil-${type}`),
    floorMs: m(`floor-${type}`),
    ratio: round(m(`vigil-${type}`) / m(`floor-${type}`)),
    blackboxMs: m(`blackbox-${type}`),
    dependencyMs: m(`dep-${type}`),
    failed: failures[type],
  }));
  return { ratePerS: RATE, seconds, idleAgentMsPerS: round(idle.agentMsPerS, 3), rows, blackboxRssMiB };
}

/** blackbox_exporter probing at the same rate as the agent attempts; adds its CPU per probe to the samples. */
async function blackboxCpu(types, upstreamPort, measureIdle, add, failures, seconds) {
  const bbPort = await freePort();
  const bbConfig = join(tmp, 'blackbox.yml');
  writeFileSync(bbConfig, 'modules:\n  tcp_connect: { prober: tcp, timeout: 1s, tcp: { preferred_ip_protocol: ip4 } }\n  http_2xx: { prober: http, timeout: 1s, http: { preferred_ip_protocol: ip4 } }\n');
  const blackbox = await startPinned(['prometheus-blackbox-exporter', `--config.file=${bbConfig}`, `--web.listen-address=127.0.0.1:${bbPort}`], {
    ready: async () => (await fetchText(`http://127.0.0.1:${bbPort}/-/healthy`)).status === 200,
  });
  const bbIdle = await measureIdle(pidOf(blackbox));
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 32 });
  const probeUrl = {
    tcp: `http://127.0.0.1:${bbPort}/probe?module=tcp_connect&target=127.0.0.1:${upstreamPort}`,
    http: `http://127.0.0.1:${bbPort}/probe?module=http_2xx&target=http://127.0.0.1:${upstreamPort}/`,
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const type of types) {
      let probes = 0;
      let failed = 0;
      const drive = setInterval(() => {
        get(probeUrl[type], { agent: keepAlive }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => {
            probes++;
            if (!/probe_success 1/.test(body)) failed++;
          });
        }).on('error', () => failed++);
      }, 1000 / RATE);
      await sleep(1000);
      const p0 = probes;
      const c0 = cpuMs(pidOf(blackbox));
      await sleep(seconds * 1000);
      const c1 = cpuMs(pidOf(blackbox));
      const p1 = probes;
      clearInterval(drive);
      await sleep(200);
      if (failed) log(`cpu: ${failed} blackbox_exporter ${type} probes failed in round ${r + 1}`);
      failures[type].blackbox = (failures[type].blackbox ?? 0) + failed;
      add(`blackbox-${type}`, (c1 - c0 - bbIdle * seconds) / (p1 - p0));
    }
  }
  const blackboxRssMiB = round(rssMiB(pidOf(blackbox)), 1);
  keepAlive.destroy();
  await stop(blackbox);
  return blackboxRssMiB;
}

// ---------------------------------------------------------------- soak (opt-in: BENCH_ONLY=soak)

/**
 * The live heap over a long run: 100 checks of mixed types (25 each of postgres, redis, http, tcp)
 * every 10 s — 10 attempts a second — for 10 minutes, the heap measured after a full collection
 * once a minute (the agent runs under test/helpers/serve-with-gc.mjs, which answers over IPC).
 */
async function soak() {
  const upstreamPort = await freePort();
  const upstream = await startPinned(['node', join(ROOT, 'bench/servers.mjs'), 'upstream', String(upstreamPort), '0'], { ready: 'ipc', core: '1' });
  const targets = [
    `type: postgres, url: "${PG_URL}"`,
    `type: redis, url: "${REDIS_URL}"`,
    `type: http, url: "http://127.0.0.1:${upstreamPort}/"`,
    `type: tcp, host: 127.0.0.1, port: ${upstreamPort}`,
  ];
  const config = writeConfig('soak', Array.from({ length: 100 }, (_, i) => `  s${i}: { ${targets[i % 4]}, interval: 10s }`));
  const port = await freePort();
  const agent = await startPinned(['node', '--expose-gc', '--single-threaded-gc', '--max-semi-space-size=2', join(ROOT, 'test/helpers/serve-with-gc.mjs'), '--config', config, '--port', String(port), '--host', '127.0.0.1'], {
    ready: async () => (await fetchText(`http://127.0.0.1:${port}/health/live`)).status === 200,
  });
  agent.url = `http://127.0.0.1:${port}`;
  const liveHeapMiB = () => new Promise((resolve) => {
    agent.once('message', (message) => resolve(round(message.bytes / 1048576, 2)));
    agent.send({ type: 'heap' });
  });
  const minutes = QUICK ? 2 : 10;
  // Every check's first attempts, the drivers loaded and their code compiled: the first minute's
  // growth is warm-up, not a leak.
  await sleep(90_000);
  const samples = [{ minute: 0, liveHeapMiB: await liveHeapMiB(), rssMiB: round(rssMiB(pidOf(agent)), 1), attempts: await runsTotal(agent) }];
  for (let minute = 1; minute <= minutes; minute++) {
    await sleep(60_000);
    samples.push({ minute, liveHeapMiB: await liveHeapMiB(), rssMiB: round(rssMiB(pidOf(agent)), 1), attempts: await runsTotal(agent) });
    log(`soak: minute ${minute}: live heap ${samples.at(-1).liveHeapMiB} MiB, RSS ${samples.at(-1).rssMiB} MiB`);
  }
  const failed = failedRuns((await fetchText(`${agent.url}/metrics`)).body);
  await stop(agent);
  await stop(upstream);
  const first = samples[0];
  const last = samples.at(-1);
  return {
    checks: 100,
    minutes,
    attempts: last.attempts - first.attempts,
    failedAttempts: failed,
    samples,
    liveHeapGrowthMiB: round(last.liveHeapMiB - first.liveHeapMiB, 2),
    maxLiveHeapMiB: Math.max(...samples.map((x) => x.liveHeapMiB)),
  };
}

// ---------------------------------------------------------------- connections

/** The types bench/connections.mjs measures; the section takes postgres and redis unless BENCH_TYPES names others. */
const CONNECTION_TYPES = ['postgres', 'redis', 'mysql', 'nats', 'mqtt', 'mqtt-roundtrip', 'grpc'];

/**
 * connection: persistent beside fresh: vigil's CPU per attempt and the dependency's, beside a bare
 * script (a new client per attempt, or one kept), by bench/connections.mjs against servers of its own.
 */
async function connections() {
  const named = process.env.BENCH_TYPES?.split(',').filter((type) => CONNECTION_TYPES.includes(type));
  const types = named?.length ? named : ['postgres', 'redis'];
  const run = spawnSync('node', [join(ROOT, 'bench/connections.mjs')], {
    env: { ...process.env, BENCH_TYPES: types.join(','), BENCH_ROUNDS: String(ROUNDS), BENCH_SECONDS: QUICK ? '2' : '6' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`bench/connections.mjs ended with ${run.status}: ${(run.stderr ?? '').slice(-300)}`);
  // It prints its results as JSON, then a table.
  return JSON.parse(run.stdout.slice(run.stdout.indexOf('{'), run.stdout.indexOf('\n}\n') + 2));
}

// ---------------------------------------------------------------- report

/**
 * Every goal beside its measured figure and the baseline it is judged against, from the same run
 * (a bare script, bare hono, one core's floor), so a slower machine is not read as a regression.
 * Goals of a section that did not run or failed are left out.
 */
function verdicts(r) {
  const targets = [];
  const goal = (target, value, limit, met, baseline) => targets.push({ target, value, limit, met, baseline });
  if (r.concurrency) {
    const c = Object.fromEntries(r.concurrency.rows.map((row) => [row.checks, row]));
    goal('100 checks: first round within 1.2x of one check', c[100].ratio, 1.2, c[100].ratio <= 1.2, `bare script ${c[100].bareScriptRatio}x`);
    if (c[1000]) goal('1000 checks: first round within 2.2x of one check', c[1000].ratio, 2.2, c[1000].ratio <= 2.2, `one core's floor (bare script) ${c[1000].bareScriptRatio}x`);
  }
  if (r.endpoints) {
    for (const shape of Object.values(r.endpoints.shapes)) {
      const ratio = round(shape.ready.vigil.rps / shape.ready.hono.rps);
      goal(`/health/ready, ${shape.checks} checks, ${shape.connections} connections: >= 80% of bare hono req/s`, ratio, 0.8, ratio >= 0.8, `bare hono ${shape.ready.hono.rps} req/s`);
    }
    const m = r.endpoints.shapes['100x16'].metrics.vigil.cpuMsPerRequest;
    goal('/metrics with 100 checks: <= 0.5 ms CPU per scrape', m, 0.5, m <= 0.5, '—');
    const w = r.endpoints.with1000;
    goal('1000 checks: /health/ready p99 < 10 ms (500 req/s) while /metrics is scraped each second', w.readyP99Ms, 10, w.readyP99Ms < 10, `bare hono, same bytes and rate: p99 ${w.honoP99Ms} ms`);
  }
  if (r.memory) {
    const mixed = r.memory.rows.find((row) => row.types !== 'tcp');
    const ratio = round(mixed.rssMiB / r.memory.honoIdleMiB);
    goal('RSS with 100 checks of mixed types within 1.3x of bare hono idle', ratio, 1.3, ratio <= 1.3, `bare hono ${r.memory.honoIdleMiB} MiB; with prom-client, pg, ioredis loaded ${r.memory.libsIdleMiB} MiB (${round(r.memory.libsIdleMiB / r.memory.honoIdleMiB)}x)`);
  }
  if (r.idle) {
    const v = r.idle.rows.find((row) => row.process === 'vigil');
    const h = r.idle.rows.find((row) => row.process === 'hono');
    goal('idle, 5 checks at 10 s: <= 2.0 ms CPU per second', v.cpuMsPerS, 2, v.cpuMsPerS <= 2, `bare hono ${h.cpuMsPerS} ms/s, ${h.wakeupsPerS} wakeups/s (vigil ${v.wakeupsPerS})`);
  }
  if (r.soak) {
    const g = r.soak.liveHeapGrowthMiB;
    goal(`live heap flat over ${r.soak.minutes} minutes at 10 attempts/s (growth < 1 MiB)`, g, 1, g < 1, `start ${r.soak.samples[0].liveHeapMiB} MiB after a full GC`);
  }
  if (r.cpu) {
    for (const row of r.cpu.rows) goal(`CPU per ${row.type} attempt within 1.2x of the bare-script floor`, row.ratio, 1.2, row.ratio <= 1.2, `bare script ${row.floorMs} ms`);
  }
  if (r.connections) {
    const row = (check, connection) => r.connections.rows.find((x) => x.check === check && x.connection === connection);
    const pg = row('postgres', 'persistent');
    if (pg) goal('persistent postgres: database CPU per attempt <= 0.1 ms', pg.dependencyMs, 0.1, pg.dependencyMs <= 0.1, `fresh ${row('postgres', 'fresh')?.dependencyMs} ms; a bare script keeping one client ${pg.dependencyWithBareScriptMs} ms`);
    for (const kept of r.connections.rows.filter((x) => x.connection === 'persistent')) {
      goal(`persistent ${kept.check}: vigil's CPU per attempt within 1.2x of a bare script keeping one client`, kept.ratio, 1.2, kept.ratio <= 1.2, `bare script ${kept.bareScriptMs} ms (vigil fresh: ${row(kept.check, 'fresh')?.vigilMs} ms)`);
    }
  }
  return targets;
}

function table(rows, columns) {
  const head = columns.map(([title]) => title);
  const body = rows.map((row) => columns.map(([, get]) => String(get(row) ?? '—')));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

function report(r) {
  const out = [];
  out.push(`vigil bench — ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; ${r.rounds} rounds, medians\n`);
  if (r.concurrency) {
    out.push('1. First complete round of N HTTP checks (upstream answers after 200 ms)');
    out.push(table(r.concurrency.rows, [
      ['checks', (x) => x.checks],
      ['first round (ms)', (x) => x.firstRoundMs],
      ['ratio to 1 check', (x) => x.ratio],
      ['bare script, same requests at once (ms)', (x) => x.bareScriptMs],
      ['bare script ratio (one core\'s floor)', (x) => x.bareScriptRatio],
    ]));
  }
  if (r.endpoints) {
    out.push('\n2. Endpoints (wrk -t1 on core 1, server on core 0)');
    const rows = Object.values(r.endpoints.shapes).flatMap((shape) => [
      { what: `/health/ready, ${shape.checks} checks, -c${shape.connections}`, ...shape.ready },
      { what: `/metrics, ${shape.checks} checks, -c${shape.connections}`, ...shape.metrics },
    ]);
    out.push(table(rows, [
      ['endpoint', (x) => x.what],
      ['vigil req/s', (x) => x.vigil.rps],
      ['bare hono req/s', (x) => x.hono.rps],
      ['ratio', (x) => round(x.vigil.rps / x.hono.rps)],
      ['node:http req/s', (x) => x.nodeHttp.rps],
      ['vigil p99 (ms)', (x) => x.vigil.p99Ms],
      ['hono p99 (ms)', (x) => x.hono.p99Ms],
      ['vigil CPU/request (ms)', (x) => x.vigil.cpuMsPerRequest],
    ]));
    const w = r.endpoints.with1000;
    out.push(`With 1000 checks, /metrics (${Math.round(w.metricsBytes / 1024)} KiB) scraped every second: /health/ready (${Math.round(w.readyBytes / 1024)} KiB) at ${w.readyRatePerS} req/s p50 ${w.readyP50Ms} ms, p99 ${w.readyP99Ms} ms (bare hono serving the same bytes at the same rate: p99 ${w.honoP99Ms} ms); saturated by wrk -c2: ${w.saturated.rps} req/s, p99 ${w.saturated.p99Ms} ms.`);
  }
  if (r.memory) {
    out.push(`\n3. Memory after ${r.memory.afterSeconds} s (checks every 10 s); bare hono idle: ${r.memory.honoIdleMiB} MiB; bare hono with prom-client, pg and ioredis loaded (the mixed agent's floor): ${r.memory.libsIdleMiB} MiB`);
    out.push(table(r.memory.rows, [['checks', (x) => x.checks], ['types', (x) => x.types], ['RSS (MiB)', (x) => x.rssMiB], ['ratio to bare hono', (x) => round(x.rssMiB / r.memory.honoIdleMiB)]]));
    out.push(`Growth per added tcp check: ${r.memory.perCheckKiB} KiB`);
  }
  if (r.idle) {
    out.push(`\n4. Idle: ${r.idle.checks} tcp checks every ${r.idle.intervalS} s beside bare hono, ${r.idle.windowS} s after a ${r.idle.warmUpS} s warm-up`);
    out.push(table(r.idle.rows, [['process', (x) => x.process], ['CPU (ms/s)', (x) => x.cpuMsPerS], ['wakeups/s (context switches, all threads)', (x) => x.wakeupsPerS]]));
  }
  if (r.cpu) {
    out.push(`\n5. CPU per attempt at ${r.cpu.ratePerS} attempts/s (agent's own CPU minus the idle agent's ${r.cpu.idleAgentMsPerS} ms/s)`);
    out.push(table(r.cpu.rows, [
      ['type', (x) => x.type],
      ['vigil (ms)', (x) => x.vigilMs],
      ['bare script (ms)', (x) => x.floorMs],
      ['ratio', (x) => x.ratio],
      ['blackbox_exporter (ms)', (x) => x.blackboxMs],
      ['dependency (ms)', (x) => x.dependencyMs],
      ['failed attempts (vigil / bare)', (x) => `${x.failed.vigil} / ${x.failed.floor}`],
    ]));
    if (r.cpu.blackboxRssMiB !== undefined) out.push(`blackbox_exporter RSS: ${r.cpu.blackboxRssMiB} MiB`);
  }
  if (r.soak) {
    out.push(`\n6. Soak: ${r.soak.checks} checks of mixed types, ${r.soak.attempts} attempts over ${r.soak.minutes} minutes (${r.soak.failedAttempts} failed); live heap after a full GC`);
    out.push(table(r.soak.samples, [['minute', (x) => x.minute], ['live heap (MiB)', (x) => x.liveHeapMiB], ['RSS (MiB)', (x) => x.rssMiB]]));
  }
  if (r.connections) {
    out.push(`\n7. Connections: fresh and persistent at ${r.connections.ratePerS} attempts/s, servers of the bench's own (agent's own CPU minus the idle agent's ${r.connections.idleAgentMsPerS} ms/s)`);
    out.push(table(r.connections.rows, [
      ['check', (x) => x.check],
      ['connection', (x) => x.connection],
      ['vigil (ms)', (x) => x.vigilMs],
      ['bare script (ms)', (x) => x.bareScriptMs],
      ['ratio', (x) => x.ratio],
      ['dependency (ms), vigil / bare', (x) => `${x.dependencyMs} / ${x.dependencyWithBareScriptMs}`],
      ['failed attempts (vigil / bare)', (x) => `${x.failedAttempts} / ${x.failedBareScript}`],
    ]));
  }
  out.push('\nSections (seconds)');
  out.push(table(Object.entries(r.sections).map(([name, s]) => ({ name, ...s })), [['section', (x) => x.name], ['took (s)', (x) => x.seconds], ['result', (x) => x.error ?? 'ok']]));
  out.push('\nGoals');
  out.push(table(r.targets, [['goal', (x) => x.target], ['measured', (x) => x.value], ['limit', (x) => x.limit], ['baseline, same run', (x) => x.baseline], ['met', (x) => (x.met ? 'yes' : 'NO')]]));
  return out.join('\n');
}

const SECTIONS = { concurrency, endpoints, memory, idle, cpu: cpuPerAttempt, connections, soak };
/** A plain `npm run bench`; the 10-minute soak runs when named in BENCH_ONLY. */
const DEFAULT_SECTIONS = ['concurrency', 'endpoints', 'memory', 'idle', 'cpu', 'connections'];

async function main() {
  ensureTools();
  if (!commandExists('taskset')) throw new Error('taskset (util-linux) is required');
  const results = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0].model, cores: cpus().length, node: process.version },
    rounds: ROUNDS,
    sections: {},
  };
  // BENCH_ONLY=idle (or a comma-separated list of concurrency, endpoints, memory, idle, cpu, connections) runs those sections only.
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = only?.filter((name) => !(name in SECTIONS)) ?? [];
  if (unknown.length) throw new Error(`BENCH_ONLY=${process.env.BENCH_ONLY}: sections are ${Object.keys(SECTIONS).join(', ')}`);
  const names = only ?? DEFAULT_SECTIONS;
  // Each section's figures are saved as soon as it ends; a section that fails is reported and the
  // next one runs: a failure loses nothing measured.
  const save = () => writeFileSync(join(ROOT, only ? 'bench/results.partial.json' : 'bench/results.json'), `${JSON.stringify(results, null, 2)}\n`);
  for (const [i, name] of names.entries()) {
    log(`${i + 1}/${names.length} ${name}`);
    const t0 = performance.now();
    try {
      results[name] = await SECTIONS[name]();
      results.sections[name] = { seconds: Math.round((performance.now() - t0) / 1000) };
    } catch (error) {
      log(`${name} failed: ${error.stack ?? error}`);
      results.sections[name] = { seconds: Math.round((performance.now() - t0) / 1000), error: String(error.message ?? error).slice(0, 200) };
      process.exitCode = 1;
      for (const child of children) child.kill('SIGKILL');
    }
    results.targets = verdicts(results);
    save();
  }
  console.log(report(results));
}

const cleanup = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
main().catch((error) => {
  console.error(`bench failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
