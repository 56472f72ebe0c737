// Heartbeat checks with the built CLI and real HTTP requests: beats keep a check passing, its
// failure comes at ttl after the last beat (not before, not a poll later), an explicit failure fails
// at once with one log line and no "missed" afterwards, and the endpoint lets in only the callers
// and bodies it should.
import { mkdtempSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig, type Served } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';
import { jsonLines } from '../helpers/process.js';

const agents = agentsForEachTest(afterEach);

const beat = (agent: Served, name: string, init: { body?: string; token?: string; method?: string } = {}) =>
  fetch(`${agent.url}/heartbeat/${name}`, {
    method: init.method ?? 'POST',
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: { ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(init.token === undefined ? {} : { Authorization: `Bearer ${init.token}` }) },
  });
const entry = async (agent: Served, name: string) => (await getJson(`${agent.url}/health`)).body.checks[`${name}:responseTime`][0];
const transitions = (agent: Served, name: string) => jsonLines(agent.output()).filter((line) => line.check === name && /^check \S+ (passes|fails)$/.test(line.msg));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tokenFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vigil-hb-')), 'token');
  writeFileSync(path, content);
  return path;
}

describe('heartbeat checks (built CLI)', () => {
  it('beats every second keep a 3 s ttl passing; when they stop it fails at ttl after the last beat, not before', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 3s }\n');
    // Pending until the first beat: readiness fails.
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'pending' });
    expect((await getJson(`${agent.url}/health/ready`)).status).toBe(503);
    // Taken before each request: the agent's beat is later, so the age measured from here is an
    // upper bound of the real one, and a failure seen at less than ttl from here came early.
    let lastBeat = 0;
    for (let i = 0; i < 5; i++) {
      lastBeat = Date.now();
      const res = await beat(agent, 'worker');
      const answered = Date.now();
      expect(res.status).toBe(204);
      const current = await entry(agent, 'worker');
      // Latency: the age of the last beat, which this beat is; the gap since the previous one is observed.
      expect(current).toMatchObject({ status: 'pass', observedValue: 0 });
      if (i > 0) expect(current.observation.gapMs).toBeGreaterThanOrEqual(1000);
      const metrics = await (await fetch(`${agent.url}/metrics`)).text();
      const lastSuccess = Number(/^vigil_check_last_success_timestamp_seconds\{check="worker",type="heartbeat"\} (\S+)$/m.exec(metrics)?.[1]) * 1000;
      expect(lastSuccess).toBeGreaterThanOrEqual(lastBeat - 1);
      expect(lastSuccess).toBeLessThanOrEqual(answered + 1);
      await sleep(1000);
    }
    expect((await getJson(`${agent.url}/health/ready`)).status).toBe(200);
    // Beats stop. Until ttl it keeps passing...
    const failedAfter = await waitFor(
      'the check to fail',
      async () => {
        const current = await entry(agent, 'worker');
        // Read after the answer: an upper bound of the beat's age when the agent answered.
        const elapsed = Date.now() - lastBeat;
        if (current.status === 'pass') return undefined;
        return { elapsed, current };
      },
      10_000,
      25,
    );
    // ...then fails at ttl after the last beat, within a generous margin for a busy machine.
    expect(failedAfter.elapsed).toBeGreaterThanOrEqual(3000);
    expect(failedAfter.elapsed).toBeLessThan(3000 + 1000);
    expect(failedAfter.current).toMatchObject({ status: 'fail', reason: 'heartbeat_missed' });
    expect(failedAfter.current.output).toMatch(/^no heartbeat for 3s \(ttl\); the last came at \d{4}-/);
    // Latency: the age of the last beat (the ttl, at a miss).
    expect(failedAfter.current.observedValue).toBeGreaterThanOrEqual(2990);
    console.log(`heartbeat ttl 3s: failing seen ${failedAfter.elapsed} ms after the last beat`);
    // One log line per transition, none per beat.
    expect(transitions(agent, 'worker').map((line) => `${line.from}->${line.to}`)).toEqual(['pending->pass', 'pass->fail']);
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toContain('vigil_check_up{check="worker",type="heartbeat"} 0');
    expect(metrics).toContain('vigil_check_runs_total{check="worker",type="heartbeat",result="pass"} 5');
    expect(metrics).toContain('vigil_check_failures_total{check="worker",type="heartbeat",reason="heartbeat_missed"} 1');
  }, 30_000);

  it('an explicit failure fails at once, with one log line, and no heartbeat_missed follows', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 1s }\n');
    expect((await beat(agent, 'worker')).status).toBe(204);
    const reported = Date.now();
    const res = await beat(agent, 'worker', { body: JSON.stringify({ status: 'fail', output: 'queue consumer lost its broker' }) });
    expect(res.status).toBe(204);
    // At once: the very next read shows it.
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'reported', output: 'reported failing: queue consumer lost its broker' });
    expect(Date.now() - reported).toBeLessThan(1000);
    // Well past the ttl: still the reported failure, and nothing else happened.
    await sleep(2500);
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'reported' });
    expect(transitions(agent, 'worker').map((line) => `${line.to}:${line.reason ?? ''}`)).toEqual(['pass:', 'fail:reported']);
    expect(agent.output()).not.toContain('heartbeat_missed');
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toContain('vigil_check_failures_total{check="worker",type="heartbeat",reason="reported"} 1');
    expect(metrics).not.toContain('reason="heartbeat_missed"');
  }, 20_000);

  it('with a token: a wrong or missing token is 401 and the check untouched; the right one is a beat', async () => {
    const agent = await agents.start(`checks:\n  worker: { type: heartbeat, ttl: 10s, tokenFile: ${tokenFile('right-token\n')} }\n`);
    for (const token of ['wrong-token', undefined, 'right-token-but-longer']) {
      const res = await beat(agent, 'worker', { token, body: '{"status":"fail","output":"x"}' });
      expect(res.status, String(token)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    // Untouched: still pending, no run recorded, no log line.
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'pending', consecutiveFailures: 0 });
    expect(await (await fetch(`${agent.url}/metrics`)).text()).not.toMatch(/vigil_check_runs_total\{check="worker",[^}]*\} [1-9]/);
    expect(transitions(agent, 'worker')).toEqual([]);
    expect((await beat(agent, 'worker', { token: 'right-token' })).status).toBe(204);
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'pass' });
  }, 20_000);

  it('server.heartbeatTokenFile guards every heartbeat without its own; rotating it applies without a SIGHUP', async () => {
    const serverToken = tokenFile('first-token');
    const own = tokenFile('own-token');
    const agent = await agents.start(`server: { heartbeatTokenFile: ${serverToken} }\nchecks:\n  a: { type: heartbeat, ttl: 10s }\n  b: { type: heartbeat, ttl: 10s, tokenFile: ${own} }\n`);
    expect((await beat(agent, 'a')).status).toBe(401);
    expect((await beat(agent, 'a', { token: 'first-token' })).status).toBe(204);
    // The check's own token outranks the server-wide one.
    expect((await beat(agent, 'b', { token: 'first-token' })).status).toBe(401);
    expect((await beat(agent, 'b', { token: 'own-token' })).status).toBe(204);
    writeFileSync(serverToken, 'second-token');
    await waitFor('the rotated token to apply', async () => (await beat(agent, 'a', { token: 'second-token' })).status === 204, 10_000, 100);
    expect((await beat(agent, 'a', { token: 'first-token' })).status).toBe(401);
  }, 20_000);

  it('deleting or emptying a token file does not revoke its token (the reload fails, the running token stays); replacing its content does', async () => {
    const file = tokenFile('first-token');
    const agent = await agents.start(`server: { heartbeatTokenFile: ${file} }\nchecks:\n  a: { type: heartbeat, ttl: 10s }\n`);
    const lastReloadOk = async () => Number(/^vigil_config_last_reload_successful (\d)$/m.exec(await (await fetch(`${agent.url}/metrics`)).text())?.[1]);
    expect((await beat(agent, 'a', { token: 'first-token' })).status).toBe(204);
    for (const change of [() => unlinkSync(file), () => writeFileSync(file, '')]) {
      change();
      await waitFor('the reload to be refused', async () => (await lastReloadOk()) === 0, 10_000, 100);
      expect((await beat(agent, 'a', { token: 'first-token' })).status).toBe(204);
      writeFileSync(file, 'first-token');
      await waitFor('the reload to succeed', async () => (await lastReloadOk()) === 1, 10_000, 100);
    }
    writeFileSync(file, 'second-token');
    await waitFor('the new token to apply', async () => (await beat(agent, 'a', { token: 'second-token' })).status === 204, 10_000, 100);
    expect((await beat(agent, 'a', { token: 'first-token' })).status).toBe(401);
  }, 40_000);

  it('without a token, only loopback callers may post (none with trustLoopback false), and a refused caller learns nothing of the names', async () => {
    const agent = await agents.start('server: { trustLoopback: false }\nchecks:\n  worker: { type: heartbeat, ttl: 10s }\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n');
    for (const name of ['worker', 'db', 'nothing']) expect((await beat(agent, name)).status, name).toBe(401);
    // Details are hidden from loopback too here: the metrics say the check was not touched.
    expect(await (await fetch(`${agent.url}/metrics`)).text()).not.toMatch(/vigil_check_runs_total\{check="worker",[^}]*\} [1-9]/);
  }, 20_000);

  it('answers 404 for a name that is not a heartbeat check, 405 for another method, 413 for a large body, 400 for a bad one', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 10s }\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n');
    for (const name of ['nothing', 'db']) {
      const res = await beat(agent, name);
      expect(res.status, name).toBe(404);
      // Says nothing about which checks exist.
      expect(await res.text()).toBe('{"error":"not found"}');
    }
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await beat(agent, 'worker', { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
    expect((await beat(agent, 'worker', { body: JSON.stringify({ status: 'fail', output: 'x'.repeat(5000) }) })).status).toBe(413);
    // A chunked body (no Content-Length) over the limit is refused as well.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${agent.url}/heartbeat/worker`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await beat(agent, 'worker', { body: 'not json' })).status).toBe(400);
    expect((await beat(agent, 'worker', { body: '{"status":"down"}' })).status).toBe(400);
    // None of it touched the check.
    expect(await entry(agent, 'worker')).toMatchObject({ reason: 'pending' });
  }, 20_000);

  it('refuses a cross-origin post (403) and a body not sent as application/json (415): a browser page cannot fail a check', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 10s }\n');
    const post = (headers: Record<string, string>, body?: string) => fetch(`${agent.url}/heartbeat/worker`, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
    const failing = '{"status":"fail","output":"forged"}';
    // What a page on another site may send without a preflight: a simple POST, text/plain.
    expect((await post({ Origin: 'https://evil.example', 'Content-Type': 'text/plain' }, failing)).status).toBe(403);
    expect((await post({ Origin: 'https://evil.example', 'Content-Type': 'application/json' }, failing)).status).toBe(403);
    expect((await post({ Origin: 'null' })).status).toBe(403);
    // Without an Origin, a non-empty body must still say it is JSON (text/plain and a form's type are what a simple request carries).
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      expect((await post({ 'Content-Type': type }, failing)).status, type).toBe(415);
    }
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'pending' });
    // The agent's own origin, an empty body without a type, and JSON are let in.
    const host = new URL(agent.url).host;
    expect((await post({ Origin: `http://${host}` })).status).toBe(204);
    expect((await post({})).status).toBe(204);
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'pass' });
    expect((await post({ 'Content-Type': 'application/json; charset=utf-8' }, failing)).status).toBe(204);
    expect(await entry(agent, 'worker')).toMatchObject({ status: 'fail', reason: 'reported' });
  }, 20_000);

  it('counts every refused beat in vigil_heartbeat_rejected_total by a bounded reason (no series per name posted to), with a debug line', async () => {
    const agent = await agents.start(`server: { logLevel: debug }\nchecks:\n  worker: { type: heartbeat, ttl: 10s, tokenFile: ${tokenFile('right-token')} }\n`);
    const rejected = async () => {
      const metrics = await (await fetch(`${agent.url}/metrics`)).text();
      return Object.fromEntries([...metrics.matchAll(/^vigil_heartbeat_rejected_total\{reason="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    };
    expect(await rejected()).toEqual({ unauthorized: 0, not_found: 0, too_large: 0, bad_request: 0, forbidden_origin: 0 });
    for (let i = 0; i < 3; i++) expect((await beat(agent, 'worker', { token: 'wrong-token' })).status).toBe(401);
    for (const name of ['nothing-1', 'nothing-2']) expect((await beat(agent, name, { token: 'right-token' })).status).toBe(404);
    expect((await beat(agent, 'worker', { token: 'right-token', body: 'x'.repeat(5000) })).status).toBe(413);
    expect((await beat(agent, 'worker', { token: 'right-token', body: 'not json' })).status).toBe(400);
    const foreign = await fetch(`${agent.url}/heartbeat/worker`, { method: 'POST', headers: { Origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(await rejected()).toEqual({ unauthorized: 3, not_found: 2, too_large: 1, bad_request: 1, forbidden_origin: 1 });
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).not.toContain('nothing-1');
    const lines = jsonLines(agent.output()).filter((line) => line.msg === 'heartbeat refused');
    expect(lines.map((line) => line.reason)).toEqual(['unauthorized', 'unauthorized', 'unauthorized', 'not_found', 'not_found', 'too_large', 'bad_request', 'forbidden_origin']);
    expect(lines[0]).toMatchObject({ level: 'debug', check: 'worker', status: 401 });
    expect(agent.output()).not.toContain('wrong-token');
  }, 20_000);

  it('1,000 beats alternating fail and pass write about one transition line a second, the later ones counting the changes they stand for', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 10s }\n');
    const started = Date.now();
    for (let i = 0; i < 1000; i++) {
      const res = await beat(agent, 'worker', { body: i % 2 === 0 ? '{"status":"fail","output":"flap"}' : '{"status":"pass"}' });
      expect(res.status).toBe(204);
    }
    const elapsedMs = Date.now() - started;
    await sleep(1500);
    const lines = transitions(agent, 'worker');
    // Before: one line per change, 1,000 lines.
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 1000) + 2);
    // Nothing is lost from the count: every change is a line or counted in one.
    expect(lines.reduce((sum, line) => sum + ((line.suppressed as number | undefined) ?? 1), 0)).toBe(1000);
    // The last line says how it ended.
    expect(lines.at(-1)).toMatchObject({ msg: 'check worker passes', to: 'pass' });
    console.log(`1000 alternating beats in ${elapsedMs} ms: ${lines.length} transition lines`);
  }, 60_000);

  it('a reported output is one bounded log line, with the token and configured secrets masked', async () => {
    const token = 'hb-token-3f9a';
    const agent = await agents.start(`checks:\n  worker: { type: heartbeat, ttl: 10s, tokenFile: ${tokenFile(token)} }\n  cache: { type: redis, url: "redis://:db-s3cret-pw@127.0.0.1:1/0", critical: false }\n`);
    const output = `lost ${token} and db-s3cret-pw\n{"level":"fatal","msg":"forged line"}\u001b[2J${'y'.repeat(3000)}`;
    expect((await beat(agent, 'worker', { token, body: JSON.stringify({ status: 'fail', output }) })).status).toBe(204);
    const shown = await entry(agent, 'worker');
    expect(shown.output).toMatch(/^reported failing: lost \*\*\* and \*\*\* \{"level":"fatal","msg":"forged line"\}\[2J/);
    expect(shown.output.length).toBeLessThanOrEqual(1024);
    await waitFor('the transition line', () => transitions(agent, 'worker').length === 1);
    const everything = agent.output() + JSON.stringify(await getJson(`${agent.url}/health`)) + (await (await fetch(`${agent.url}/metrics`)).text());
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('db-s3cret-pw');
    // The forged line stayed inside the one line that quotes it.
    expect(jsonLines(agent.output()).filter((line) => line.msg === 'forged line')).toEqual([]);
  }, 20_000);

  it('a grace after start keeps a heartbeat pending, then fails it with heartbeat_missed', async () => {
    const agent = await agents.start('checks:\n  worker: { type: heartbeat, ttl: 10s, grace: 1s }\n');
    expect(await entry(agent, 'worker')).toMatchObject({ reason: 'pending' });
    await waitFor('heartbeat_missed', async () => (await entry(agent, 'worker')).reason === 'heartbeat_missed', 5000, 50);
    expect((await entry(agent, 'worker')).output).toBe('no heartbeat within 1s of start (grace)');
    // Nothing is polled here, and that is no wedged scheduler: liveness stays 200 well past three ttls.
    await sleep(Math.max(0, agent.startedAt + 4000 - Date.now()));
    const live = await getJson(`${agent.url}/health/live`);
    expect(live.status).toBe(200);
    expect(Object.keys(live.body.checks)).not.toContain('vigil:scheduler');
  }, 20_000);

  it('survives a reload that changes other checks: the last beat and its ttl stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const path = join(dir, 'vigil.yaml');
    const config = (port: number) => `checks:\n  worker: { type: heartbeat, ttl: 3s }\n  db: { type: tcp, host: 127.0.0.1, port: ${port} }\n`;
    writeFileSync(path, config(5432));
    const { serve } = await import('../helpers/cli.js');
    const { freePort } = await import('../helpers/net.js');
    const agent = await serve(['--config', path], await freePort());
    try {
      const lastBeat = Date.now();
      expect((await beat(agent, 'worker')).status).toBe(204);
      writeFileSync(path, config(6379));
      agent.child.kill('SIGHUP');
      await waitFor('the reload', () => jsonLines(agent.output()).some((line) => line.msg === 'configuration reloaded'));
      expect(jsonLines(agent.output()).find((line) => line.msg === 'configuration reloaded')).toMatchObject({ changed: 1, unchanged: 1 });
      expect(await entry(agent, 'worker')).toMatchObject({ status: 'pass', consecutiveSuccesses: 1 });
      // The ttl still counts from the beat before the reload.
      const failed = await waitFor('heartbeat_missed', async () => ((await entry(agent, 'worker')).status === 'fail' ? Date.now() - lastBeat : undefined), 10_000, 25);
      expect(failed).toBeGreaterThanOrEqual(3000);
      expect(failed).toBeLessThan(4000);
    } finally {
      agent.kill();
    }
  }, 30_000);
});

describe('vigil check and heartbeats', () => {
  it('leaves heartbeat checks out, saying so, and judges the rest', async () => {
    const path = tempConfig('checks:\n  worker: { type: heartbeat, ttl: 3s }\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n');
    const { code, stdout, stderr } = await runCli(['check', '--config', path, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).checks.map((c: { name: string }) => c.name)).toEqual(['db']);
    expect(stderr).toContain('left out, fed by POST /heartbeat/<check> to a serving agent: worker');
  });
});
