// Validating one part of the config against its schema: zod's issues become the config's issues, in
// words (`70000 must be at most 65535`) at a key path, and a value that came from ${…} is read as the
// number or boolean the schema wants.
import type { z } from 'zod';
import { NOTHING_INTERPOLATED, type InterpolatedPaths } from './interpolate.js';

/** Reports an issue at path.key; atKey points at the key itself (an unknown key), else at its value. */
export type Fail = (path: readonly (string | number)[], message: string, key?: string, atKey?: boolean) => void;

/** The value as the schema reads it, or undefined when it failed (each problem reported to fail). */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: readonly (string | number)[],
  fail: Fail,
  interpolated: InterpolatedPaths = NOTHING_INTERPOLATED,
): z.output<S> | undefined {
  let result = schema.safeParse(value, { reportInput: true });
  if (!result.success && coerceInterpolated(value, path, result.error.issues, interpolated)) result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const at = [...path, ...(issue.path as (string | number)[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fail(at, 'unknown key', key, true);
    } else {
      const key = at.length > path.length ? String(at.pop()) : undefined;
      fail(at, describeIssue(issue), key);
    }
  }
  return undefined;
}

/** A value as a message shows it: strings quoted, maps and lists by what they are. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a map';
  return String(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return `is required (${issue.expected})`;
      // A schema's own words for a value of the wrong type (a duration written as a bare number).
      if (!issue.message.startsWith('Invalid input')) return `${show(input)} ${issue.message}`;
      return `${show(input)} must be ${article(issue.expected)}`;
    case 'too_small':
      return `${show(input)} must be at least ${issue.minimum}${issue.origin === 'string' ? ' characters long' : ''}`;
    case 'too_big':
      return `${show(input)} must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `${show(input)} must be one of ${issue.values.map((v) => show(v)).join(', ')}`;
    default:
      return `${show(input)} ${issue.message}`;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'a whole number';
  if (expected === 'record' || expected === 'object') return 'a map';
  if (expected === 'array') return 'a list';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

/**
 * Where the schema wants a number or a boolean and got a string from ${…}, reads it as one; only a
 * number written canonically (9898, not 09898 or 1e3), so a message about it shows the exact text,
 * which the redactor recognises. Returns whether anything changed.
 */
function coerceInterpolated(value: unknown, path: readonly (string | number)[], issues: readonly z.core.$ZodIssue[], interpolated: InterpolatedPaths): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code === 'invalid_union') {
      for (const branch of issue.errors) {
        const nested = branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
        changed = coerceInterpolated(value, path, nested, interpolated) || changed;
      }
      continue;
    }
    if (issue.code !== 'invalid_type' || !['number', 'int', 'boolean'].includes(issue.expected)) continue;
    if (issue.path.length === 0 || !interpolated.has([...path, ...(issue.path as (string | number)[])])) continue;
    let parent: unknown = value;
    for (const segment of issue.path.slice(0, -1)) parent = (parent as Record<PropertyKey, unknown> | undefined)?.[segment];
    const leaf = issue.path[issue.path.length - 1]!;
    const text = (parent as Record<PropertyKey, unknown> | undefined)?.[leaf];
    const read = typeof text === 'string' ? readAs(issue.expected, text) : undefined;
    if (read === undefined) continue;
    (parent as Record<PropertyKey, unknown>)[leaf] = read;
    changed = true;
  }
  return changed;
}

function readAs(expected: string, text: string): number | boolean | undefined {
  if (expected === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  return /^-?\d+(\.\d+)?$/.test(text) && String(Number(text)) === text ? Number(text) : undefined;
}
