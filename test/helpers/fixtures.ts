// Small builders for unit tests.
import type { CheckResult } from '../../src/check.js';
import type { CheckConfig } from '../../src/config/types.js';

export function checkConfig(name: string, overrides: Partial<CheckConfig> = {}): CheckConfig {
  return {
    name,
    type: 'fake',
    intervalMs: 1000,
    timeoutMs: 500,
    staleAfterMs: 3000,
    critical: true,
    groups: ['ready'],
    failureThreshold: 1,
    successThreshold: 1,
    options: {},
    ...overrides,
  };
}

export const pass = (startedAt: number, durationMs = 3): CheckResult => ({ ok: true, startedAt, durationMs });
export const fail = (startedAt: number, reason: CheckResult['reason'] = 'connect_refused', message = 'refused'): CheckResult => ({
  ok: false,
  startedAt,
  durationMs: 2,
  reason,
  message,
});
