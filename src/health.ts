// Health bodies in the shape of draft-inadarei-api-health-check-06 (application/health+json).
import { LATENCY } from './check.js';
import { withSelf, type SelfEntry } from './self-health.js';
import type { Entry, GroupReason, Verdict } from './state.js';

export const HEALTH_CONTENT_TYPE = 'application/health+json';

export interface BodyMeta {
  readonly version: string;
  readonly serviceId: string;
  readonly description: string;
}

export interface RenderedHealth {
  readonly statusCode: 200 | 503;
  /** The body, UTF-8. */
  readonly bytes: Uint8Array<ArrayBuffer>;
}

const encoder = new TextEncoder();
const toBytes = (text: string) => encoder.encode(text);

/** What a group failing for a reason of its own says to a reader. */
const GROUP_REASON_OUTPUT: Readonly<Record<GroupReason, string>> = { draining: 'the agent is shutting down' };

export type RenderHealth = (verdict: Verdict, meta: BodyMeta, withDetails: boolean, self?: readonly SelfEntry[]) => RenderedHealth;

/**
 * Makes a renderer of group verdicts; `self` adds the agent's own entries (liveness), which can
 * fail it. Each check's entry is serialized once per result and reused: with a thousand checks,
 * serializing every entry on every change was the largest cost of a health answer.
 */
export function createHealthRenderer(): RenderHealth {
  const entryJson = new WeakMap<object, { key: string; json: string; byteLength: number }>();

  const renderEntry = (entry: Entry): { json: string; byteLength: number } => {
    const { state } = entry;
    const last = state.last;
    const key = `${entry.status}\n${entry.reason}\n${entry.message}`;
    const cached = last && entryJson.get(last);
    if (cached && cached.key === key) return cached;
    const item: Record<string, unknown> = {
      componentId: state.config.name,
      componentType: state.componentType,
    };
    if (last) {
      item.observedValue = Math.round(last.durationMs * 100) / 100;
      item.observedUnit = 'ms';
    }
    item.status = entry.status;
    const time = new Date(last ? last.startedAt : Date.now()).toISOString();
    item.time = time;
    if (entry.status === 'fail') {
      item.reason = entry.reason;
      if (entry.message) item.output = entry.message;
    } else if (entry.status === 'warn' && entry.message) item.output = entry.message;
    item.type = state.config.type;
    item.critical = state.config.critical;
    item.consecutiveSuccesses = state.consecutiveSuccesses;
    item.consecutiveFailures = state.consecutiveFailures;
    if (entry.observation) item.observation = entry.observation;
    let json = `${JSON.stringify(`${state.config.name}:responseTime`)}:[${JSON.stringify(item)}]`;
    // Each numeric observation besides latency (which is responseTime above) is an entry of its own,
    // with the status its thresholds give it.
    for (const measure of entry.measures ?? []) {
      if (measure.name === LATENCY) continue;
      const observed = {
        componentId: state.config.name,
        componentType: state.componentType,
        observedValue: measure.value,
        observedUnit: measure.unit,
        status: measure.status,
        time,
      };
      json += `,${JSON.stringify(`${state.config.name}:${measure.name}`)}:[${JSON.stringify(observed)}]`;
    }
    const rendered = { key, json, byteLength: Buffer.byteLength(json) };
    if (last) entryJson.set(last, rendered);
    return rendered;
  };

  return (verdict, meta, withDetails, self = []) => {
    const status = withSelf(verdict.status, self);
    const head: Record<string, unknown> = {
      status,
      version: meta.version,
      serviceId: meta.serviceId,
      description: meta.description,
    };
    if (verdict.reason) {
      head.reason = verdict.reason;
      head.output = GROUP_REASON_OUTPUT[verdict.reason];
    }
    if (verdict.output) head.output = verdict.output;
    const statusCode = status === 'fail' ? 503 : 200;
    const text = JSON.stringify(head);
    if (!withDetails) return { statusCode, bytes: toBytes(text) };
    // The entries are copied into one buffer, never joined into one string first: with a thousand
    // checks that string was a quarter megabyte of garbage per render.
    const time = new Date().toISOString();
    const parts = self.map(({ key, ...entry }) => {
      const json = `${JSON.stringify(key)}:[${JSON.stringify({ componentId: 'vigil', componentType: 'system', ...entry, time })}]`;
      return { json, byteLength: Buffer.byteLength(json) };
    });
    for (const entry of verdict.entries) parts.push(renderEntry(entry));
    const opening = `${text.slice(0, -1)},"checks":{`;
    let length = Buffer.byteLength(opening) + 2 + Math.max(0, parts.length - 1);
    for (const part of parts) length += part.byteLength;
    const bytes = new Uint8Array(length);
    const out = Buffer.from(bytes.buffer);
    let offset = out.write(opening, 0);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) offset += out.write(',', offset);
      offset += out.write(parts[i]!.json, offset);
    }
    out.write('}}', offset);
    return { statusCode, bytes };
  };
}
