// The defaults table is the one place a default is written: resolution, config.schema.json's
// descriptions, docs/configuration.md and config.example.yaml all say what it says.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { CONFIG_DEFAULTS, shownDefault, type Default } from '../../../src/config/defaults.js';
import { parseDuration } from '../../../src/config/duration.js';
import { parseConfig } from '../../../src/config/parse.js';
import { commonCheckShape, configJsonSchema, defaultsSchema, serverSchema } from '../../../src/config/schema.js';

const SECTIONS = ['server', 'defaults', 'check'] as const;
type Section = (typeof SECTIONS)[number];

/** The keys a section of the file has, as the schema knows them. */
const schemaKeys: Record<Section, string[]> = {
  server: Object.keys(serverSchema.shape),
  defaults: Object.keys(defaultsSchema.shape),
  check: ['type', ...Object.keys(commonCheckShape)],
};

function tableOf(section: Section): Record<string, Default<unknown>> {
  return CONFIG_DEFAULTS[section];
}

/** A check key inherits the defaults section's key of the same name. */
const isInherited = (section: Section, key: string) => section === 'check' && Object.hasOwn(CONFIG_DEFAULTS.defaults, key);

/** Rows of the first table under a `## heading` of docs/configuration.md: key -> default column. */
function docsDefaults(heading: string): Map<string, string> {
  const lines = readFileSync('docs/configuration.md', 'utf8').split('\n');
  const start = lines.indexOf(`## ${heading}`);
  expect(start, `docs/configuration.md has a "## ${heading}" section`).toBeGreaterThan(-1);
  const first = lines.findIndex((line, i) => i > start && line.startsWith('|'));
  const rows = new Map<string, string>();
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    // Cells are separated by | not escaped as \|.
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    rows.set(cells[1]!.replace(/^`|`$/g, ''), cells[3]!);
  }
  return rows;
}

/** How the docs write a default: a value in backticks, a rule in words, an inherited key by its path. */
function docsForm(section: Section, key: string): string {
  if (isInherited(section, key)) return `\`defaults.${key}\``;
  const entry = tableOf(section)[key];
  if (!entry) return key === 'type' ? 'required' : 'none';
  if (entry.shown !== undefined) return entry.shown;
  return `\`${Array.isArray(entry.value) ? `[${entry.value.join(', ')}]` : String(entry.value)}\``;
}

describe('defaults table', () => {
  it('defaults table: every defaulted key of the schema is in it, and nothing else', () => {
    for (const section of SECTIONS) {
      const defaulted = schemaKeys[section].filter((key) => key !== 'type' && key !== 'detailsTokenFile' && key !== 'heartbeatTokenFile' && !isInherited(section, key));
      expect(Object.keys(tableOf(section)).sort(), section).toEqual(defaulted.sort());
    }
  });

  it.each(['server', 'defaults', 'checks'])('defaults table: docs/configuration.md "## %s" gives every key the default of the table', (heading) => {
    const section: Section = heading === 'checks' ? 'check' : (heading as Section);
    const rows = docsDefaults(heading);
    expect([...rows.keys()].sort()).toEqual([...schemaKeys[section]].sort());
    for (const key of schemaKeys[section]) expect(`${key}: ${rows.get(key)}`).toBe(`${key}: ${docsForm(section, key)}`);
  });

  it('defaults table: config.schema.json describes each key with the default of the table', () => {
    const schema = configJsonSchema(kinds) as { properties: Record<string, { properties: Record<string, { description?: string }> }> };
    const described = (section: 'server' | 'defaults', key: string) => schema.properties[section]!.properties[key]!.description;
    for (const section of ['server', 'defaults'] as const) {
      for (const [key, entry] of Object.entries(tableOf(section))) {
        expect(described(section, key)).toContain(`${entry.description} Default ${shownDefault(entry)}`);
      }
    }
    expect(described('server', 'host')).toBe('Listen address. Default :: (IPv6 and IPv4; 0.0.0.0 where IPv6 is off).');
    expect(described('server', 'description')).toBe('description of health bodies. Default "health of the application dependencies, as seen by vigil".');
    for (const [key, shape] of Object.entries(commonCheckShape)) {
      const expected = isInherited('check', key) ? `Default defaults.${key}.` : `Default ${shownDefault(tableOf('check')[key]!)}.`;
      expect(shape.description, key).toMatch(new RegExp(`${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    }
  });

  it('defaults table: parseConfig fills in every default from it', () => {
    const config = parseConfig('checks:\n  a: { type: tcp, host: h, port: 1 }\n', { kinds });
    const { server, defaults, check } = CONFIG_DEFAULTS;
    expect(config.server).toEqual({
      host: server.host.value,
      port: server.port.value,
      maxConnections: server.maxConnections.value,
      drainDelayMs: parseDuration(server.drainDelay.value, { allowZero: true }),
      drainMode: server.drainMode.value,
      exposeDetails: server.exposeDetails.value,
      trustLoopback: server.trustLoopback.value,
      serviceId: server.serviceId.value(),
      description: server.description.value,
      logLevel: server.logLevel.value,
    });
    const intervalMs = parseDuration(defaults.interval.value)!;
    expect(config.defaults).toEqual({
      intervalMs,
      timeoutMs: parseDuration(defaults.timeout.value),
      failureThreshold: defaults.failureThreshold.value,
      successThreshold: defaults.successThreshold.value,
      connection: defaults.connection.value,
      reconnectEvery: defaults.reconnectEvery.value,
    });
    expect(config.checks[0]).toMatchObject({
      intervalMs,
      timeoutMs: config.defaults.timeoutMs,
      staleAfterMs: intervalMs * check.staleAfter.value,
      critical: check.critical.value,
      groups: check.groups.value,
      failureThreshold: config.defaults.failureThreshold,
      successThreshold: config.defaults.successThreshold,
      connection: config.defaults.connection,
      reconnectEvery: config.defaults.reconnectEvery,
    });
  });

  it('defaults table: config.example.yaml shows the defaults it sets in server and defaults', () => {
    const example = parseYaml(readFileSync('config.example.yaml', 'utf8')) as Record<'server' | 'defaults', Record<string, unknown>>;
    for (const section of ['server', 'defaults'] as const) {
      for (const [key, value] of Object.entries(example[section])) expect(`${section}.${key}: ${String(value)}`).toBe(`${section}.${key}: ${String(tableOf(section)[key]!.value)}`);
    }
  });

  it('defaults table: is frozen, so no caller can change a default for the next', () => {
    expect(Object.isFrozen(CONFIG_DEFAULTS) && Object.isFrozen(CONFIG_DEFAULTS.check.groups) && Object.isFrozen(CONFIG_DEFAULTS.check.groups.value)).toBe(true);
    expect(SECTIONS.every((section) => Object.isFrozen(CONFIG_DEFAULTS[section]))).toBe(true);
  });
});
