// Runs one attempt of a real check kind through the core's deadline, as the agent would.
import { expect } from 'vitest';
import type { CheckKind, CheckResult } from '../../src/check.js';
import { attempt } from '../../src/scheduler.js';
import { checkConfig } from './fixtures.js';
import { openSocketCount, startBlackhole, waitFor } from './net.js';

export async function runOnce(kind: CheckKind, options: Record<string, unknown>, timeoutMs = 1000): Promise<CheckResult> {
  const parsed = kind.options.parse(options) as Record<string, unknown>;
  const check = checkConfig(`test-${kind.type}`, { type: kind.type, timeoutMs, intervalMs: timeoutMs * 2, options: parsed });
  await kind.prepare?.();
  const result = await attempt(check, (c, ctx) => kind.run(c.options, ctx));
  if (!result) throw new Error('attempt was stopped');
  return result;
}

/**
 * Points a kind at a server that accepts and never answers (its options from the blackhole's
 * port): the attempt must fail with timeout at its 500 ms deadline and leave no socket open.
 */
export async function expectTimeoutWithoutLeak(kind: CheckKind, optionsFor: (port: number) => Record<string, unknown>): Promise<void> {
  const blackhole = await startBlackhole();
  const before = await openSocketCount();
  const started = Date.now();
  const result = await runOnce(kind, optionsFor(blackhole.port), 500);
  const elapsed = Date.now() - started;
  expect(result).toMatchObject({ ok: false, reason: 'timeout' });
  expect(elapsed).toBeGreaterThanOrEqual(450);
  expect(elapsed).toBeLessThan(2000);
  await waitFor('the blackhole connection to close', () => blackhole.openSockets() === 0);
  expect(await openSocketCount()).toBeLessThanOrEqual(before);
  await blackhole.close();
}
