// The CLI's wiring to the registry of check types: the one module in src/ that names checks/. It
// loads the registry on demand, so a command that needs no kind (probe, --version) loads none.
import type { CheckKind } from '../check.js';
import { checkKinds, withBuiltins } from '../kinds.js';

/** The registry's module, for a worker thread that loads the config on its own. */
export const KINDS_MODULE = new URL('../../checks/index.js', import.meta.url).href;

/** The registered kinds and the built-in ones, refused at start-up if they do not make a registry (see src/kinds.ts). */
export async function loadKinds(): Promise<readonly CheckKind[]> {
  return checkKinds(withBuiltins((await import('../../checks/index.js')).kinds));
}
