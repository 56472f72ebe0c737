// The log's view of results: one line when a check's thresholded status changes, pass, warn or fail
// (at level warn when a critical check fails), each attempt only at debug. A heartbeat check changes
// status as often as its poster says (a flapping worker, a loop posting): its lines are limited to
// one per second, and a line at the end of that second reports the status then and how many
// changes were not logged on their own.
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';
import { HEARTBEAT_TYPE } from './heartbeat.js';
import type { Logger } from './log.js';
import type { ResultSubscriber } from './result-feed.js';
import type { Transition } from './state.js';

const VERB = { pass: 'passes', warn: 'passes with a warning', fail: 'fails' } as const;
/** At most one transition line per heartbeat check per this many ms. */
export const HEARTBEAT_TRANSITION_LINE_MS = 1000;

export interface TransitionLogOptions {
  readonly now?: () => number;
}

interface Limited {
  /** When the check's last line was written, epoch ms. */
  lastAt: number;
  /** Changes not logged since then, and the latest of them. */
  suppressed: number;
  latest: { check: CheckConfig; result: CheckResult; transition: Transition } | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export function createTransitionLog(log: Logger, options: TransitionLogOptions = {}): ResultSubscriber {
  const now = options.now ?? Date.now;
  const limited = new Map<string, Limited>();

  const write = (check: CheckConfig, result: CheckResult, transition: Transition, suppressed?: number) => {
    const line = `check ${check.name} ${VERB[transition.to]}`;
    const level = transition.to === 'fail' && check.critical ? 'warn' : 'info';
    // A warning passes: its output is the warning (which observation crossed what), not a failure.
    const fields = transition.to === 'warn' ? { ...fieldsOf(check, result), output: result.warning } : fieldsOf(check, result);
    log[level](line, suppressed === undefined ? { ...fields, from: transition.from, to: transition.to } : { ...fields, from: transition.from, to: transition.to, suppressed });
  };

  const flush = (name: string, entry: Limited) => {
    entry.timer = undefined;
    const { latest, suppressed } = entry;
    entry.latest = undefined;
    entry.suppressed = 0;
    if (!latest) return;
    entry.lastAt = now();
    write(latest.check, latest.result, latest.transition, suppressed);
    // Quiet for a while: forget the check (a removed one included).
    entry.timer = setTimeout(() => {
      if (!entry.latest && limited.get(name) === entry) limited.delete(name);
    }, HEARTBEAT_TRANSITION_LINE_MS);
    entry.timer.unref?.();
  };

  const writeLimited = (check: CheckConfig, result: CheckResult, transition: Transition) => {
    const at = now();
    let entry = limited.get(check.name);
    if (!entry) {
      entry = { lastAt: -Infinity, suppressed: 0, latest: undefined, timer: undefined };
      limited.set(check.name, entry);
    }
    if (!entry.latest && at - entry.lastAt >= HEARTBEAT_TRANSITION_LINE_MS) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.lastAt = at;
      write(check, result, transition);
      return;
    }
    entry.suppressed++;
    entry.latest = { check, result, transition };
    if (entry.timer === undefined || entry.suppressed === 1) {
      clearTimeout(entry.timer);
      const limitedEntry = entry;
      entry.timer = setTimeout(() => flush(check.name, limitedEntry), Math.max(0, entry.lastAt + HEARTBEAT_TRANSITION_LINE_MS - at));
      entry.timer.unref?.();
    }
  };

  return {
    onResult(check, result, transition) {
      if (transition) {
        if (check.type === HEARTBEAT_TYPE) writeLimited(check, result, transition);
        else write(check, result, transition);
      } else if (log.isLevelEnabled('debug')) {
        log.debug('attempt', { ...fieldsOf(check, result), ok: result.ok });
      }
    },
  };
}

function fieldsOf(check: CheckConfig, result: CheckResult) {
  return { check: check.name, type: check.type, durationMs: Math.round(result.durationMs * 100) / 100, reason: result.reason, output: result.message };
}
