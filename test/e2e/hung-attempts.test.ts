// Against a dependency that hangs, every attempt is a real one that ends at its timeout: none is
// skipped because the previous attempt's driver lingers past its abort, and the latency histogram
// holds only real durations (skipped attempts were once recorded as 0 ms timeouts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../checks/index.js';
import { serve, tempConfig, type Served } from '../helpers/cli.js';
import { freePort, startBlackhole, waitFor, type Blackhole } from '../helpers/net.js';

let blackhole: Blackhole;
let agent: Served;
const checks = {
  db: (port: number) => `{ type: postgres, url: "postgres://postgres@127.0.0.1:${port}/test" }`,
  cache: (port: number) => `{ type: redis, url: "redis://127.0.0.1:${port}/0" }`,
  api: (port: number) => `{ type: http, url: "http://127.0.0.1:${port}/" }`,
};

beforeAll(async () => {
  blackhole = await startBlackhole();
  const yaml = `defaults: { interval: 1s, timeout: 800ms }\nchecks:\n${Object.entries(checks).map(([name, block]) => `  ${name}: ${block(blackhole.port)}`).join('\n')}\n`;
  agent = await serve(['--config', tempConfig(yaml)], await freePort());
});
afterAll(async () => {
  agent?.kill();
  await blackhole?.close();
});

const series = (text: string, name: string, check: string, extra = '') =>
  Number(new RegExp(`^${name}\\{check="${check}",type="\\w+"${extra}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('hung dependencies (skipped attempts are recorded as 0 ms timeouts)', () => {
  it('records every attempt against a hung postgres, redis and http server as a real timeout, none skipped', async () => {
    expect(kinds.map((k) => k.type)).toEqual(expect.arrayContaining(['postgres', 'redis', 'http']));
    const text = await waitFor(
      'six timed-out attempts of every check',
      async () => {
        const body = await (await fetch(`${agent.url}/metrics`)).text();
        return Object.keys(checks).every((check) => series(body, 'vigil_check_runs_total', check, ',result="timeout"') >= 6) ? body : undefined;
      },
      20_000,
      200,
    );
    for (const check of Object.keys(checks)) {
      const count = series(text, 'vigil_check_duration_seconds_count', check);
      const sum = series(text, 'vigil_check_duration_seconds_sum', check);
      expect({ check, skipped: series(text, 'vigil_check_skipped_total', check) }).toEqual({ check, skipped: 0 });
      expect(series(text, 'vigil_check_runs_total', check, ',result="pass"') + series(text, 'vigil_check_runs_total', check, ',result="fail"')).toBe(0);
      expect(count).toBe(series(text, 'vigil_check_runs_total', check, ',result="timeout"'));
      // Each attempt lasted its whole timeout: the mean is 800 ms, not dragged down by 0 ms entries.
      expect(sum / count, check).toBeGreaterThan(0.75);
    }
  }, 40_000);
});
