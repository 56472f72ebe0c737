// Small builders for unit tests.
import { z } from 'zod';
import type { CheckKind, CheckResult } from '../../src/check.js';
import type { AgentConfig, CheckConfig } from '../../src/config/types.js';
import { CheckError } from '../../src/errors.js';

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
    warnIf: [],
    failIf: [],
    connection: 'fresh',
    reconnectEvery: 0,
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

/** A kind of type `fake` whose check named `down` is refused; every other check passes. */
export const downIsRefused: CheckKind = {
  type: 'fake',
  componentType: 'component',
  schemes: [],
  options: z.strictObject({}),
  run: async (_options, ctx) => {
    if (ctx.name === 'down') throw new CheckError('connect_refused', 'refused');
  },
};

/** An agent's config for in-process tests: port 0, details exposed, errors only in the log. */
export function agentConfig(checks: CheckConfig[]): AgentConfig {
  return {
    server: { host: '127.0.0.1', port: 0, maxConnections: 256, drainDelayMs: 0, drainMode: 'delay', exposeDetails: true, trustLoopback: true, serviceId: 'x', description: '', logLevel: 'error' },
    defaults: { intervalMs: 60_000, timeoutMs: 1000, failureThreshold: 1, successThreshold: 1, connection: 'fresh', reconnectEvery: 0 },
    checks,
    secrets: [],
    warnings: [],
  };
}
