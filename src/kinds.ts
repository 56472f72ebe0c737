// The registry of check types as the core accepts it (the checks/ registry plus the built-in kinds): every type's name and URL schemes unique, and
// no type's options shadowing a key every check has (a `timeout` of its own would never reach it).
// Checked wherever kinds enter the core (the runner, config parsing, the schema), at start-up.
import { LATENCY, OBSERVATION_UNITS, type CheckKind } from './check.js';
import { commonCheckShape } from './config/schema.js';
import { heartbeat } from './heartbeat.js';

/** Check types the core brings itself, beside the checks/ registry: those it feeds rather than polls. */
export const BUILTIN_KINDS: readonly CheckKind[] = [heartbeat];

const withBuiltinsOf = new WeakMap<readonly CheckKind[], readonly CheckKind[]>();

/** The registry's kinds followed by the built-in ones; the same array for the same registry. */
export function withBuiltins(kinds: readonly CheckKind[]): readonly CheckKind[] {
  let all = withBuiltinsOf.get(kinds);
  if (!all) withBuiltinsOf.set(kinds, (all = [...kinds, ...BUILTIN_KINDS]));
  return all;
}

/** Keys of every check's block, whatever its type: the core's own. */
export const COMMON_KEYS: readonly string[] = ['type', ...Object.keys(commonCheckShape)];

export class KindRegistryError extends Error {
  override readonly name = 'KindRegistryError';
}

/** An observation's name: a label value and a key of warnIf/failIf, kept to an identifier. */
const OBSERVATION_NAME = /^[a-z][A-Za-z0-9]*$/;

const accepted = new WeakSet<readonly CheckKind[]>();

/** Returns `kinds` when they make a registry the core can run; throws naming every problem otherwise. */
export function checkKinds(kinds: readonly CheckKind[]): readonly CheckKind[] {
  if (accepted.has(kinds)) return kinds;
  const problems: string[] = [];
  const types = new Set<string>();
  const schemes = new Map<string, string>();
  for (const kind of kinds) {
    if (types.has(kind.type)) problems.push(`check type "${kind.type}" is registered twice`);
    types.add(kind.type);
    const shadowing = Object.keys(kind.options.shape).filter((key) => COMMON_KEYS.includes(key));
    if (shadowing.length) problems.push(`check type "${kind.type}" declares ${shadowing.map((k) => `"${k}"`).join(', ')}, which every check has: the core owns ${shadowing.length === 1 ? 'it' : 'them'}`);
    for (const [name, unit] of Object.entries(kind.observations ?? {})) {
      if (!OBSERVATION_NAME.test(name)) problems.push(`check type "${kind.type}" declares observation "${name}": a name is a letter, then letters and digits`);
      if (!(OBSERVATION_UNITS as readonly string[]).includes(unit)) problems.push(`check type "${kind.type}" declares observation "${name}" in "${unit}", not a unit (${OBSERVATION_UNITS.join(', ')})`);
    }
    if (kind.observations && kind.observations[LATENCY] !== 'ms') problems.push(`check type "${kind.type}" declares observation "${LATENCY}", which every check has: the core measures it`);
    for (const scheme of kind.schemes) {
      const owner = schemes.get(scheme);
      if (owner !== undefined && owner !== kind.type) problems.push(`URL scheme ${scheme}:// is claimed by check types "${owner}" and "${kind.type}"`);
      schemes.set(scheme, kind.type);
    }
  }
  if (problems.length) throw new KindRegistryError(`the check types cannot be registered:\n  - ${problems.join('\n  - ')}`);
  accepted.add(kinds);
  return kinds;
}
