// The log's view of results: one line when a check's thresholded status changes (warn when a
// critical check fails), each attempt only at debug.
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';
import type { Logger } from './log.js';
import type { ResultSubscriber } from './result-feed.js';

export function createTransitionLog(log: Logger): ResultSubscriber {
  return {
    onResult(check, result, transition) {
      if (transition) {
        const line = `check ${check.name} ${transition.to === 'pass' ? 'passes' : 'fails'}`;
        const level = transition.to === 'pass' ? 'info' : check.critical ? 'warn' : 'info';
        log[level](line, { ...fieldsOf(check, result), from: transition.from, to: transition.to });
      } else if (log.isLevelEnabled('debug')) {
        log.debug('attempt', { ...fieldsOf(check, result), ok: result.ok });
      }
    },
  };
}

function fieldsOf(check: CheckConfig, result: CheckResult) {
  return { check: check.name, type: check.type, durationMs: Math.round(result.durationMs * 100) / 100, reason: result.reason, output: result.message };
}
