// The heartbeat endpoint against callers that take their time and reloads that happen meanwhile,
// with the built CLI and raw sockets.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serve } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { jsonLines } from '../helpers/process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('heartbeat endpoint and reloads (built CLI)', () => {
  for (const [what, after] of [
    ['removed', 'checks:\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n'],
    ['turned into a tcp check', 'checks:\n  worker: { type: tcp, host: 127.0.0.1, port: 5432 }\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n'],
  ] as const) {
    it(`a beat whose body is still arriving when its check is ${what} by a reload is answered 404, not a 500 and an error line`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
      const path = join(dir, 'vigil.yaml');
      writeFileSync(path, 'checks:\n  worker: { type: heartbeat, ttl: 30s }\n  db: { type: tcp, host: 127.0.0.1, port: 5432 }\n');
      const agent = await serve(['--config', path], await freePort());
      const socket = connect(agent.port, '127.0.0.1');
      try {
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk));
        const body = '{"status":"pass"}';
        // Headers and the first bytes of the body: the caller is let in, its body is being read.
        socket.write(`POST /heartbeat/worker HTTP/1.1\r\nHost: vigil\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
        await sleep(300);
        writeFileSync(path, after);
        agent.child.kill('SIGHUP');
        await waitFor('the reload', () => jsonLines(agent.output()).some((line) => line.msg === 'configuration reloaded'));
        socket.write(body.slice(5));
        const status = await waitFor('the answer', () => /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
        expect(jsonLines(agent.output()).filter((line) => line.level === 'error')).toEqual([]);
        expect(status).toBe('404');
      } finally {
        socket.destroy();
        agent.kill();
      }
    }, 30_000);
  }

  it('a reported output holding a configured secret across its 1024-character cut shows no part of the secret', async () => {
    const password = 'db-straddle-pw-0123456789';
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, 'checks:\n  worker: { type: heartbeat, ttl: 30s }\n  db: { type: postgres, url: "postgres://postgres:${DB_PASSWORD}@127.0.0.1:5432/test" }\n');
    const agent = await serve(['--config', path], await freePort(), { DB_PASSWORD: password });
    try {
      // An application quoting its connection error: the password starts before the cut and ends after it.
      const output = `${'x'.repeat(977)}${password}${'y'.repeat(100)}`;
      const res = await fetch(`${agent.url}/heartbeat/worker`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'fail', output }) });
      expect(res.status).toBe(204);
      const health = await (await fetch(`${agent.url}/health`)).text();
      expect(health).toContain('"reason":"reported"');
      await sleep(200);
      // Today: "db-str…" shows in /health and in the transition line: cut first, masked after.
      expect(health + agent.output()).not.toContain(password.slice(0, 5));
    } finally {
      agent.kill();
    }
  }, 30_000);

  it('a tcp check turned into a heartbeat by a reload waits for its first beat (pending), not passing on the tcp result for its grace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, 'checks:\n  worker: { type: tcp, host: 127.0.0.1, port: 5432 }\n');
    const agent = await serve(['--config', path], await freePort());
    const entry = async () => ((await (await fetch(`${agent.url}/health`)).json()) as { checks: Record<string, Record<string, unknown>[]> }).checks['worker:responseTime']![0]!;
    try {
      await waitFor('the tcp check to pass', async () => (await entry()).status === 'pass');
      writeFileSync(path, 'checks:\n  worker: { type: heartbeat, ttl: 10s }\n');
      agent.child.kill('SIGHUP');
      await waitFor('the reload', () => jsonLines(agent.output()).some((line) => line.msg === 'configuration reloaded'));
      // No beat has come: today the tcp result stays ("type":"tcp", pass) for the whole 10 s grace.
      expect(await entry()).toMatchObject({ type: 'heartbeat', status: 'fail', reason: 'pending' });
    } finally {
      agent.kill();
    }
  }, 30_000);

  it('a caller that goes away halfway through its body changes nothing, logs no error, and the next beat is taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const path = join(dir, 'vigil.yaml');
    writeFileSync(path, 'checks:\n  worker: { type: heartbeat, ttl: 30s }\n');
    const agent = await serve(['--config', path], await freePort());
    try {
      for (let i = 0; i < 20; i++) {
        const socket = connect(agent.port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        const body = '{"status":"fail","output":"half"}';
        socket.write(`POST /heartbeat/worker HTTP/1.1\r\nHost: vigil\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
        await sleep(20);
        socket.destroy();
      }
      await sleep(200);
      const entry = async () => ((await (await fetch(`${agent.url}/health`)).json()) as { checks: Record<string, Record<string, unknown>[]> }).checks['worker:responseTime']![0]!;
      expect(await entry()).toMatchObject({ status: 'fail', reason: 'pending' });
      expect((await fetch(`${agent.url}/heartbeat/worker`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"status":"pass"}' })).status).toBe(204);
      expect(await entry()).toMatchObject({ status: 'pass' });
      expect(jsonLines(agent.output()).filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual([]);
    } finally {
      agent.kill();
    }
  }, 30_000);
});
