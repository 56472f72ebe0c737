// What the tests of connection: persistent share: an agent's config with persistent defaults, a
// quiet logger, and the vigil_check_connections value the agent serves for a check.
import { kinds } from '../../checks/index.js';
import type { Agent } from '../../src/agent.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/log.js';

export const quiet = () => createLogger({ level: 'error', write: () => undefined });

/** The agent's config for these checks: `blocks` maps a name to its YAML flow map. */
export function configOf(blocks: Record<string, string>, timeout = '1s') {
  const checks = Object.entries(blocks).map(([name, block]) => `  ${name}: ${block}`).join('\n');
  return parseConfig(`defaults: { interval: 1s, timeout: ${timeout}, connection: persistent }\nchecks:\n${checks}\n`, { kinds });
}

/** The check's vigil_check_connections sample in the agent's /metrics, or undefined when absent. */
export async function connectionsSeries(agent: Agent, name: string): Promise<number | undefined> {
  const text = Buffer.from(await agent.metrics.render()).toString();
  const line = text.split('\n').find((l) => l.startsWith(`vigil_check_connections{check="${name}",`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}
