// Health bodies in the shape of draft-inadarei-api-health-check-06 (application/health+json).
import type { SelfEntry } from './self-health.js';
import type { Verdict } from './state.js';

export const HEALTH_CONTENT_TYPE = 'application/health+json';

export interface BodyMeta {
  readonly version: string;
  readonly serviceId: string;
  readonly description: string;
}

export interface RenderedHealth {
  readonly statusCode: 200 | 503;
  readonly text: string;
}

/** Renders a group's verdict; `self` adds the agent's own entries (liveness), which can fail it. */
export function renderHealth(verdict: Verdict, meta: BodyMeta, withDetails: boolean, self: readonly SelfEntry[] = []): RenderedHealth {
  const status = self.some((e) => e.status === 'fail') ? 'fail' : verdict.status;
  const body: Record<string, unknown> = {
    status,
    version: meta.version,
    serviceId: meta.serviceId,
    description: meta.description,
  };
  if (verdict.reason) {
    body.reason = verdict.reason;
    body.output = verdict.reason === 'draining' ? 'the agent is shutting down' : verdict.reason;
  }
  if (withDetails) {
    const checks: Record<string, unknown[]> = {};
    const time = new Date().toISOString();
    for (const { key, ...entry } of self) checks[key] = [{ componentId: 'vigil', componentType: 'system', ...entry, time }];
    for (const entry of verdict.entries) {
      const { state } = entry;
      const last = state.last;
      const item: Record<string, unknown> = {
        componentId: state.config.name,
        componentType: state.componentType,
      };
      if (last) {
        item.observedValue = Math.round(last.durationMs * 100) / 100;
        item.observedUnit = 'ms';
      }
      item.status = entry.status;
      item.time = new Date(last ? last.startedAt : Date.now()).toISOString();
      if (entry.status === 'fail') {
        item.reason = entry.reason;
        if (entry.message) item.output = entry.message;
      }
      item.type = state.config.type;
      item.critical = state.config.critical;
      item.consecutiveSuccesses = state.consecutiveSuccesses;
      item.consecutiveFailures = state.consecutiveFailures;
      if (entry.observation) item.observation = entry.observation;
      checks[`${state.config.name}:responseTime`] = [item];
    }
    body.checks = checks;
  }
  return { statusCode: status === 'fail' ? 503 : 200, text: JSON.stringify(body) };
}
