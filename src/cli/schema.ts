// `vigil schema`: the JSON Schema of the config file, with every registered kind's options (the
// source of config.schema.json, which `npm run schema` regenerates).
import { EXIT_OK, type Io } from './common.js';
import { loadKinds } from './kinds.js';

export async function schema(_argv: readonly string[], io: Io): Promise<number> {
  const [kinds, { configJsonSchema }] = await Promise.all([loadKinds(), import('../config/schema.js')]);
  io.stdout(`${JSON.stringify(configJsonSchema(kinds), null, 2)}\n`);
  return EXIT_OK;
}
