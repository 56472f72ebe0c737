// Numeric observations and warnIf/failIf: the grammar, judging a result, what state, the health body
// and the series make of it, and config errors with their place in the file.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { kinds } from '../../checks/index.js';
import { defineCheck, type CheckKind } from '../../src/check.js';
import { createCheckSeries } from '../../src/check-series.js';
import { parseConfig } from '../../src/config/parse.js';
import type { ConfigError } from '../../src/errors.js';
import { createHealthRenderer } from '../../src/health.js';
import { checkKinds } from '../../src/kinds.js';
import { judge, parseComparison } from '../../src/observations.js';
import { createState } from '../../src/state.js';
import { checkConfig, pass } from '../helpers/fixtures.js';

const lagKind = defineCheck({
  type: 'fake',
  componentType: 'datastore',
  schemes: [],
  options: {},
  observations: { replicationLagSeconds: 's', memoryUsedRatio: 'ratio', tlsChainDaysLeft: 'days' },
  run: async () => undefined,
});

const thresholds = (kind: CheckKind, warnIf: Record<string, string>, failIf: Record<string, string> = {}) => {
  const config = parseConfig(`checks:\n  c: { type: ${kind.type}, warnIf: ${JSON.stringify(warnIf)}, failIf: ${JSON.stringify(failIf)} }\n`, { kinds: [kind] });
  return config.checks[0]!;
};

const issues = (yaml: string) => {
  try {
    parseConfig(yaml, { kinds, source: 'vigil.yaml' });
    return [];
  } catch (error) {
    return (error as ConfigError).issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
  }
};

describe('comparisons', () => {
  it('reads an operator and a number in the observation unit, or with a unit it takes', () => {
    expect(parseComparison('latency', '> 500ms', 'ms').threshold).toMatchObject({ op: '>', value: 500, text: '> 500ms' });
    expect(parseComparison('latency', '>=1.5s', 'ms').threshold).toMatchObject({ op: '>=', value: 1500 });
    expect(parseComparison('latency', '> 250', 'ms').threshold).toMatchObject({ value: 250 });
    expect(parseComparison('lag', '> 2m', 's').threshold).toMatchObject({ value: 120 });
    expect(parseComparison('days', '< 36h', 'days').threshold).toMatchObject({ op: '<', value: 1.5 });
    expect(parseComparison('ratio', '> 90%', 'ratio').threshold).toMatchObject({ value: 0.9 });
    expect(parseComparison('clients', '!= 0', 'count').threshold).toMatchObject({ op: '!=', value: 0 });
    expect(parseComparison('days', '< -1', 'days').threshold).toMatchObject({ value: -1 });
  });

  it('refuses what is not a comparison, and a unit the observation does not take', () => {
    expect(parseComparison('latency', '500ms', 'ms').problem).toBe('is not a comparison: write an operator (<, <=, >, >=, ==, !=) and a number, e.g. "> 500ms" or "> 1.5s"');
    expect(parseComparison('latency', '=> 5', 'ms').problem).toMatch(/^is not a comparison/);
    expect(parseComparison('tlsChainDaysLeft', '< 14ms', 'days').problem).toBe('has unit "ms", which tlsChainDaysLeft does not take: write the number in days, or with one of d, h');
    expect(parseComparison('connectedClients', '> 5%', 'count').problem).toBe('has unit "%", which connectedClients does not take: write the number in count, without a unit');
  });
});

describe('judging a result', () => {
  it('failIf fails a passing attempt with reason threshold, naming the observation, its value and the comparison', () => {
    const check = thresholds(lagKind, { replicationLagSeconds: '> 5' }, { replicationLagSeconds: '> 30', latency: '> 1s' });
    const judged = judge(check, lagKind, { ok: true, startedAt: 1, durationMs: 12.345, observation: { replicationLagSeconds: 42.5, role: 'replica' } });
    expect(judged).toMatchObject({ ok: false, reason: 'threshold', message: 'failIf replicationLagSeconds > 30: observed 42.5 s' });
    expect(judged.measures).toEqual([
      { name: 'latency', value: 12.345, unit: 'ms', status: 'pass' },
      { name: 'replicationLagSeconds', value: 42.5, unit: 's', status: 'fail' },
    ]);
  });

  it('warnIf makes a passing attempt warn; several crossed are all named', () => {
    const check = thresholds(lagKind, { latency: '> 10ms', memoryUsedRatio: '>= 90%' });
    const judged = judge(check, lagKind, { ok: true, startedAt: 1, durationMs: 812.4, observation: { memoryUsedRatio: 0.95 } });
    expect(judged).toMatchObject({ ok: true, warning: 'warnIf latency > 10ms: observed 812.4 ms; warnIf memoryUsedRatio >= 90%: observed 0.95 ratio' });
    expect(judged.measures!.map((m) => m.status)).toEqual(['warn', 'warn']);
  });

  it('nothing crossed: passes with its measures; an absent observation is not judged', () => {
    const check = thresholds(lagKind, { replicationLagSeconds: '> 5' }, { replicationLagSeconds: '> 30' });
    const judged = judge(check, lagKind, { ok: true, startedAt: 1, durationMs: 3, observation: { role: 'primary' } });
    expect(judged).toEqual({ ok: true, startedAt: 1, durationMs: 3, observation: { role: 'primary' }, measures: [{ name: 'latency', value: 3, unit: 'ms', status: 'pass' }] });
  });

  it("a kind's warning (a certificate within warnBefore) makes the attempt warn", () => {
    const judged = judge(checkConfig('c'), lagKind, { ok: true, startedAt: 1, durationMs: 3, observation: { tlsChainDaysLeft: 5, warning: 'expires in 5 days' } });
    expect(judged).toMatchObject({ ok: true, warning: 'expires in 5 days' });
  });

  it('a failed attempt keeps its reason: thresholds judge passing attempts only', () => {
    const check = thresholds(lagKind, {}, { latency: '> 1ms' });
    const judged = judge(check, lagKind, { ok: false, startedAt: 1, durationMs: 900, reason: 'timeout', message: 'slow' });
    expect(judged).toMatchObject({ ok: false, reason: 'timeout', message: 'slow', measures: [{ name: 'latency', value: 900, status: 'pass' }] });
  });

  it('a number under a name the kind does not declare fails the attempt: labels stay bounded', () => {
    const judged = judge(checkConfig('c', { type: 'fake' }), lagKind, { ok: true, startedAt: 1, durationMs: 3, observation: { rows: 7 } });
    expect(judged).toMatchObject({ ok: false, reason: 'unknown', message: 'check type fake reported observation "rows", which it does not declare: a defect of the check type' });
    expect(judge(checkConfig('c'), lagKind, { ok: true, startedAt: 1, durationMs: 3, observation: { latency: 7 } })).toMatchObject({ ok: false, reason: 'unknown' });
  });

  it('the registry refuses a kind declaring latency, a bad name or a unit not in the set', () => {
    const kind = (observations: Record<string, string>) =>
      ({ type: 'bad', componentType: 'component', schemes: [], options: z.strictObject({}), observations: { latency: 'ms', ...observations }, run: async () => undefined }) as unknown as CheckKind;
    expect(() => checkKinds([kind({ 'x-y': 'ms' })])).toThrow('declares observation "x-y": a name is a letter, then letters and digits');
    expect(() => checkKinds([kind({ size: 'bytes' })])).toThrow('declares observation "size" in "bytes", not a unit');
    expect(() => checkKinds([{ ...kind({}), observations: { latency: 's' } } as CheckKind])).toThrow('declares observation "latency", which every check has');
  });
});

describe('warn in state, the health body and the series', () => {
  it('a warning keeps the check passing: the group is 200-worthy warn, even for a critical check; pass<->warn are transitions', () => {
    const state = createState();
    const check = checkConfig('db', { critical: true });
    state.add(check, 'datastore');
    expect(state.record('db', pass(1))).toEqual({ from: 'pending', to: 'pass' });
    expect(state.record('db', { ...pass(2), warning: 'warnIf latency > 1ms: observed 3 ms' })).toEqual({ from: 'pass', to: 'warn' });
    expect(state.record('db', { ...pass(3), warning: 'warnIf latency > 1ms: observed 4 ms' })).toBeUndefined();
    const verdict = state.verdict('ready', 4);
    expect(verdict.status).toBe('warn');
    expect(verdict.entries[0]).toMatchObject({ status: 'warn', message: 'warnIf latency > 1ms: observed 4 ms' });
    expect(state.get('db')!.healthy).toBe(true);
    expect(state.record('db', pass(5))).toEqual({ from: 'warn', to: 'pass' });
    expect(state.verdict('ready', 6).status).toBe('pass');
  });

  it('each observation but latency is an entry "<check>:<name>" with observedValue, observedUnit and its own status; none without details', () => {
    const state = createState();
    const check = thresholds(lagKind, { replicationLagSeconds: '> 5' });
    state.add({ ...check, name: 'db' }, 'datastore');
    const result = judge(check, lagKind, { ok: true, startedAt: Date.UTC(2026, 0, 1), durationMs: 4.321, observation: { replicationLagSeconds: 7.5, memoryUsedRatio: 0.5 } });
    state.record('db', result);
    const render = createHealthRenderer();
    const meta = { version: 'v', serviceId: 's', description: 'd' };
    const body = JSON.parse(Buffer.from(render(state.verdict('ready', Date.UTC(2026, 0, 1)), meta, true).bytes).toString());
    expect(body.status).toBe('warn');
    expect(Object.keys(body.checks)).toEqual(['db:responseTime', 'db:replicationLagSeconds', 'db:memoryUsedRatio']);
    expect(body.checks['db:responseTime'][0]).toMatchObject({ observedValue: 4.32, observedUnit: 'ms', status: 'warn', output: 'warnIf replicationLagSeconds > 5: observed 7.5 s' });
    expect(body.checks['db:replicationLagSeconds'][0]).toEqual({
      componentId: 'db',
      componentType: 'datastore',
      observedValue: 7.5,
      observedUnit: 's',
      status: 'warn',
      time: '2026-01-01T00:00:00.000Z',
    });
    expect(body.checks['db:memoryUsedRatio'][0]).toMatchObject({ observedValue: 0.5, observedUnit: 'ratio', status: 'pass' });
    const withoutDetails = render(state.verdict('ready', Date.UTC(2026, 0, 1)), meta, false);
    expect(JSON.parse(Buffer.from(withoutDetails.bytes).toString())).not.toHaveProperty('checks');
    expect(withoutDetails.statusCode).toBe(200);
  });

  it('vigil_check_observation: the latest set of each check, gone with the check', () => {
    const series = createCheckSeries();
    const check = checkConfig('db', { type: 'fake' });
    series.add(check);
    series.observe(check, judge(check, lagKind, { ok: true, startedAt: 1, durationMs: 2.5, observation: { replicationLagSeconds: 3 } }), true);
    let text = series.render().toString();
    expect(text).toContain('# TYPE vigil_check_observation gauge\n');
    expect(text).toContain('vigil_check_observation{check="db",type="fake",name="latency"} 2.5\n');
    expect(text).toContain('vigil_check_observation{check="db",type="fake",name="replicationLagSeconds"} 3\n');
    // A primary now: no lag measured, no lag reported (not the old value).
    series.observe(check, judge(check, lagKind, { ok: true, startedAt: 2, durationMs: 1, observation: {} }), true);
    text = series.render().toString();
    expect(text).not.toContain('name="replicationLagSeconds"');
    series.remove('db');
    expect(series.render().toString()).not.toContain('vigil_check_observation{');
  });
});

describe('warnIf and failIf in the config', () => {
  it('an unknown observation name for the type and an unparsable comparison are errors with line:column', () => {
    const yaml = ['checks:', '  api:', '    type: http', '    url: http://127.0.0.1:1/', '    warnIf:', '      latency: "500ms"', '      tlsDays: "< 3"', '    failIf: { statusCode: "> 5xx" }', ''].join('\n');
    expect(issues(yaml)).toEqual([
      '6:16 checks.api.warnIf.latency: "500ms" is not a comparison: write an operator (<, <=, >, >=, ==, !=) and a number, e.g. "> 500ms" or "> 1.5s"',
      '7:16 checks.api.warnIf.tlsDays: "tlsDays" is not an observation of type http (known: latency, statusCode, tlsLeafDaysLeft, tlsChainDaysLeft)',
      '8:27 checks.api.failIf.statusCode: "> 5xx" has unit "xx", which statusCode does not take: write the number in code, without a unit',
    ]);
  });

  it('resolves into thresholds in the unit of each observation', () => {
    const config = parseConfig('checks:\n  api: { type: http, url: "http://127.0.0.1:1/", warnIf: { latency: "> 0.5s" }, failIf: { tlsChainDaysLeft: "< 3" } }\n', { kinds });
    expect(config.checks[0]).toMatchObject({
      warnIf: [{ name: 'latency', op: '>', value: 500, text: '> 0.5s' }],
      failIf: [{ name: 'tlsChainDaysLeft', op: '<', value: 3, text: '< 3' }],
    });
  });
});
