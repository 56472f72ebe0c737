// The log's view of results: one line when a check's thresholded status changes, pass, warn or fail
// (at level warn when a critical check fails), each attempt only at debug.
import type { CheckResult } from './check.js';
import type { CheckConfig } from './config/types.js';
import type { Logger } from './log.js';
import type { ResultSubscriber } from './result-feed.js';

const VERB = { pass: 'passes', warn: 'passes with a warning', fail: 'fails' } as const;

export function createTransitionLog(log: Logger): ResultSubscriber {
  return {
    onResult(check, result, transition) {
      if (transition) {
        const line = `check ${check.name} ${VERB[transition.to]}`;
        const level = transition.to === 'fail' && check.critical ? 'warn' : 'info';
        // A warning passes: its output is the warning (which observation crossed what), not a failure.
        const fields = transition.to === 'warn' ? { ...fieldsOf(check, result), output: result.warning } : fieldsOf(check, result);
        log[level](line, { ...fields, from: transition.from, to: transition.to });
      } else if (log.isLevelEnabled('debug')) {
        log.debug('attempt', { ...fieldsOf(check, result), ok: result.ok });
      }
    },
  };
}

function fieldsOf(check: CheckConfig, result: CheckResult) {
  return { check: check.name, type: check.type, durationMs: Math.round(result.durationMs * 100) / 100, reason: result.reason, output: result.message };
}
