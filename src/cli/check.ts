// `vigil check`: every check once, or round after round until every critical one passes or --wait
// runs out; a table (or --json) on stdout, exit 0 when no critical check fails, 1 otherwise.
import { parseArgs } from 'node:util';
import type { CheckResult } from '../check.js';
import type { CheckConfig } from '../config/types.js';
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
  const { run, prepare, isPushed, judge } = runner;
  // A pushed check (a heartbeat) is fed by POST /heartbeat/<check> to a serving agent: one run of
  // every check cannot observe it, so it is left out, and said so.
  const pushed = config.checks.filter(isPushed);
  if (pushed.length) log.info(`left out, fed by POST /heartbeat/<check> to a serving agent: ${pushed.map((c) => c.name).join(', ')}`, { checks: pushed.map((c) => c.name) });
  const checks = config.checks.filter((c) => !isPushed(c));
  await prepare(checks);
  const deadline = Date.now() + waitMs;
  const results = new Map<string, CheckResult>();
  let round = 0;
  for (;;) {
    round++;
    const todo = checks.filter((c) => !results.get(c.name)?.ok);
    // All at once, except that a check waits for the checks it depends on, and is not attempted when
    // one of them fails (as in the serving agent).
    const byName = new Map(todo.map((c) => [c.name, c]));
    const running = new Map<string, Promise<CheckResult | undefined>>();
    const runOne = (c: CheckConfig): Promise<CheckResult | undefined> => {
      let started = running.get(c.name);
      if (!started) {
        started = (async () => {
          for (const name of c.dependsOn ?? []) {
            const dependency = byName.get(name);
            const outcome = dependency ? await runOne(dependency) : results.get(name);
            // A heartbeat (left out) has no outcome here: it does not hold its dependents back.
            if (outcome && !outcome.ok) return heldBack(name, outcome);
          }
          // Judged by its thresholds before its dependents read it: a failIf crossed holds them back too.
          const result = await attempt(c, run);
          return result && judge(c, result);
        })();
        running.set(c.name, started);
      }
      return started;
    };
    await Promise.all(
      todo.map(async (c) => {
        const result = await runOne(c);
        if (result) results.set(c.name, result);
      }),
    );
    const failing = checks.filter((c) => c.critical && !results.get(c.name)?.ok);
    if (failing.length === 0 || Date.now() >= deadline) break;
    log.info(`waiting for ${failing.map((c) => `${c.name} (${results.get(c.name)?.reason ?? 'pending'})`).join(', ')} — round ${round}`, { round });
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }
  await runner.closeAll();

  const rows = checks.map((c) => {
    const result = results.get(c.name)!;
    // A passing attempt that crossed a warnIf (or a certificate within warnBefore) warns, and says why.
    const status = result.ok ? (result.warning === undefined ? 'pass' : 'warn') : c.critical ? 'fail' : 'warn';
    return {
      name: c.name,
      type: c.type,
      critical: c.critical,
      status,
      durationMs: Math.round(result.durationMs * 100) / 100,
      ...(result.ok ? {} : { reason: result.reason, output: boundOutput(redact(result.message ?? '')) }),
      ...(result.ok && result.warning !== undefined ? { output: boundOutput(redact(result.warning)) } : {}),
    };
  });
  const isHealthy = rows.every((r) => r.status !== 'fail');
  if (values.json) {
    io.stdout(`${JSON.stringify({ status: isHealthy ? (rows.some((r) => r.status === 'warn') ? 'warn' : 'pass') : 'fail', checks: rows }, null, 2)}\n`);
  } else {
    const table = [['CHECK', 'TYPE', 'STATUS', 'LATENCY', 'DETAIL'], ...rows.map((r) => [r.name, r.type, r.status.toUpperCase(), `${r.durationMs} ms`, r.output ? (r.reason ? `${r.reason}: ${r.output}` : r.output) : ''])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
    io.stdout(table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n');
  }
  return isHealthy ? EXIT_OK : EXIT_UNHEALTHY;
}

/** The result of a check not attempted because `dependency` failed: it names the root of the failure. */
function heldBack(dependency: string, outcome: CheckResult): CheckResult {
  const message = outcome.reason === 'dependency_failed' && outcome.message ? outcome.message : `not attempted: ${dependency} fails (${outcome.reason ?? 'unknown'})`;
  return { ok: false, startedAt: Date.now(), durationMs: 0, reason: 'dependency_failed', message, isHeldBack: true };
}
