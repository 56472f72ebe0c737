// Conditions on a JSON document: `PATH OP VALUE`, the path in RFC 9535 JSONPath (the
// jsonpath-rfc9535 library: a strict parser, no script evaluation) and the comparison ours
// (condition.ts). Every value the path finds must satisfy the comparison; a path that finds nothing
// fails the condition.
import { createRequire } from 'node:module';
import { ConditionSyntaxError, holds, judge, showComparison, splitCondition, type Comparison } from './condition.js';

export interface JsonCondition {
  readonly text: string;
  readonly path: string;
  readonly comparison: Comparison;
}

// Loaded on first use, synchronously (config validation is synchronous): an agent without json
// conditions never pays for the library (~14 ms of start-up, 0.4 MiB of heap, measured).
const require = createRequire(import.meta.url);
const library = () => require('jsonpath-rfc9535') as typeof import('jsonpath-rfc9535');
const parsePath = (path: string): unknown => (require('jsonpath-rfc9535/parser') as { default: (input: string) => unknown }).default(path);

/** RFC 9535's functions that run a regular expression: on the event loop, unbounded, so refused. */
const REGEX_FUNCTIONS = new Set(['match', 'search']);

/** Parses a condition; throws a ConditionSyntaxError saying where (an index into `text`) and what. */
export function parseJsonCondition(text: string): JsonCondition {
  let split: ReturnType<typeof splitCondition>;
  try {
    split = splitCondition(text);
  } catch (error) {
    // No operator outside brackets (the error is at the end): a bracket left open in the path, or a
    // single =, says more than a missing operator.
    if (error instanceof ConditionSyntaxError && error.index === text.length) readPath(text.trimEnd(), 0);
    throw error;
  }
  const { path, pathIndex, comparison } = split;
  const ast = readPath(path, pathIndex);
  const regexFunction = findFunction(ast, REGEX_FUNCTIONS);
  if (regexFunction) {
    throw new ConditionSyntaxError(`the path calls ${regexFunction}(), which vigil does not run (a regular expression in a path has no time bound): use expect.bodyMatches`, pathIndex + path.indexOf(regexFunction));
  }
  return { text, path, comparison };
}

/** The path's syntax tree, or a ConditionSyntaxError at the place (`index` + its offset) it fails. */
function readPath(path: string, index: number): unknown {
  try {
    return parsePath(path);
  } catch (error) {
    // peggy's syntax error: where, and what was found there (null: the end).
    const { location, found } = error as { location?: { start?: { offset?: number } }; found?: string | null };
    const said =
      found === undefined ? (error as Error).message : found === null ? 'it ends too early' : found === '=' ? '"=" is not an operator: compare with ==' : `${JSON.stringify(found)} is not expected there`;
    throw new ConditionSyntaxError(`the path is not JSONPath (RFC 9535): ${said}`, index + (location?.start?.offset ?? 0));
  }
}

/** Why a condition's text does not parse, for a config issue; undefined when it does. */
export function jsonConditionProblem(text: string): string | undefined {
  try {
    parseJsonCondition(text);
    return undefined;
  } catch (error) {
    if (!(error instanceof ConditionSyntaxError)) throw error;
    return `is not a condition: at character ${error.index + 1}, ${error.message}`;
  }
}

/**
 * Most levels of arrays and objects in a body that expect.json judges. JSONPath's descendant
 * segment (`$..status`) costs the nodes times the depth on the event loop (a 32 KiB body nested
 * 16000 deep stalled the agent for seconds), and quoting a value recurses once per level; real
 * health documents nest a handful of levels. A deeper body fails the condition without being parsed.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * How deeply `text` nests arrays and objects, counted without parsing it (one linear pass, strings
 * skipped), stopping as soon as it exceeds `limit`: a body deeper than any condition judges costs
 * no more than reading it.
 */
export function jsonDepthExceeds(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++; // backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) depth--;
  }
  return false;
}

/** Why the document fails the condition (naming the value seen and where), or undefined when it holds. */
export function failedJsonCondition(document: unknown, condition: JsonCondition): string | undefined {
  let found = 0;
  let failed: { value: unknown; path: (string | number)[] } | undefined;
  const { exec } = library();
  exec(document as Parameters<typeof exec>[0], condition.path, (value, path) => {
    found++;
    if (failed === undefined && !holds(value, condition.comparison)) failed = { value, path };
  });
  return describeFinding({ found, failed }, condition);
}

/** Why a condition fails, from what its path found (the first failing value and where), or undefined when it holds. */
export function describeFinding({ found, failed }: { found: number; failed?: { value: unknown; path: readonly (string | number)[] } }, condition: JsonCondition): string | undefined {
  if (found === 0) return 'the path found nothing';
  if (failed === undefined) return undefined;
  return `${showPath(failed.path)} ${judge(failed.value, condition.comparison) ?? 'fails'}`;
}

export function showJsonCondition({ path, comparison }: JsonCondition): string {
  return `${path} ${showComparison(comparison)}`;
}

/** A normalized path as people write it: $.checks[1].status, $['a b']. */
function showPath(path: readonly (string | number)[]): string {
  return `$${path.map((part) => (typeof part === 'number' ? `[${part}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`)).join('')}`;
}

function findFunction(node: unknown, names: ReadonlySet<string>): string | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = findFunction(item, names);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const { type, name } = node as { type?: unknown; name?: unknown };
  if (type === 'FunctionExpr' && typeof name === 'string' && names.has(name)) return name;
  for (const value of Object.values(node)) {
    const found = findFunction(value, names);
    if (found) return found;
  }
  return undefined;
}
