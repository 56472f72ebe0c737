// Output sources composed into /metrics: each part rendered again only when its source says it
// changed, the whole encoded once per change, the process metrics at most once a second.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { composeSources, refreshedEvery, type OutputSource } from '../../src/output-sources.js';
import { createState } from '../../src/state.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** A source whose part changes when `version` does, counting its renders. */
function counted(name: string) {
  const source = { version: 0, renders: 0, rendered: -1 } as { version: number; renders: number; rendered: number } & OutputSource;
  source.isCurrent = () => source.rendered === source.version;
  source.render = () => {
    source.renders++;
    source.rendered = source.version;
    return `${name} ${source.version}`;
  };
  return source;
}

describe('output sources', () => {
  it('output sources: parts joined in order, each rendered again only when it changed, the whole encoded once per change', async () => {
    const a = counted('a');
    const b = counted('b');
    const bytes = new TextEncoder().encode('c 1');
    const render = composeSources([a, b, { isCurrent: () => true, render: async () => bytes }]);
    const first = await render(0);
    expect(text(first)).toBe('a 0\nb 0\nc 1');
    expect(await render(1)).toBe(first);
    b.version++;
    const second = await render(2);
    expect(text(second)).toBe('a 0\nb 1\nc 1');
    expect(await render(3)).toBe(second);
    expect([a.renders, b.renders]).toEqual([1, 2]);
  });

  it('output sources: a continuously changing source is rendered at most once per its period', async () => {
    let renders = 0;
    const render = composeSources([refreshedEvery(1000, (now) => `t ${now} ${++renders}`)]);
    expect(text(await render(10_000))).toBe('t 10000 1');
    expect(text(await render(10_999))).toBe('t 10000 1');
    expect(text(await render(11_000))).toBe('t 11000 2');
    expect(renders).toBe(2);
  });

  it('output sources: /metrics renders the check series on a result, the process metrics once a second, a staleness deadline with no result', async () => {
    let at = 1_000_000;
    const state = createState();
    const processRegistry = new Registry();
    let processReads = 0;
    const read = processRegistry.metrics.bind(processRegistry);
    processRegistry.metrics = () => {
      processReads++;
      return read();
    };
    const extra = counted('app_requests_total');
    const metrics = createMetrics(new Registry(), processRegistry, { version: '0', state, now: () => at, sources: [extra] });
    const db = checkConfig('db', { staleAfterMs: 3000 });
    state.add(db, 'datastore');
    metrics.addCheck(db);
    const first = await metrics.render();
    expect(text(first)).toMatch(/vigil_check_up\{check="db",type="fake"\} 0\n[^]*vigil_health_status\{group="ready",status="fail"\} 1\n[^]*vigil_process_cpu_seconds_total[^]*\napp_requests_total 0$/);
    at += 500;
    expect(await metrics.render()).toBe(first);
    state.record('db', pass(at, 1));
    metrics.onResult(db, pass(at, 1), undefined);
    const passing = text(await metrics.render());
    expect(passing).toContain('vigil_check_up{check="db",type="fake"} 1');
    expect(passing).toContain('vigil_health_status{group="ready",status="pass"} 1');
    expect(processReads).toBe(1);
    at += 600;
    await metrics.render();
    expect(processReads).toBe(2);
    // No result for longer than staleAfter: the health status turns stale with nothing recorded.
    at += 3000;
    expect(text(await metrics.render())).toContain('vigil_health_status{group="ready",status="fail"} 1');
    expect(extra.renders).toBe(1);
    state.record('db', fail(at));
    metrics.onResult(db, fail(at), { from: 'pass', to: 'fail' });
    expect(text(await metrics.render())).toContain('vigil_check_up{check="db",type="fake"} 0');
  });
});
