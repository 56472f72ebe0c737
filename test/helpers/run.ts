// Runs one attempt of a real check kind through the core's deadline, as the agent would.
import type { CheckKind, CheckResult } from '../../src/check.js';
import { attempt } from '../../src/scheduler.js';
import { checkConfig } from './fixtures.js';

export async function runOnce(kind: CheckKind, options: Record<string, unknown>, timeoutMs = 1000): Promise<CheckResult> {
  const parsed = kind.options.parse(options) as Record<string, unknown>;
  const check = checkConfig(`test-${kind.type}`, { type: kind.type, timeoutMs, intervalMs: timeoutMs * 2, options: parsed });
  await kind.prepare?.();
  const result = await attempt(check, (c, ctx) => kind.run(c.options, ctx));
  if (!result) throw new Error('attempt was stopped');
  return result;
}
