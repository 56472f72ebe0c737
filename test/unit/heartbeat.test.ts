// The heartbeat check type: its timers on a fake clock, what a beat's body may say, and its config.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { kinds as registry } from '../../checks/index.js';
import type { CheckResult } from '../../src/check.js';
import { parseConfig } from '../../src/config/parse.js';
import { readSecretFile } from '../../src/config/read-file.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { createHeartbeats, UNREADABLE_TOKEN } from '../../src/heartbeat.js';
import { parseBeat } from '../../src/heartbeat-route.js';
import { withBuiltins } from '../../src/kinds.js';

const kinds = withBuiltins(registry);

function heartbeatCheck(ttl = '3s', more: Record<string, unknown> = {}) {
  return parseConfig(`checks:\n  beat: ${JSON.stringify({ type: 'heartbeat', ttl, ...more })}\n`, { kinds, readFile: readSecretFile }).checks[0]!;
}

describe('heartbeats on a fake clock', () => {
  let T0 = 0;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    T0 = Date.now();
  });
  afterEach(() => vi.useRealTimers());

  const harness = () => {
    const results: { at: number; result: CheckResult }[] = [];
    const heartbeats = createHeartbeats({ publish: (_check, result) => results.push({ at: Date.now() - T0, result }) });
    return { heartbeats, results };
  };

  it('passes on each beat and fails with heartbeat_missed exactly ttl after the last one, once', async () => {
    const { heartbeats, results } = harness();
    heartbeats.add(heartbeatCheck('3s'));
    for (const at of [500, 1500, 2500]) {
      await vi.advanceTimersByTimeAsync(at - (Date.now() - T0));
      heartbeats.beat('beat', { ok: true });
    }
    await vi.advanceTimersByTimeAsync(2999);
    expect(results.map((r) => [r.at, r.result.ok, r.result.startedAt - T0, r.result.durationMs, r.result.observation])).toEqual([
      [500, true, 500, 0, { gapMs: 500 }],
      [1500, true, 1500, 0, { gapMs: 1000 }],
      [2500, true, 2500, 0, { gapMs: 1000 }],
    ]);
    await vi.advanceTimersByTimeAsync(1);
    expect(results.at(-1)).toMatchObject({ at: 5500, result: { ok: false, reason: 'heartbeat_missed', durationMs: 3000 } });
    expect(results.at(-1)!.result.message).toMatch(/^no heartbeat for 3s \(ttl\); the last came at /);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(results).toHaveLength(4);
    heartbeats.stop();
  });

  it('a beat for a check removed (or after stop) records nothing and throws nothing', async () => {
    const { heartbeats, results } = harness();
    heartbeats.add(heartbeatCheck('3s'));
    heartbeats.remove('beat');
    expect(() => heartbeats.beat('beat', { ok: true })).not.toThrow();
    expect(() => heartbeats.beat('never-declared', { ok: false, output: 'x' })).not.toThrow();
    heartbeats.add(heartbeatCheck('3s'));
    heartbeats.stop();
    expect(() => heartbeats.beat('beat', { ok: true })).not.toThrow();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(results).toEqual([]);
  });

  it('stays pending (no result) for its grace after start, then fails with heartbeat_missed', async () => {
    const { heartbeats, results } = harness();
    heartbeats.add(heartbeatCheck('3s', { grace: '10s' }));
    await vi.advanceTimersByTimeAsync(9999);
    expect(results).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(results).toEqual([{ at: 10_000, result: expect.objectContaining({ ok: false, reason: 'heartbeat_missed', message: 'no heartbeat within 10s of start (grace)' }) }]);
    heartbeats.stop();
  });

  it('an explicit failure fails at once and no heartbeat_missed follows; the next passing beat re-arms', async () => {
    const { heartbeats, results } = harness();
    heartbeats.add(heartbeatCheck('1s'));
    heartbeats.beat('beat', { ok: true });
    await vi.advanceTimersByTimeAsync(200);
    heartbeats.beat('beat', { ok: false, output: 'queue stuck' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(results.map((r) => [r.at, r.result.reason, r.result.message])).toEqual([
      [0, undefined, undefined],
      [200, 'reported', 'reported failing: queue stuck'],
    ]);
    heartbeats.beat('beat', { ok: true });
    await vi.advanceTimersByTimeAsync(1000);
    expect(results.map((r) => r.result.reason)).toEqual([undefined, 'reported', undefined, 'heartbeat_missed']);
    heartbeats.stop();
  });

  it('a changed definition keeps the last beat and counts the new ttl from it; stop and remove leave no timer', async () => {
    const { heartbeats, results } = harness();
    heartbeats.add(heartbeatCheck('10s'));
    heartbeats.beat('beat', { ok: true });
    await vi.advanceTimersByTimeAsync(1000);
    heartbeats.add(heartbeatCheck('3s'));
    await vi.advanceTimersByTimeAsync(1999);
    expect(results).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(results.at(-1)).toMatchObject({ at: 3000, result: { reason: 'heartbeat_missed' } });
    heartbeats.remove('beat');
    expect(heartbeats.has('beat')).toBe(false);
    heartbeats.add(heartbeatCheck('1s'));
    heartbeats.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('heartbeat tokens', () => {
  it('the check\'s own token outranks the server-wide one; an unreadable file lets no one in', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const own = join(dir, 'own');
    const server = join(dir, 'server');
    writeFileSync(own, 'own-token\n');
    writeFileSync(server, 'server-token');
    const heartbeats = createHeartbeats({ publish: () => undefined });
    heartbeats.add(heartbeatCheck('3s', { tokenFile: own }));
    heartbeats.add({ ...heartbeatCheck('3s'), name: 'other' });
    expect(heartbeats.readTokens(server)).toEqual([]);
    expect([heartbeats.tokenOf('beat'), heartbeats.tokenOf('other'), heartbeats.tokenOf('unknown')]).toEqual(['own-token', 'server-token', 'server-token']);
    expect([...heartbeats.tokens()].sort()).toEqual(['own-token', 'server-token']);
    writeFileSync(own, '');
    expect(heartbeats.readTokens(join(dir, 'missing'))).toEqual([
      { file: join(dir, 'missing'), error: 'no such file' },
      { file: own, error: 'the file is empty' },
    ]);
    expect([heartbeats.tokenOf('beat'), heartbeats.tokenOf('other')]).toEqual([UNREADABLE_TOKEN, UNREADABLE_TOKEN]);
    heartbeats.stop();
  });
});

describe('a beat\'s body', () => {
  it('empty or status pass is a passing beat; status fail carries the bounded output', () => {
    expect(parseBeat('', [])).toEqual({ ok: true });
    expect(parseBeat('{}', [])).toEqual({ ok: true });
    expect(parseBeat('{"status":"pass","output":"ignored"}', [])).toEqual({ ok: true });
    expect(parseBeat('{"status":"fail"}', [])).toEqual({ ok: false });
    expect(parseBeat('{"status":"fail","output":"line one\\nline two\\u001b[31m"}', [])).toEqual({ ok: false, output: 'line one line two[31m' });
    // Not cut here: the agent bounds a result's output after masking its secrets (a cut first could split one).
    expect((parseBeat(JSON.stringify({ status: 'fail', output: 'x'.repeat(3000) }), []) as { output: string }).output).toHaveLength(3000);
  });

  it('masks every heartbeat token in the output', () => {
    expect(parseBeat('{"status":"fail","output":"token s3cr3t-token leaked"}', ['s3cr3t-token'])).toEqual({ ok: false, output: 'token *** leaked' });
  });

  it('says what is wrong with anything else', () => {
    expect(parseBeat('not json', [])).toMatch(/must be empty or a JSON object/);
    expect(parseBeat('[1]', [])).toBe('the body must be a JSON object');
    expect(parseBeat('{"status":"down"}', [])).toBe('status must be "pass" or "fail"');
    expect(parseBeat('{"status":"fail","output":3}', [])).toBe('output must be a string');
    expect(parseBeat('{"state":"fail"}', [])).toBe('unknown key "state" (known: status, output)');
  });
});

describe('heartbeat config', () => {
  const issuesOf = (text: string, readFile: (path: string) => string = readSecretFile): string[] => {
    try {
      parseConfig(text, { kinds, readFile });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues.map((i: ConfigIssue) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
    }
    throw new Error('expected the config to be rejected');
  };

  it('resolves: polled every ttl for self-health purposes, never stale, thresholds of 1 whatever defaults say', () => {
    const config = parseConfig('defaults: { failureThreshold: 3, intervalWhenFailing: 5s }\nchecks:\n  beat: { type: heartbeat, ttl: 30s, critical: false, groups: [batch] }\n', { kinds });
    expect(config.checks[0]).toEqual({
      name: 'beat',
      type: 'heartbeat',
      intervalMs: 30_000,
      timeoutMs: 30_000,
      staleAfterMs: Infinity,
      critical: false,
      groups: ['batch'],
      failureThreshold: 1,
      successThreshold: 1,
      warnIf: [],
      failIf: [],
      connection: 'fresh',
      reconnectEvery: 0,
      options: { ttl: '30s' },
    });
  });

  it('requires ttl, refuses polling keys and unknown ones, each with its place', () => {
    expect(issuesOf('checks:\n  beat: { type: heartbeat }\n')).toEqual(['2:9 checks.beat.ttl: is required (string)']);
    expect(issuesOf('checks:\n  beat:\n    type: heartbeat\n    ttl: 3s\n    interval: 1s\n    dependsOn: [beat]\n    timeout: 1s\n')).toEqual([
      '5:5 checks.beat.interval: does not apply to a heartbeat check: it is not polled, its results are pushed to the agent',
      '6:5 checks.beat.dependsOn: does not apply to a heartbeat check: it is not polled, its results are pushed to the agent',
      '7:5 checks.beat.timeout: does not apply to a heartbeat check: it is not polled, its results are pushed to the agent',
    ]);
    expect(issuesOf('checks:\n  beat: { type: heartbeat, ttl: 3s, url: "http://x/" }\n')).toEqual(['2:37 checks.beat.url: unknown key']);
    expect(issuesOf('checks:\n  beat: { type: heartbeat, ttl: soon, grace: 0s }\n')).toEqual([
      '2:33 checks.beat.ttl: "soon" must be a duration such as 250ms, 2s, 1m or 1m30s',
      '2:46 checks.beat.grace: "0s" must be at least 1ms',
    ]);
  });

  it('a token file that cannot be read, or is empty, is a config error, per check and server-wide', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-hb-'));
    const empty = join(dir, 'empty');
    writeFileSync(empty, '  \n');
    expect(issuesOf(`checks:\n  beat: { type: heartbeat, ttl: 3s, tokenFile: ${join(dir, 'nope')} }\n`)).toEqual([`2:48 checks.beat.tokenFile: cannot read "${join(dir, 'nope')}": no such file`]);
    expect(issuesOf(`checks:\n  beat: { type: heartbeat, ttl: 3s, tokenFile: ${empty} }\n`)).toEqual([`2:48 checks.beat.tokenFile: "${empty}" is empty: it must hold the bearer token`]);
    expect(issuesOf(`server:\n  heartbeatTokenFile: ${empty}\n`)).toEqual([`2:23 server.heartbeatTokenFile: "${empty}" is empty: it must hold the bearer token`]);
  });

  it('a heartbeat may be a dependency', () => {
    const config = parseConfig('checks:\n  beat: { type: heartbeat, ttl: 3s }\n  api: { type: tcp, host: h, port: 1, dependsOn: [beat] }\n', { kinds });
    expect(config.checks[1]!.dependsOn).toEqual(['beat']);
  });
});
