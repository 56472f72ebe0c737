// Numeric observations and the thresholds on them: the warnIf/failIf grammar (read once, at config
// time), and judging an attempt's result by them (at every attempt). A kind's observations are a
// bounded set of names it declares; a number under any other name is refused here, so the `name`
// label of vigil_check_observation never grows with what a dependency says.
import { LATENCY, observationsOf, type CheckKind, type CheckResult, type Measure, type Observation, type ObservationUnit } from './check.js';
import type { CheckConfig } from './config/types.js';

export type Comparator = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** One threshold as resolved: `latency > 500ms` is { name: latency, op: '>', value: 500 }. */
export interface Threshold {
  readonly name: string;
  readonly op: Comparator;
  /** In the observation's own unit. */
  readonly value: number;
  /** As written, for messages: "> 500ms". */
  readonly text: string;
}

const COMPARISON = /^\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*([a-z%]*)\s*$/;

/** The suffixes a number may carry for an observation in each unit, and what one of each is worth. */
const SUFFIXES: Readonly<Record<ObservationUnit, Readonly<Record<string, number>>>> = {
  ms: { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 },
  s: { '': 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 },
  days: { '': 1, d: 1, h: 1 / 24 },
  ratio: { '': 1, '%': 0.01 },
  count: { '': 1 },
  code: { '': 1 },
};

/** What a comparison for an observation in `unit` looks like, for messages. */
export function comparisonExample(unit: ObservationUnit): string {
  switch (unit) {
    case 'ms':
      return '"> 500ms" or "> 1.5s"';
    case 's':
      return '"> 30" or "> 2m"';
    case 'days':
      return '"< 14" or "< 36h"';
    case 'ratio':
      return '"> 0.9" or "> 90%"';
    default:
      return '"> 100"';
  }
}

/** Reads `> 500ms` for an observation in `unit`: the threshold, or what is wrong with the text. */
export function parseComparison(name: string, text: string, unit: ObservationUnit): { threshold: Threshold; problem?: undefined } | { threshold?: undefined; problem: string } {
  const match = COMPARISON.exec(text);
  if (!match) return { problem: `is not a comparison: write an operator (<, <=, >, >=, ==, !=) and a number, e.g. ${comparisonExample(unit)}` };
  const [, op, number, suffix = ''] = match;
  const scale = SUFFIXES[unit][suffix];
  if (scale === undefined) {
    const allowed = Object.keys(SUFFIXES[unit]).filter((s) => s !== '');
    const units = allowed.length ? `in ${unit}, or with one of ${allowed.join(', ')}` : `in ${unit}, without a unit`;
    return { problem: `has unit "${suffix}", which ${name} does not take: write the number ${units}` };
  }
  // Scaled the way people count: 1.5s is 1500 ms exactly, 90% is 0.9.
  const value = Number((Number(number) * scale).toPrecision(12));
  return { threshold: { name, op: op as Comparator, value, text: `${op} ${number}${suffix}` } };
}

function crosses(value: number, { op, value: limit }: Threshold): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
    case '==':
      return value === limit;
    case '!=':
      return value !== limit;
  }
}

/** A value as messages show it: latency to two decimals, others as measured. */
function showValue(value: number, unit: ObservationUnit): string {
  const shown = unit === 'ms' ? String(Math.round(value * 100) / 100) : String(value);
  return unit === 'count' || unit === 'code' ? shown : `${shown} ${unit}`;
}

/**
 * The result as the check's thresholds judge it: its numeric observations listed with their
 * status; a failIf crossed fails a passing attempt (reason threshold), a warnIf crossed makes it
 * warn. A number the kind does not declare fails the attempt: a defect of the kind, said as such.
 */
export function judge(check: CheckConfig, kind: Pick<CheckKind, 'observations'>, result: CheckResult): CheckResult {
  // Held back by dependsOn: no attempt, so nothing was measured.
  if (result.isHeldBack) return result;
  // Latency to the microsecond: what a timer of this resolution means, and a readable gauge.
  const measures: Measure[] = [{ name: LATENCY, value: Math.round(result.durationMs * 1000) / 1000, unit: 'ms', status: 'pass' }];
  const undeclared = collect(result.observation, kind, measures);
  if (undeclared !== undefined) {
    return {
      ok: false,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      reason: 'unknown',
      message: `check type ${check.type} reported observation ${JSON.stringify(undeclared)}, which it does not declare: a defect of the check type`,
      measures: [measures[0]!],
    };
  }
  const kindWarning = result.ok && typeof result.observation?.warning === 'string' ? result.observation.warning : undefined;
  // Most checks set no threshold: nothing to compare at each attempt.
  if (!result.ok || (check.failIf.length === 0 && check.warnIf.length === 0)) {
    return kindWarning === undefined ? { ...result, measures } : { ...result, measures, warning: kindWarning };
  }
  const failures: string[] = [];
  const warnings: string[] = [];
  for (let i = 0; i < measures.length; i++) {
    const measure = measures[i]!;
    const failed = check.failIf.find((t) => t.name === measure.name && crosses(measure.value, t));
    const warned = failed ? undefined : check.warnIf.find((t) => t.name === measure.name && crosses(measure.value, t));
    if (failed) failures.push(`failIf ${measure.name} ${failed.text}: observed ${showValue(measure.value, measure.unit)}`);
    else if (warned) warnings.push(`warnIf ${measure.name} ${warned.text}: observed ${showValue(measure.value, measure.unit)}`);
    if (failed || warned) measures[i] = { ...measure, status: failed ? 'fail' : 'warn' };
  }
  if (failures.length) {
    const { warning: _warning, ...failed } = result;
    return { ...failed, ok: false, reason: 'threshold', message: failures.join('; '), measures };
  }
  const warning = [...(kindWarning === undefined ? [] : [kindWarning]), ...warnings].join('; ');
  return warning === '' ? { ...result, measures } : { ...result, measures, warning };
}

/** Adds the observation's numbers to `measures`; returns the first name the kind does not declare. */
function collect(observation: Observation | undefined, kind: Pick<CheckKind, 'observations'>, measures: Measure[]): string | undefined {
  if (!observation) return undefined;
  const declared = observationsOf(kind);
  for (const name in observation) {
    const value = observation[name];
    if (typeof value !== 'number') continue;
    const unit = declared[name];
    if (unit === undefined || name === LATENCY) return name;
    if (Number.isFinite(value)) measures.push({ name, value, unit, status: 'pass' });
  }
  return undefined;
}
