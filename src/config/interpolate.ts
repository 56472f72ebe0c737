// ${VAR} interpolation of config values: ${VAR}, ${VAR:-default}, VAR_FILE (the container-secrets
// convention) and $${ for a literal "${". Every value taken from the environment or a file is a
// secret, so the caller can scrub it from everything the agent prints.

export interface InterpolationSource {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads a secret file named by VAR_FILE; throws when it cannot. */
  readonly readFile: (path: string) => string;
}

export interface Interpolated {
  readonly value: string;
  /** Values taken from the environment or a file. */
  readonly secrets: readonly string[];
  /** Problems, one sentence each (the caller adds where). */
  readonly errors: readonly string[];
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}?/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function interpolate(text: string, source: InterpolationSource): Interpolated {
  const secrets: string[] = [];
  const errors: string[] = [];
  const value = text.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    if (!match.endsWith('}')) {
      errors.push(`unterminated reference "${match}" (write $\${ for a literal \${)`);
      return match;
    }
    const sep = body!.indexOf(':-');
    const name = sep === -1 ? body! : body!.slice(0, sep);
    const fallback = sep === -1 ? undefined : body!.slice(sep + 2);
    if (!NAME.test(name)) {
      errors.push(`"\${${body}}" is not a variable reference (names are letters, digits and _)`);
      return match;
    }
    const { resolved, error } = lookup(name, source);
    if (error) {
      errors.push(error);
      return '';
    }
    // As in a shell, ":-" also replaces an empty value.
    if (resolved !== undefined && !(fallback !== undefined && resolved === '')) {
      if (resolved !== '') secrets.push(resolved);
      return resolved;
    }
    if (fallback !== undefined) return fallback;
    errors.push(`environment variable ${name} is not set (nor ${name}_FILE); set it or write \${${name}:-default}`);
    return '';
  });
  return { value, secrets, errors };
}

function lookup(name: string, source: InterpolationSource): { resolved?: string; error?: string } {
  // Own properties only: ${constructor} or ${__proto__} is a variable that is not set, not Object's.
  const direct = Object.hasOwn(source.env, name) ? source.env[name] : undefined;
  if (direct !== undefined) return { resolved: direct };
  const file = Object.hasOwn(source.env, `${name}_FILE`) ? source.env[`${name}_FILE`] : undefined;
  if (file === undefined || file === '') return {};
  try {
    return { resolved: source.readFile(file).replace(/\r?\n$/, '') };
  } catch (error) {
    const why = (error as { code?: string }).code ?? (error as Error).message;
    return { error: `cannot read ${name}_FILE (${file}): ${why}` };
  }
}
