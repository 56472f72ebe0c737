// The conditions of an `expect` block: a comparison (`== "UP"`, `< 30`, `!= null`) of one value an
// answer holds (what a JSON path finds in a body, the first column of a query's first row). Parsed
// at config time, where a problem is reported with its place in the condition; judged per attempt.
import { z } from 'zod';
import { peerText } from './peer-text.js';

/** A value a condition compares with: JSON's scalars. */
export type Scalar = string | number | boolean | null;

/** Longest first: `<=` is read before `<`. */
const OPERATORS = ['==', '!=', '<=', '>=', '<', '>'] as const;
export type Operator = (typeof OPERATORS)[number];
const ORDERING: ReadonlySet<Operator> = new Set(['<', '<=', '>', '>=']);

export interface Comparison {
  readonly operator: Operator;
  readonly operand: Scalar;
}

/** A condition that does not parse; `index` is where in its text (from 0) the problem is. */
export class ConditionSyntaxError extends Error {
  readonly index: number;
  constructor(message: string, index: number) {
    super(message);
    this.index = index;
  }
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_]*/;
const VALUE_WANTED = 'a number, a "string" in double quotes, true, false or null';

/**
 * `OP VALUE`: an operator (==, !=, <, <=, >, >=) and a JSON scalar. An ordering operator takes a
 * number. `offset` is where `text` starts in the whole condition, for the index of an error.
 */
export function parseComparison(text: string, offset = 0): Comparison {
  const start = text.length - text.trimStart().length;
  const operator = OPERATORS.find((op) => text.startsWith(op, start));
  if (!operator) throw new ConditionSyntaxError(`expected an operator (${OPERATORS.join(', ')})`, offset + start);
  let at = start + operator.length;
  while (text[at] === ' ' || text[at] === '\t') at++;
  const { value, end } = readScalar(text, at, offset);
  const rest = text.slice(end);
  if (rest.trim() !== '') throw new ConditionSyntaxError(`unexpected ${JSON.stringify(peerText(rest.trim(), 20))} after the value`, offset + end + (rest.length - rest.trimStart().length));
  if (ORDERING.has(operator) && typeof value !== 'number') {
    throw new ConditionSyntaxError(`${operator} compares numbers: ${JSON.stringify(value)} is not a number`, offset + at);
  }
  return { operator, operand: value };
}

/**
 * `PATH OP VALUE`, split at the first operator outside quotes, brackets and parentheses (a filter
 * in the path may hold its own comparisons). The path is returned as written, for its own parser.
 */
export function splitCondition(text: string): { path: string; pathIndex: number; comparison: Comparison } {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quote) {
      if (char === '\\') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '[' || char === '(') depth++;
    else if (char === ']' || char === ')') depth--;
    else if (depth === 0 && OPERATORS.some((op) => text.startsWith(op, i))) {
      const path = text.slice(0, i);
      const pathIndex = path.length - path.trimStart().length;
      if (path.trim() === '') throw new ConditionSyntaxError('expected a path before the operator, such as $.status', i);
      return { path: path.trim(), pathIndex, comparison: parseComparison(text.slice(i), i) };
    }
  }
  throw new ConditionSyntaxError(`expected a comparison after the path: an operator (${OPERATORS.join(', ')}) and a value, such as $.status == "UP"`, text.length);
}

function readScalar(text: string, at: number, offset: number): { value: Scalar; end: number } {
  const rest = text.slice(at);
  if (rest.startsWith('"')) {
    for (let i = 1; i < rest.length; i++) {
      if (rest[i] === '\\') i++;
      else if (rest[i] === '"') {
        try {
          return { value: JSON.parse(rest.slice(0, i + 1)) as string, end: at + i + 1 };
        } catch {
          throw new ConditionSyntaxError('has an invalid escape in its string (JSON escapes: \\" \\\\ \\n \\uXXXX …)', offset + at);
        }
      }
    }
    throw new ConditionSyntaxError('has a string with no closing double quote', offset + at);
  }
  const number = NUMBER.exec(rest);
  if (number && !WORD.test(rest.slice(number[0].length))) {
    const problem = numberProblem(number[0]);
    if (problem) throw new ConditionSyntaxError(problem, offset + at);
    return { value: Number(number[0]), end: at + number[0].length };
  }
  const word = WORD.exec(rest)?.[0];
  if (word === 'true' || word === 'false') return { value: word === 'true', end: at + word.length };
  if (word === 'null') return { value: null, end: at + word.length };
  if (rest.startsWith("'")) throw new ConditionSyntaxError(`expected ${VALUE_WANTED}: strings take double quotes`, offset + at);
  throw new ConditionSyntaxError(`expected ${VALUE_WANTED}${rest === '' ? '' : `, not ${JSON.stringify(peerText(rest, 20))}`}`, offset + at);
}

/**
 * Why a number written in a condition cannot be compared as written: beyond a double's range (1e400
 * would be Infinity), or an integer beyond 2^53 (written without a fraction or an exponent), which a
 * double holds only approximately (9007199254740993 would compare equal to 9007199254740992).
 */
function numberProblem(text: string): string | undefined {
  const value = Number(text);
  if (!Number.isFinite(value)) return `${peerText(text, 20)} is beyond the range of numbers a condition compares (about ±1.8e308)`;
  if (/^-?\d+$/.test(text) && !Number.isSafeInteger(value)) {
    return `${peerText(text, 30)} is an integer beyond 2^53 (9007199254740991), which cannot be compared exactly: compare it in the query, or as text`;
  }
  return undefined;
}

/** The comparison as the config writes it: `== "UP"`. */
export function showComparison({ operator, operand }: Comparison): string {
  return `${operator} ${JSON.stringify(operand)}`;
}

/** Most characters of a value seen that a message quotes. */
const MAX_SHOWN_CHARS = 120;

/** A value seen in an answer, as a message quotes it: JSON, cut short, control characters replaced. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A value nested deeper than the stack (a body the depth bound did not screen): say what it is.
    text = `(${describeType(value)} nested too deeply to quote)`;
  }
  return peerText(text, MAX_SHOWN_CHARS);
}

/**
 * Whether `value` satisfies the comparison: undefined when it does, else why not, in words that
 * name the value seen. `==` and `!=` compare type and value (1 is not "1"); an ordering operator
 * needs a number.
 */
export function judge(value: unknown, comparison: Comparison): string | undefined {
  if (holds(value, comparison)) return undefined;
  if (value === undefined) return 'is nothing';
  const { operator, operand } = comparison;
  if (ORDERING.has(operator)) return typeof value === 'number' ? `is ${showValue(value)}` : `is ${showValue(value)}, ${describeType(value)}, not a number`;
  return `is ${showValue(value)}${operator === '==' && typeof value !== typeof operand ? ` (${describeType(value)})` : ''}`;
}

/**
 * Whether `value` satisfies the comparison (judge says why not). Self-contained, referring to
 * nothing outside itself: its source also runs in the worker that judges JSON bodies.
 */
export function holds(value: unknown, comparison: Comparison): boolean {
  const operator = comparison.operator;
  const operand = comparison.operand as number;
  if (operator === '==') return value === operand;
  if (operator === '!=') return value !== operand;
  if (typeof value !== 'number') return false;
  if (operator === '<') return value < operand;
  if (operator === '<=') return value <= operand;
  if (operator === '>') return value > operand;
  return value >= operand;
}

function describeType(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return typeof value === 'string' ? 'a string' : typeof value === 'boolean' ? 'a boolean' : `a ${typeof value}`;
}

/**
 * The condition a YAML value states for a single value (a query's first column): `true`, `false`,
 * a number (each meaning ==) or a comparison written out (`"< 30"`, `'== "primary"'`).
 */
export function comparisonOf(expected: string | number | boolean): Comparison {
  return typeof expected === 'string' ? parseComparison(expected) : { operator: '==', operand: expected };
}

/** Why a YAML value is no comparison, for a config issue; undefined when it is one. */
export function comparisonProblem(expected: string | number | boolean): string | undefined {
  if (typeof expected === 'number') {
    // YAML has read the number: its text is gone, an integer beyond 2^53 is already rounded.
    if (!Number.isFinite(expected)) return 'is beyond the range of numbers a condition compares (about ±1.8e308)';
    if (Number.isInteger(expected) && !Number.isSafeInteger(expected)) return 'is an integer beyond 2^53 (9007199254740991), which cannot be compared exactly: compare it in the query, or as text';
    return undefined;
  }
  if (typeof expected !== 'string') return undefined;
  try {
    parseComparison(expected);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConditionSyntaxError)) throw error;
    return `is not a comparison: at character ${error.index + 1}, ${error.message} (e.g. true, 42, "< 30", '== "primary"')`;
  }
}

/**
 * The `expect` key of a query check (postgres, mysql): what the first column of the first row must
 * be, checked by the comparison grammar when the config is read. `describe` says it for the type.
 */
export function queryExpectOption(describe: string) {
  return z
    .union([z.boolean(), z.number(), z.string()])
    .superRefine((expected, ctx) => {
      const problem = comparisonProblem(expected);
      if (problem) ctx.addIssue({ code: 'custom', input: expected, message: problem });
    })
    .optional()
    .describe(describe);
}

