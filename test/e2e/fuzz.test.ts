// Seeded, repeatable fuzzing: mutated configs through `vigil validate` (exit 0 or 2 with a message,
// never a stack trace or a hang), and malformed HTTP requests to a serving agent (it keeps serving).
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { getJson, runCli, serve, tempConfig, type Served } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { REDIS_URL } from '../helpers/services.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);

/** mulberry32: a small seeded PRNG, so every run tries the same cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const example = readFileSync('config.example.yaml', 'utf8');
const NASTY = ['', '~', 'null', '-1', '1e309', '0x1F', '"', "'", '{', '[', ']', ':', '- ', '&a', '*a', '!!binary', '${', '${X', '$${', '${HOME}', '\t', '\u0000', '\uFEFF', '💥', '\\', '%', '!', '#', '|', '>', '? ', '---', '...', 'true', '10ms', '70000', 'postgres://', 'redis://:x@', 'http://'];

function mutate(text: string, random: () => number): string {
  const lines = text.split('\n');
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const at = Math.floor(random() * lines.length);
  const steps = 1 + Math.floor(random() * 3);
  for (let s = 0; s < steps; s++) {
    const line = lines[at] ?? '';
    const pos = Math.floor(random() * (line.length + 1));
    switch (Math.floor(random() * 9)) {
      case 0: lines[at] = line.slice(0, pos) + line.slice(pos + 1 + Math.floor(random() * 5)); break; // delete
      case 1: lines[at] = line.slice(0, pos) + pick(NASTY) + line.slice(pos); break; // insert
      case 2: lines[at] = line.replace(/:\s*(\S+)/, `: ${pick(NASTY)}`); break; // replace a value
      case 3: lines.splice(at, 0, lines[Math.floor(random() * lines.length)]!); break; // duplicate a line
      case 4: lines.splice(at, 1); break; // drop a line
      case 5: lines[at] = ' '.repeat(Math.floor(random() * 6)) + line.trimStart(); break; // re-indent
      case 6: lines[at] = line + String.fromCharCode(Math.floor(random() * 0x2ff)); break; // odd character
      case 7: return lines.slice(0, at).join('\n'); // truncate
      default: lines[at] = `${pick(['checks', 'server', 'defaults', 'x'])}:${pick(NASTY)}`; break;
    }
  }
  return lines.join('\n');
}

describe('config fuzzing', () => {
  it('1000 mutated configs: validate exits 0 or 2 with a message, never a stack trace', async () => {
    const random = prng(SEED);
    const outcomes = { valid: 0, invalid: 0 };
    // The first run loads the commands, the check types and the config code: its time is module
    // loading on a busy machine, not the config's; the bound below is for each config's own work.
    await main({ argv: ['validate', '--config', tempConfig(example)], env: { HOME: '/root' }, stdout: () => undefined, stderr: () => undefined });
    for (let i = 0; i < 1000; i++) {
      const text = mutate(example, random);
      const path = tempConfig(text);
      let out = '';
      let err = '';
      const started = Date.now();
      const code = await main({ argv: ['validate', '--config', path], env: { HOME: '/root' }, stdout: (t) => (out += t), stderr: (t) => (err += t) });
      const context = `case ${i} (seed ${SEED}):\n${text}\n--- stderr:\n${err}`;
      expect([0, 2], context).toContain(code);
      expect(Date.now() - started, context).toBeLessThan(1000);
      if (code === 2) {
        expect(err, context).toMatch(/^vigil: /);
        expect(err, context).not.toMatch(/\n\s+at .+:\d+:\d+/);
        outcomes.invalid++;
      } else {
        expect(out, context).toContain('valid');
        outcomes.valid++;
      }
    }
    // The mutations must exercise both paths.
    expect(outcomes.invalid).toBeGreaterThan(300);
    expect(outcomes.valid).toBeGreaterThan(10);
    console.log(`config fuzzing (seed ${SEED}): ${outcomes.valid} valid, ${outcomes.invalid} invalid`);
  }, 120_000);

  it('the built CLI behaves the same on a sample of them', async () => {
    const random = prng(SEED + 1);
    for (let i = 0; i < 15; i++) {
      const run = await runCli(['validate', '--config', tempConfig(mutate(example, random))]);
      expect([0, 2]).toContain(run.code);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
  });
});

describe('HTTP fuzzing', () => {
  let agent: Served;
  beforeAll(async () => {
    agent = await serve(['--config', tempConfig(`checks:\n  cache: { type: redis, url: "${REDIS_URL}" }\n`)], await freePort());
  });
  afterAll(() => agent?.kill());

  /** Sends raw bytes, reads whatever comes back until close or `waitMs`. */
  function raw(bytes: string | Buffer, waitMs = 300): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: agent.port });
      let answer = '';
      socket.on('data', (d) => (answer += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(answer));
      socket.write(bytes);
      setTimeout(() => {
        socket.destroy();
        resolve(answer);
      }, waitMs);
    });
  }

  it('answers odd methods, paths and versions without failing, and keeps serving', async () => {
    const cases = [
      'BREW /health/ready HTTP/1.1\r\nHost: x\r\n\r\n',
      'get /health/ready HTTP/1.1\r\nHost: x\r\n\r\n',
      `${'A'.repeat(5000)} / HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /health/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /health/%2e%2e/%00 HTTP/1.1\r\nHost: x\r\n\r\n',
      `GET /health/${'x'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /health/ready HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /health/ready\r\n\r\n',
      'GET /health/ready HTTP/1.0\r\n\r\n',
      `GET /health/ready HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(200_000)}\r\n\r\n`,
      'GET /health/ready HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'GET /health/ready HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
      '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003', // a TLS ClientHello
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ];
    for (const request of cases) {
      const answer = await raw(request);
      expect(answer === '' || /^HTTP\/1\.[01] \d{3}/.test(answer), request.slice(0, 60)).toBe(true);
      expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    }
  });

  it('survives seeded random bytes and slow clients', async () => {
    const random = prng(SEED);
    for (let i = 0; i < 150; i++) {
      const length = Math.floor(random() * 2000);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      // Half of them start like a request, so the parser goes further in.
      const prefix = random() < 0.5 ? 'GET /health/ready HTTP/1.1\r\n' : '';
      await raw(Buffer.concat([Buffer.from(prefix), bytes]), 50);
    }
    // Slow clients: headers a byte at a time, never finished.
    const slow = Array.from({ length: 20 }, () => {
      const socket = connect({ host: '127.0.0.1', port: agent.port });
      socket.on('error', () => undefined);
      let n = 0;
      const timer = setInterval(() => socket.write('GET /health/ready HTTP/1.1\r\nX: '[n++ % 30] ?? 'a'), 100);
      return { socket, timer };
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const res = await getJson(`${agent.url}/health/ready`);
    expect(res.status).toBe(200);
    for (const { socket, timer } of slow) {
      clearInterval(timer);
      socket.destroy();
    }
    expect((await getJson(`${agent.url}/health/live`)).status).toBe(200);
    expect(agent.child.exitCode).toBeNull();
  });
});
