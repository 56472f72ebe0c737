// ${VAR} interpolation of config values: ${VAR}, ${VAR:-default}, VAR_FILE (the container-secrets
// convention), ${secret:VAR} and $${ for a literal "${". Values that are secrets (see
// config/secrets.ts) are returned apart, so the caller can scrub them from everything the agent prints.
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
