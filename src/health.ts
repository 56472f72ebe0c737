// Health bodies in the shape of draft-inadarei-api-health-check-06 (application/health+json).
import type { SelfEntry } from './self-health.js';
import type { Entry, Verdict } from './state.js';

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

export type RenderHealth = (verdict: Verdict, meta: BodyMeta, withDetails: boolean, self?: readonly SelfEntry[]) => RenderedHealth;

/**
 * Makes a renderer of group verdicts; `self` adds the agent's own entries (liveness), which can
 * fail it. Each check's entry is serialized once per result and reused: with a thousand checks,
 * serializing every entry on every change was the largest cost of a health answer.
 */
export function createHealthRenderer(): RenderHealth {
  const entryJson = new WeakMap<object, { key: string; json: string }>();

  const renderEntry = (entry: Entry): string => {
    const { state } = entry;
    const last = state.last;
    const key = `${entry.status}\n${entry.reason}\n${entry.message}`;
    const cached = last && entryJson.get(last);
    if (cached && cached.key === key) return cached.json;
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
    const json = `${JSON.stringify(`${state.config.name}:responseTime`)}:[${JSON.stringify(item)}]`;
    if (last) entryJson.set(last, { key, json });
    return json;
  };

  return (verdict, meta, withDetails, self = []) => {
    const status = self.some((e) => e.status === 'fail') ? 'fail' : verdict.status;
    const head: Record<string, unknown> = {
      status,
      version: meta.version,
      serviceId: meta.serviceId,
      description: meta.description,
    };
    if (verdict.reason) {
      head.reason = verdict.reason;
      head.output = verdict.reason === 'draining' ? 'the agent is shutting down' : verdict.reason;
    }
    let text = JSON.stringify(head);
    if (withDetails) {
      const time = new Date().toISOString();
      const parts = self.map(({ key, ...entry }) => `${JSON.stringify(key)}:[${JSON.stringify({ componentId: 'vigil', componentType: 'system', ...entry, time })}]`);
      for (const entry of verdict.entries) parts.push(renderEntry(entry));
      text = `${text.slice(0, -1)},"checks":{${parts.join(',')}}}`;
    }
    return { statusCode: status === 'fail' ? 503 : 200, text };
  };
}
