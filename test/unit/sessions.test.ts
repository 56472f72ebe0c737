import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CheckKind, KeptConnection } from '../../src/check.js';
import { CheckError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createRunner } from '../../src/runner.js';
import { attempt } from '../../src/scheduler.js';
import { BACKOFF_BASE_MS } from '../../src/sessions.js';
import { checkConfig } from '../helpers/fixtures.js';

/** A kind keeping fake connections, with knobs: refuse opens, hang probes, close connections as a server would. */
function keepingKind() {
  const opened: FakeConnection[] = [];
  const knobs = { refuse: false, hang: false, failProbe: false, closing: undefined as Promise<void> | undefined };
  class FakeConnection implements KeptConnection {
    isClosed = false;
    probes = 0;
    isOpen = () => !this.isClosed;
    close = () => {
      this.isClosed = true;
      return knobs.closing;
    };
    async probe({ signal }: { signal: AbortSignal }) {
      this.probes++;
      if (this.isClosed) throw new CheckError('protocol', 'closed the connection during the query');
      if (knobs.failProbe) throw new CheckError('body', 'the query failed');
      if (knobs.hang) await new Promise(() => undefined);
      void signal;
    }
  }
  const kind: CheckKind = {
    type: 'fake',
    componentType: 'datastore',
    schemes: [],
    options: z.strictObject({}),
    run: async () => undefined,
    session: {
      async open() {
        if (knobs.refuse) throw new CheckError('connect_refused', 'refused');
        const connection = new FakeConnection();
        opened.push(connection);
        return connection;
      },
    },
  };
  return { kind, opened, knobs };
}

describe('persistent connections (sessions)', () => {
  it('keeps one connection across attempts and probes it on each', async () => {
    const { kind, opened } = keepingKind();
    const runner = createRunner([kind]);
    const check = checkConfig('db', { connection: 'persistent' });
    for (let i = 0; i < 5; i++) expect(await attempt(check, runner.run)).toMatchObject({ ok: true });
    expect(opened).toHaveLength(1);
    expect(opened[0]!.probes).toBe(5);
    expect(runner.connections(check)).toBe(1);
  });

  it('destroys a connection whose attempt timed out, and opens its replacement at the next attempt; no listener is left on the signal', async () => {
    const { kind, opened, knobs } = keepingKind();
    const runner = createRunner([kind]);
    const check = checkConfig('db', { connection: 'persistent', timeoutMs: 20 });
    knobs.hang = true;
    const controller = new AbortController();
    expect(await attempt(check, runner.run, { controller })).toMatchObject({ ok: false, reason: 'timeout' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(opened[0]!.isClosed).toBe(true);
    expect(runner.connections(check)).toBe(0);
    knobs.hang = false;
    expect(await attempt(check, runner.run)).toMatchObject({ ok: true });
    expect(opened).toHaveLength(2);
  });

  it('replaces a connection the server closed between attempts without a failure', async () => {
    const { kind, opened } = keepingKind();
    const runner = createRunner([kind]);
    const check = checkConfig('db', { connection: 'persistent' });
    await attempt(check, runner.run);
    opened[0]!.isClosed = true;
    expect(await attempt(check, runner.run)).toMatchObject({ ok: true });
    expect(opened).toHaveLength(2);
  });

  it('opens a new connection every reconnectEvery attempts', async () => {
    const { kind, opened } = keepingKind();
    const runner = createRunner([kind]);
    const check = checkConfig('db', { connection: 'persistent', reconnectEvery: 3 });
    for (let i = 0; i < 7; i++) await attempt(check, runner.run);
    expect(opened.map((c) => c.probes)).toEqual([3, 3, 1]);
    expect(opened.slice(0, 2).every((c) => c.isClosed)).toBe(true);
  });

  it('backs off between failing opens: the attempt fails fast with the last reason and says so; the first replacement is immediate', async () => {
    const { kind, opened, knobs } = keepingKind();
    let clock = 0;
    const runner = createRunner([kind], { monotonic: () => clock, random: () => 0.5 });
    const check = checkConfig('db', { connection: 'persistent' });
    await attempt(check, runner.run);
    knobs.failProbe = true;
    expect(await attempt(check, runner.run)).toMatchObject({ ok: false, reason: 'body' });
    knobs.refuse = true;
    // First replacement: at once (refused), then 1 s, 2 s, 4 s … between opens.
    expect(await attempt(check, runner.run)).toMatchObject({ ok: false, reason: 'connect_refused', message: 'refused' });
    const backingOff = await attempt(check, runner.run);
    expect(backingOff).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(backingOff!.message).toMatch(/^refused \(persistent connection: not reopened for another 1\.0 s, backing off after 2 consecutive failures\)$/);
    clock += BACKOFF_BASE_MS;
    expect((await attempt(check, runner.run))!.message).toBe('refused');
    expect((await attempt(check, runner.run))!.message).toMatch(/another 2\.0 s, backing off after 3/);
    clock += 2 * BACKOFF_BASE_MS;
    knobs.refuse = false;
    knobs.failProbe = false;
    expect(await attempt(check, runner.run)).toMatchObject({ ok: true });
    expect(opened).toHaveLength(2);
  });

  it('release closes the kept connection; a fresh check holds a connection only while its attempt runs', async () => {
    const { kind, opened } = keepingKind();
    const runner = createRunner([kind]);
    const check = checkConfig('db', { connection: 'persistent' });
    await attempt(check, runner.run);
    runner.release('db');
    expect(opened[0]!.isClosed).toBe(true);
    expect(runner.connections(check)).toBe(0);
    const fresh = checkConfig('f');
    let release!: () => void;
    const hanging: CheckKind = { ...kind, run: () => new Promise<void>((resolve) => (release = resolve)) };
    const freshRunner = createRunner([hanging]);
    const running = attempt(fresh, freshRunner.run);
    expect(freshRunner.connections(fresh)).toBe(1);
    release();
    await running;
    expect(freshRunner.connections(fresh)).toBe(0);
  });

  it('opens no replacement until the previous connection has let go of its server session (counted as held meanwhile)', async () => {
    const { kind, opened, knobs } = keepingKind();
    let clock = 0;
    const runner = createRunner([kind], { monotonic: () => clock });
    const check = checkConfig('db', { connection: 'persistent', timeoutMs: 30 });
    let letGo!: () => void;
    knobs.closing = new Promise<void>((resolve) => (letGo = resolve));
    knobs.failProbe = true;
    await attempt(check, runner.run);
    knobs.failProbe = false;
    expect(runner.connections(check)).toBe(1);
    // Still closing at the next attempt's deadline: that attempt times out, having opened nothing.
    expect(await attempt(check, runner.run)).toMatchObject({ ok: false, reason: 'timeout' });
    expect(opened).toHaveLength(1);
    letGo();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runner.connections(check)).toBe(0);
    // Two failures in a row: the next open waits for the backoff.
    clock += 2 * BACKOFF_BASE_MS;
    expect(await attempt(check, runner.run)).toMatchObject({ ok: true });
    expect(opened).toHaveLength(2);
    await runner.closeAll();
  });
  it('tells, at debug, each kept connection opened, renewed, replaced after a failure (with the backoff) and closed', async () => {
    const { kind, opened, knobs } = keepingKind();
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'debug', write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const runner = createRunner([kind], { log });
    const check = checkConfig('db', { connection: 'persistent', reconnectEvery: 2 });
    for (let i = 0; i < 3; i++) await attempt(check, runner.run);
    opened.at(-1)!.isClosed = true;
    await attempt(check, runner.run);
    knobs.failProbe = true;
    await attempt(check, runner.run);
    knobs.failProbe = false;
    await attempt(check, runner.run);
    runner.release('db');
    expect(lines.map((line) => line.msg)).toEqual([
      'check db: kept connection opened',
      'check db: kept connection renewed after 2 attempts (reconnectEvery)',
      'check db: kept connection opened',
      'check db: kept connection closed by the server or the network between attempts; opening another',
      'check db: kept connection opened',
      'check db: no kept connection after a failure (body); the next is opened at the next attempt',
      'check db: kept connection opened',
      'check db: kept connection closed: the check was changed or removed, or the agent stops',
    ]);
    expect(lines.every((line) => line.level === 'debug' && line.check === 'db' && line.type === 'fake')).toBe(true);
  });
});
