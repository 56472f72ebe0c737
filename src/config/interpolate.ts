// ${VAR} interpolation of config values: ${VAR}, ${VAR:-default}, VAR_FILE (the container-secrets
// convention), ${secret:VAR} and $${ for a literal "${", in one string or in every value of a document.
// Values that are secrets (see config/secrets.ts) are returned apart, to be scrubbed from all output.
import { isPair, isScalar, isSeq, visit, type Document, type Node } from 'yaml';
import { isSecretName } from './secrets.js';

export interface InterpolationSource {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a secret file named by VAR_FILE; throws when it cannot. */
  readonly readFile: (path: string) => string;
}

export interface Interpolated {
  readonly value: string;
  /** Values that are secrets: read from a VAR_FILE, of a variable whose name says so, or marked ${secret:VAR}. */
  readonly secrets: readonly string[];
  /** Problems, one sentence each (the caller adds where). */
  readonly errors: readonly string[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** ${secret:VAR} marks a value as a secret whatever its name. */
const SECRET_MARK = 'secret:';

export function interpolate(text: string, source: InterpolationSource): Interpolated {
  const secrets: string[] = [];
  const errors: string[] = [];
  const value = text.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    if (!match.endsWith('}')) {
      errors.push(`unterminated reference "${match}" (write $\${ for a literal \${)`);
      return match;
    }
    const isMarked = body!.startsWith(SECRET_MARK);
    const reference = isMarked ? body!.slice(SECRET_MARK.length) : body!;
    const sep = reference.indexOf(':-');
    const name = sep === -1 ? reference : reference.slice(0, sep);
    const fallback = sep === -1 ? undefined : reference.slice(sep + 2);
    if (!NAME.test(name)) {
      errors.push(`"\${${body}}" is not a variable reference (names are letters, digits and _)`);
      return match;
    }
    const { resolved, fromFile, error } = lookup(name, source);
    if (error) {
      errors.push(error);
      return '';
    }
    // As in a shell, ":-" also replaces an empty value.
    const isSet = resolved !== undefined && !(fallback !== undefined && resolved === '');
    if (!isSet && fallback === undefined) {
      errors.push(`environment variable ${name} is not set (nor ${name}_FILE); set it or write \${${name}:-default}`);
      return '';
    }
    const result = isSet ? resolved! : fallback!;
    if (result !== '' && (isMarked || (isSet && fromFile) || isSecretName(name))) secrets.push(result);
    return result;
  });
  return { value, secrets, errors };
}

function lookup(name: string, source: InterpolationSource): { resolved?: string; fromFile?: boolean; error?: string } {
  // Own properties only: ${constructor} or ${__proto__} is a variable that is not set, not Object's.
  const direct = Object.hasOwn(source.env, name) ? source.env[name] : undefined;
  if (direct !== undefined) return { resolved: direct };
  const file = Object.hasOwn(source.env, `${name}_FILE`) ? source.env[`${name}_FILE`] : undefined;
  if (file === undefined || file === '') return {};
  try {
    return { resolved: source.readFile(file).replace(/\r?\n$/, ''), fromFile: true };
  } catch (error) {
    const why = (error as { code?: string }).code ?? (error as Error).message;
    return { error: `cannot read ${name}_FILE (${file}): ${why}` };
  }
}

/** The key paths whose values came from ${…}: only these may be read as numbers or booleans. */
export interface InterpolatedPaths {
  has(path: readonly (string | number)[]): boolean;
}

export const NOTHING_INTERPOLATED: InterpolatedPaths = Object.freeze({ has: () => false });

export interface InterpolatedDocument {
  readonly secrets: readonly string[];
  readonly paths: InterpolatedPaths;
}

/** Interpolates every value (never a key) of the document in place; a problem is reported at its node. */
export function interpolateDocument(doc: Document, source: InterpolationSource, report: (node: Node, message: string) => void): InterpolatedDocument {
  const secrets: string[] = [];
  const paths = new Set<string>();
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const result = interpolate(node.value, source);
      for (const message of result.errors) report(node, message);
      secrets.push(...result.secrets);
      // The exact string, never retyped here: validation reads it as a number or boolean only where
      // the schema wants one (`port: ${PORT}`), so a numeric API key stays the string it is.
      if (result.value !== node.value) paths.add(pathKey(keyPath([...ancestors, node])));
      node.value = result.value;
    },
  });
  return { secrets, paths: { has: (path) => paths.has(pathKey(path)) } };
}

/** The key path of the last node of a chain of YAML nodes, as validation issues name it. */
function keyPath(chain: readonly unknown[]): string[] {
  const keys: string[] = [];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    if (isPair(parent) && parent.value === chain[i]) keys.push(String(isScalar(parent.key) ? parent.key.value : parent.key));
    else if (isSeq(parent)) keys.push(String(parent.items.indexOf(chain[i])));
  }
  return keys;
}

function pathKey(path: readonly (string | number)[]): string {
  return path.map(String).join('\0');
}
