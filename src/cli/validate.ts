// `vigil validate`: loads the config as serve would and says what it declares; exit 0 when valid,
// 2 with every problem and its place otherwise (thrown as a ConfigError for the entry point).
import { parseArgs } from 'node:util';
import { createRedactor } from '../redact.js';
import { configOptions, configPath, EXIT_OK, logSettings, type Io } from './common.js';
import { loadConfigHere } from './load-config.js';

export async function validate(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: configOptions(), allowPositionals: false });
  const path = configPath(values.config, io.env);
  // The log format is configuration too: a deployment that sets a wrong one fails here, not at start.
  logSettings({}, io.env);
  const config = await loadConfigHere(path, io.env);
  const redact = createRedactor(config.secrets);
  for (const warning of config.warnings) io.stderr(`warning: ${redact(warning)}\n`);
  io.stdout(redact(`${path ?? 'environment'}: valid, ${config.checks.length} check${config.checks.length === 1 ? '' : 's'} (${config.checks.map((c) => `${c.name}: ${c.type}`).join(', ')})\n`));
  return EXIT_OK;
}
