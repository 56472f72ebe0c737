// The environment as a source of configuration: Kubernetes' service links are never read as config,
// and a bad override is reported against its variable.
import { describe, expect, it } from 'vitest';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';

/** What Kubernetes injects into every pod of the namespace for a Service (enableServiceLinks). */
function serviceLinks(service: string, ip: string, port: number): Record<string, string> {
  const name = service.toUpperCase().replaceAll('-', '_');
  return {
    [`${name}_SERVICE_HOST`]: ip,
    [`${name}_SERVICE_PORT`]: String(port),
    [`${name}_SERVICE_PORT_HTTP`]: String(port),
    [`${name}_PORT`]: `tcp://${ip}:${port}`,
    [`${name}_PORT_${port}_TCP`]: `tcp://${ip}:${port}`,
    [`${name}_PORT_${port}_TCP_PROTO`]: 'tcp',
    [`${name}_PORT_${port}_TCP_PORT`]: String(port),
    [`${name}_PORT_${port}_TCP_ADDR`]: ip,
  };
}

function issuesOf(text: string | undefined, env: Record<string, string>): readonly ConfigIssue[] {
  try {
    parseConfig(text, { kinds, env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected the config to be rejected');
}

describe('Kubernetes service links', () => {
  it('Kubernetes service links: VIGIL_PORT=tcp://10.96.0.12:9898 (a Service named vigil) is ignored with a one-line warning', () => {
    const config = parseConfig('server: { port: 8080 }\nchecks: {}\n', { kinds, env: serviceLinks('vigil', '10.96.0.12', 9898) });
    expect(config.server.port).toBe(8080);
    const warning = config.warnings.find((w) => w.includes('VIGIL_PORT'));
    expect(warning).toContain('VIGIL_PORT=tcp://10.96.0.12:9898 ignored');
    expect(warning).toContain('Kubernetes service link');
    expect(warning).not.toContain('\n');
    expect(parseConfig('checks: {}\n', { kinds, env: serviceLinks('vigil', '10.96.0.12', 9898) }).server.port).toBe(9898);
  });

  it('Kubernetes service links: a plain number in VIGIL_PORT still overrides, anything else names the variable', () => {
    expect(parseConfig('checks: {}\n', { kinds, env: { VIGIL_PORT: '7000' } }).server.port).toBe(7000);
    expect(issuesOf('checks: {}\n', { VIGIL_PORT: 'http' })).toEqual([{ path: 'VIGIL_PORT', message: '"http" must be a number' }]);
  });

  it('Kubernetes service links: the variables of Services named vigil-check or vigil-check-db are not checks', () => {
    const env = { ...serviceLinks('vigil-check', '10.96.0.13', 80), ...serviceLinks('vigil-check-db', '10.96.0.14', 5432), VIGIL_CHECK_CACHE: 'redis://cache:6379' };
    const config = parseConfig(undefined, { kinds, env });
    expect(config.checks.map((c) => c.name)).toEqual(['cache']);
    expect(config.warnings.filter((w) => w.includes('Kubernetes service links'))).toEqual([
      expect.stringMatching(/^VIGIL_CHECK_DB_PORT, .*VIGIL_CHECK_DB_SERVICE_PORT_HTTP ignored: Kubernetes service links of the Service "vigil-check-db", not checks$/),
      expect.stringMatching(/^VIGIL_CHECK_PORT, .*VIGIL_CHECK_SERVICE_PORT_HTTP ignored: Kubernetes service links of the Service "vigil-check", not checks$/),
    ]);
    // Without its Service's _SERVICE_HOST, a name that merely ends in _PORT is a check like any other.
    expect(parseConfig(undefined, { kinds, env: { VIGIL_CHECK_DB_PORT: 'tcp://db:5432' } }).checks.map((c) => c.name)).toEqual(['db_port']);
  });
});

describe('environment overrides are reported as coming from the environment', () => {
  it('environment overrides: VIGIL_LOG_LEVEL=trace is reported as VIGIL_LOG_LEVEL, not as a place in the file', () => {
    expect(issuesOf('checks: {}\n', { VIGIL_LOG_LEVEL: 'trace' })).toEqual([
      { path: 'VIGIL_LOG_LEVEL', message: '"trace" must be one of "debug", "info", "warn", "error"' },
    ]);
    expect(issuesOf('checks: {}\n', { VIGIL_HOST: '', VIGIL_PORT: '70000' })).toEqual([{ path: 'VIGIL_PORT', message: '70000 must be at most 65535' }]);
  });

  it('environment overrides: --port 0 and VIGIL_PORT=0 behave the same (an ephemeral port)', () => {
    expect(parseConfig('checks: {}\n', { kinds, env: { VIGIL_PORT: '0' } }).server.port).toBe(0);
    expect(parseConfig('server: { port: 0 }\nchecks: {}\n', { kinds }).server.port).toBe(0);
  });
});
