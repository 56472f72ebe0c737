// `vigil check`: every check once, or round after round until every critical one passes or --wait
// runs out; a table (or --json) on stdout, exit 0 when no critical check fails, 1 otherwise.
import { parseArgs } from 'node:util';
import type { CheckResult } from '../check.js';
import { readDuration } from '../config/duration.js';
import type { Logger } from '../log.js';
import { boundOutput } from '../output.js';
import { createRedactor } from '../redact.js';
import { configOptions, configPath, EXIT_OK, EXIT_UNHEALTHY, logOptions, logSettings, UsageError, type Io } from './common.js';
import { loadKinds } from './kinds.js';
import { loadConfigHere } from './load-config.js';

export async function check(argv: readonly string[], io: Io, log: Logger): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { ...configOptions(), wait: { type: 'string', short: 'w' }, json: { type: 'boolean' }, ...logOptions() },
    allowPositionals: false,
  });
  const wait = values.wait === undefined ? { ms: 0 } : readDuration(values.wait, { allowZero: true });
  if (wait.problem !== undefined) throw new UsageError(`--wait ${values.wait} ${wait.problem}`);
  const waitMs = wait.ms;
  const settings = logSettings(values, io.env);
  log.configure({ format: settings.format, level: settings.level });
  const config = await loadConfigHere(configPath(values.config, io.env), io.env);
  const redact = createRedactor(config.secrets);
  log.configure({ level: settings.flagLevel ?? config.server.logLevel, redact });
  const [kinds, { createRunner }, { attempt }] = await Promise.all([loadKinds(), import('../runner.js'), import('../scheduler.js')]);
  const runner = createRunner(kinds);
  const { run, prepare } = runner;
  await prepare(config.checks);
  const deadline = Date.now() + waitMs;
  const results = new Map<string, CheckResult>();
  let round = 0;
  for (;;) {
    round++;
    const todo = config.checks.filter((c) => !results.get(c.name)?.ok);
    await Promise.all(
      todo.map(async (c) => {
        const result = await attempt(c, run);
        if (result) results.set(c.name, result);
      }),
    );
    const failing = config.checks.filter((c) => c.critical && !results.get(c.name)?.ok);
    if (failing.length === 0 || Date.now() >= deadline) break;
    log.info(`waiting for ${failing.map((c) => `${c.name} (${results.get(c.name)?.reason ?? 'pending'})`).join(', ')} — round ${round}`, { round });
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }
  await runner.closeAll();

  const rows = config.checks.map((c) => {
    const result = results.get(c.name)!;
    const status = result.ok ? 'pass' : c.critical ? 'fail' : 'warn';
    return {
      name: c.name,
      type: c.type,
      critical: c.critical,
      status,
      durationMs: Math.round(result.durationMs * 100) / 100,
      ...(result.ok ? {} : { reason: result.reason, output: boundOutput(redact(result.message ?? '')) }),
    };
  });
  const isHealthy = rows.every((r) => r.status !== 'fail');
  if (values.json) {
    io.stdout(`${JSON.stringify({ status: isHealthy ? (rows.some((r) => r.status === 'warn') ? 'warn' : 'pass') : 'fail', checks: rows }, null, 2)}\n`);
  } else {
    const table = [['CHECK', 'TYPE', 'STATUS', 'LATENCY', 'DETAIL'], ...rows.map((r) => [r.name, r.type, r.status.toUpperCase(), `${r.durationMs} ms`, r.output ? `${r.reason}: ${r.output}` : ''])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    io.stdout(table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n');
  }
  return isHealthy ? EXIT_OK : EXIT_UNHEALTHY;
}
