import { describe, expect, it } from 'vitest';
import { createCheckSeries } from '../../src/check-series.js';
import { checkConfig, fail, pass } from '../helpers/fixtures.js';

describe('per-check series', () => {
  it('renders a cumulative histogram, runs by result, failures by reason and the last success', () => {
    const series = createCheckSeries();
    const db = checkConfig('db', { type: 'postgres' });
    series.add(db);
    series.observe(db, pass(1_000_000, 0.5), true); // 0.0005 s
    series.observe(db, pass(2_000_000, 30), true); // 0.03 s
    series.observe(db, { ...fail(3_000_000, 'timeout'), durationMs: 2000 }, false);
    series.observe(db, fail(4_000_000, 'auth'), false);
    const text = series.render().toString();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(`${line} `))!.split(' ')[1]);
    expect(value('vigil_check_up{check="db",type="postgres"}')).toBe(0);
    expect(value('vigil_check_duration_seconds_bucket{le="0.001",check="db",type="postgres"}')).toBe(1);
    expect(value('vigil_check_duration_seconds_bucket{le="0.005",check="db",type="postgres"}')).toBe(2); // 0.0005 and 0.002
    expect(value('vigil_check_duration_seconds_bucket{le="0.05",check="db",type="postgres"}')).toBe(3);
    expect(value('vigil_check_duration_seconds_bucket{le="2.5",check="db",type="postgres"}')).toBe(4);
    expect(value('vigil_check_duration_seconds_bucket{le="+Inf",check="db",type="postgres"}')).toBe(4);
    expect(value('vigil_check_duration_seconds_count{check="db",type="postgres"}')).toBe(4);
    expect(value('vigil_check_duration_seconds_sum{check="db",type="postgres"}')).toBeCloseTo(2.0325, 6);
    expect(value('vigil_check_runs_total{check="db",type="postgres",result="pass"}')).toBe(2);
    expect(value('vigil_check_runs_total{check="db",type="postgres",result="timeout"}')).toBe(1);
    expect(value('vigil_check_runs_total{check="db",type="postgres",result="fail"}')).toBe(1);
    expect(value('vigil_check_failures_total{check="db",type="postgres",reason="auth"}')).toBe(1);
    expect(value('vigil_check_last_success_timestamp_seconds{check="db",type="postgres"}')).toBeCloseTo(2000.03, 6);
  });

  it('groups each family under one header, and forgets removed checks', () => {
    const series = createCheckSeries();
    for (const name of ['a', 'b']) series.add(checkConfig(name));
    series.observe(checkConfig('a'), pass(1), true);
    let text = series.render().toString();
    expect(text.match(/# TYPE vigil_check_up gauge/g)).toHaveLength(1);
    expect(text.indexOf('vigil_check_up{check="b"')).toBeLessThan(text.indexOf('# TYPE vigil_check_duration_seconds'));
    series.remove('a');
    text = series.render().toString();
    expect(text).not.toContain('check="a"');
    expect(text).toContain('vigil_check_up{check="b",type="fake"} 0');
  });
});
