// Result subscribers: state records each result first, then every subscriber hears it in order; a
// subscriber added to the agent's list receives every result.
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../src/agent.js';
import type { CheckResult } from '../../src/check.js';
import type { CheckConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { createResultFeed, type ResultSubscriber } from '../../src/result-feed.js';
import { createState, type Transition } from '../../src/state.js';
import { agentConfig, checkConfig, downIsRefused, fail, pass } from '../helpers/fixtures.js';

const T = 1_000_000;
const silent = createLogger({ write: () => undefined });

describe('result subscribers', () => {
  it('result subscribers: state records first, then each subscriber in the order registered, with the transition', () => {
    const state = createState();
    const db = checkConfig('db', { failureThreshold: 2 });
    state.add(db, 'datastore');
    const heard: string[] = [];
    const subscriber = (name: string): ResultSubscriber => ({
      onResult(check, result, transition) {
        // The thresholded status already counts this result.
        expect(state.get(check.name)?.last).toBe(result);
        heard.push(`${name} ${state.get(check.name)?.healthy} ${transition ? `${transition.from}->${transition.to}` : '-'}`);
      },
    });
    const feed = createResultFeed((check, result) => state.record(check.name, result), [subscriber('first'), subscriber('second')]);
    feed.publish(db, pass(T));
    feed.publish(db, fail(T + 1));
    feed.publish(db, fail(T + 2));
    expect(heard).toEqual(['first true pending->pass', 'second true pending->pass', 'first true -', 'second true -', 'first false pass->fail', 'second false pass->fail']);
  });

  it('result subscribers: one added to the agent\'s list receives every result, as metrics and state do', async () => {
    const heard: { check: CheckConfig; result: CheckResult; transition: Transition | undefined; isLast: boolean }[] = [];
    const config = agentConfig([checkConfig('up', { intervalMs: 100, timeoutMs: 50 }), checkConfig('down', { intervalMs: 100, timeoutMs: 50, critical: false })]);
    const agent = createAgent(config, {
      kinds: [downIsRefused],
      log: silent,
      version: '0',
      subscribers: [{ onResult: (check, result, transition) => heard.push({ check, result, transition, isLast: agent.state.get(check.name)?.last === result }) }],
    });
    await agent.start({ listen: false });
    const deadline = Date.now() + 10_000;
    while (heard.filter((h) => h.check.name === 'up').length < 4 || heard.filter((h) => h.check.name === 'down').length < 4) {
      if (Date.now() > deadline) throw new Error(`only ${heard.length} results heard in 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await agent.stop();
    const metrics = await (await agent.app.request('/metrics')).text();
    for (const [name, outcome] of [['up', 'pass'], ['down', 'fail']] as const) {
      const mine = heard.filter((h) => h.check.name === name);
      const runs = Number(new RegExp(`vigil_check_runs_total\\{check="${name}",type="fake",result="${outcome}"\\} (\\d+)`).exec(metrics)?.[1]);
      expect(mine.length, `${name}: results heard vs attempts counted`).toBe(runs);
      expect(mine.every((h) => h.isLast && h.result.ok === (outcome === 'pass'))).toBe(true);
      expect(mine.map((h) => h.transition)).toEqual([{ from: 'pending', to: outcome }, ...mine.slice(1).map(() => undefined)]);
    }
  });
});
