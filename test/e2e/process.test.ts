// The vigil process as an orchestrator and a log pipeline see it (the built CLI): only JSON lines on
// its standard streams, signals during start-up, a closed log pipe, last-resort exception handling.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';
import { jsonLines, killAll, spawnCli } from '../helpers/process.js';
import { PG_URL, REDIS_URL } from '../helpers/services.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  killAll();
  for (const close of closers.splice(0)) await close().catch(() => undefined);
});

/**
 * A Redis stand-in that, like a real Redis without a password, refuses AUTH "without any password
 * configured": ioredis then prints a notice with console.warn and carries on to PING.
 */
async function startPasswordlessRedis(): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (;;) {
        const command = takeCommand();
        if (!command) return;
        const name = command[0]!.toUpperCase();
        if (name === 'HELLO' || name === 'AUTH') socket.write('-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n');
        else if (name === 'PING') socket.write('+PONG\r\n');
        else socket.write('+OK\r\n');
      }
    });
    const takeCommand = (): string[] | undefined => {
      const head = /^\*(\d+)\r\n/.exec(buffered);
      if (!head) return undefined;
      let at = head[0].length;
      const args: string[] = [];
      for (let i = 0; i < Number(head[1]); i++) {
        const size = /^\$(\d+)\r\n/.exec(buffered.slice(at));
        if (!size || buffered.length < at + size[0].length + Number(size[1]) + 2) return undefined;
        at += size[0].length;
        args.push(buffered.slice(at, at + Number(size[1])));
        at += Number(size[1]) + 2;
      }
      buffered = buffered.slice(at);
      return args;
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Whether the process has vigil's signal handlers: SIGHUP's (SigCgt of /proc/<pid>/status, bit 0),
 * which vigil installs after its SIGTERM and SIGINT handlers (Node catches those two from its first
 * instant, so their bits say nothing).
 */
function catches(pid: number): boolean {
  try {
    const mask = BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`);
    return (mask & 1n) !== 0n;
  } catch {
    return false;
  }
}

describe('runtime warnings and driver notices break the JSON log', () => {
  it('runtime warnings and driver notices: every stdout/stderr line of a busy run (checks passing and failing, reloads, SIGTERM) is JSON', async () => {
    const upstream: Upstream = await startUpstream((_req, res) => res.end('ok'));
    closers.push(() => upstream.close());
    const redis = await startPasswordlessRedis();
    closers.push(() => redis.close());
    const port = await freePort();
    const secret = 'Sup3rSecretPw';
    const closedPort = await freePort();
    const checks = (extra = '') => `
server: { drainDelay: 300ms }
checks:
  db: { type: postgres, url: "${PG_URL}", interval: 300ms, timeout: 250ms }
  db-tls: { type: postgres, url: "${PG_URL}?sslmode=require", interval: 300ms, timeout: 250ms, critical: false }
  cache: { type: redis, url: "${REDIS_URL}", interval: 300ms, timeout: 250ms }
  notice: { type: redis, url: "redis://:${secret}@127.0.0.1:${redis.port}", interval: 300ms, timeout: 250ms, critical: false }
  api: { type: http, url: "${upstream.url}/health", interval: 300ms, timeout: 250ms }
  api-tls: { type: http, url: "https://127.0.0.1:${upstream.port}/", interval: 300ms, timeout: 250ms, critical: false }
  down: { type: tcp, host: 127.0.0.1, port: ${closedPort}, interval: 300ms, timeout: 250ms, critical: false }
${extra}`;
    const path = tempConfig(checks());
    // NODE_TLS_REJECT_UNAUTHORIZED=0 makes Node emit a process warning at the first TLS connection.
    const agent = spawnCli(['serve', '--config', path, '--port', String(port), '--host', '127.0.0.1'], { NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    const url = `http://127.0.0.1:${port}`;
    await waitFor('ready', async () => (await getJson(`${url}/health/ready`).catch(() => undefined))?.status === 200);
    await waitFor('the failing checks to fail', async () => {
      const body = (await getJson(`${url}/health`)).body;
      return ['db-tls', 'api-tls', 'down'].every((name) => body.checks[`${name}:responseTime`]?.[0].status === 'fail');
    });
    agent.child.kill('SIGHUP');
    await waitFor('the SIGHUP reload', () => agent.output().includes('"trigger":"SIGHUP"') || agent.output().includes('configuration reloaded'));
    writeFileSync(path, checks(`  more: { type: tcp, host: 127.0.0.1, port: ${upstream.port}, interval: 300ms, timeout: 250ms }\n`));
    await waitFor('the file reload', () => jsonLines(agent.output()).some((l) => l.msg === 'configuration reloaded' && l.added === 1));
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);

    const lines = jsonLines(agent.output());
    for (const line of lines) {
      expect(line).toEqual(expect.objectContaining({ time: expect.any(String), level: expect.any(String), severity: expect.any(String), msg: expect.any(String) }));
    }
    const warning = lines.find((l) => l.msg.includes('NODE_TLS_REJECT_UNAUTHORIZED'));
    expect(warning, 'the process warning, as a log line').toMatchObject({ level: 'warn', severity: 'WARNING', warning: 'Warning' });
    const notice = lines.find((l) => l.source === 'console');
    expect(notice, "ioredis's console.warn notice, as a log line").toMatchObject({ level: 'warn', msg: expect.stringContaining('password') });
    expect(lines.map((l) => l.msg)).toContain('vigil stopped');
    expect(agent.output()).not.toContain(secret);
  });

  it('runtime warnings and driver notices: vigil check prints its report on stdout and only JSON lines on stderr', async () => {
    const redis = await startPasswordlessRedis();
    closers.push(() => redis.close());
    const run = await runCli(
      ['check', '--json', '--config', tempConfig(`checks:\n  db-tls: { type: postgres, url: "${PG_URL}?sslmode=require", critical: false }\n  notice: { type: redis, url: "redis://:pw12345@127.0.0.1:${redis.port}" }\n  tls: { type: http, url: "https://127.0.0.1:${redis.port}/", timeout: 500ms, critical: false }\n`)],
      { NODE_TLS_REJECT_UNAUTHORIZED: '0' },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).checks).toHaveLength(3);
    const lines = jsonLines(run.stderr);
    expect(lines.some((l) => l.msg.includes('NODE_TLS_REJECT_UNAUTHORIZED'))).toBe(true);
    expect(lines.some((l) => l.source === 'console')).toBe(true);
  });
});

describe('SIGHUP (or SIGTERM) in the first ~0.5 s of start-up kills the agent silently', () => {
  const config = () => tempConfig(`server: { drainDelay: 300ms }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`);

  it('SIGHUP during start-up: the agent survives it and reloads once ready, every time', async () => {
    let duringStartup = 0;
    for (let round = 0; round < 5; round++) {
      const port = await freePort();
      const agent = spawnCli(['serve', '--config', config(), '--port', String(port), '--host', '127.0.0.1']);
      // As soon as the process can take a signal at all (Node's own bootstrap comes first).
      await waitFor('a SIGHUP handler', () => catches(agent.child.pid!) || agent.child.exitCode !== null, 10_000, 1);
      const sentBeforeStart = !agent.output().includes('vigil started');
      agent.child.kill('SIGHUP');
      await waitFor(`the reload (output: ${agent.output()})`, () => {
        if (agent.child.exitCode !== null) throw new Error(`vigil exited with ${agent.child.exitCode}: ${agent.output()}`);
        return jsonLines(agent.output()).some((l) => l.msg === 'configuration reloaded');
      });
      const lines = jsonLines(agent.output());
      const msgs = lines.map((l) => l.msg);
      expect(msgs.indexOf('vigil started')).toBeLessThan(msgs.indexOf('configuration reloaded'));
      if (sentBeforeStart && msgs.includes('signal received during start-up: handled now')) duringStartup++;
      expect((await getJson(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    }
    // The handler exists long before the agent runs: the signals above arrived during start-up.
    expect(duringStartup).toBeGreaterThanOrEqual(1);
  });

  it('SIGTERM during start-up: the agent drains once ready and exits 0, every time', async () => {
    let duringStartup = 0;
    for (let round = 0; round < 3; round++) {
      const agent = spawnCli(['serve', '--config', config(), '--port', String(await freePort()), '--host', '127.0.0.1']);
      // Node catches SIGTERM from its first instant (to restore the terminal, then dies of it), so its
      // bit says nothing; vigil installs its SIGHUP and SIGTERM handlers together.
      await waitFor('the signal handlers', () => catches(agent.child.pid!) || agent.child.exitCode !== null, 10_000, 1);
      agent.child.kill('SIGTERM');
      expect(await agent.exited, agent.output()).toBe(0);
      const msgs = jsonLines(agent.output()).map((l) => l.msg);
      if (msgs.includes('signal received during start-up: handled now')) duringStartup++;
      expect(msgs).toEqual(expect.arrayContaining(['vigil started', expect.stringMatching(/^draining/), 'vigil stopped']));
    }
    expect(duringStartup).toBeGreaterThanOrEqual(1);
  });
});

describe('uncaughtException must be logged as one JSON line (level fatal)', () => {
  // An exception no code of the agent catches, thrown inside the real process from a listener that
  // a preloaded module adds (a driver's stray throw is contained by the checks themselves).
  const preload = (body: string) => ['--import', `data:text/javascript,${encodeURIComponent(`process.on('SIGUSR2', () => { ${body} })`)}`];

  it.each([
    ['uncaughtException', "throw new Error('boom at ' + process.env.BOOM_URL)", 'uncaught exception'],
    ['unhandledRejection', "Promise.reject(new Error('boom at ' + process.env.BOOM_URL))", 'unhandled rejection'],
  ])('%s: one fatal JSON line naming the error, then a non-zero exit', async (_name, body, msg) => {
    const port = await freePort();
    const agent = spawnCli(['serve', '--config', tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`), '--port', String(port), '--host', '127.0.0.1'], { BOOM_URL: 'postgres://app:Hunter2Secret@db/x' }, preload(body));
    await waitFor('live', async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok);
    agent.child.kill('SIGUSR2');
    const code = await agent.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const fatal = jsonLines(agent.output()).filter((l) => l.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]).toMatchObject({ severity: 'CRITICAL', msg: expect.stringContaining(msg), error: expect.stringContaining('boom at postgres://***@db/x') });
    expect(agent.output()).not.toContain('Hunter2Secret');
  });
});

describe('a closed log pipe kills the agent', () => {
  it('closed log pipe: EPIPE on stdout and stderr is survived, the agent keeps serving and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const path = tempConfig(`server: { drainDelay: 200ms }\nchecks:\n  cache: { type: redis, url: "${REDIS_URL}", interval: 200ms, timeout: 150ms }\n`);
    const child = spawn(process.execPath, [CLI, 'serve', '--config', path, '--port', String(port), '--host', '127.0.0.1'], {
      env: { ...cleanEnv(), VIGIL_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    closers.push(async () => void child.kill('SIGKILL'));
    // Like `vigil serve 2>&1 | head -c 300`: the reader takes a few bytes and goes away.
    await new Promise<void>((resolve) => child.stderr!.once('data', () => resolve()));
    child.stderr!.destroy();
    child.stdout!.destroy();
    await waitFor('live', async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok);
    // Debug logs a line per attempt (five a second); a reload logs more.
    child.kill('SIGHUP');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(child.exitCode).toBeNull();
    expect((await getJson(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
