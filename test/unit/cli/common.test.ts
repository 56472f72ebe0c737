// The log settings every logging command reads before its config: flags outrank the environment,
// and a value vigil does not know is an error, never silently the default.
import { describe, expect, it } from 'vitest';
import { logSettings, UsageError } from '../../../src/cli/common.js';
import { ConfigError } from '../../../src/errors.js';

describe('log settings: --log-level and --log-format outrank VIGIL_LOG_LEVEL and VIGIL_LOG_FORMAT', () => {
  it('log settings: json at info without flags or environment', () => {
    expect(logSettings({}, {})).toEqual({ format: 'json', level: 'info' });
  });

  it('log settings: the environment (any case) applies, the flags outrank it and the flag level is kept to outrank the file', () => {
    expect(logSettings({}, { VIGIL_LOG_FORMAT: 'PRETTY', VIGIL_LOG_LEVEL: 'Debug' })).toEqual({ format: 'pretty', level: 'debug' });
    expect(logSettings({ 'log-format': 'json', 'log-level': 'error' }, { VIGIL_LOG_FORMAT: 'pretty', VIGIL_LOG_LEVEL: 'debug' })).toEqual({ format: 'json', level: 'error', flagLevel: 'error' });
  });

  it('log settings: an unknown flag value is a usage error, an unknown VIGIL_LOG_FORMAT a config error', () => {
    expect(() => logSettings({ 'log-level': 'verbose' }, {})).toThrow(UsageError);
    expect(() => logSettings({ 'log-format': 'xml' }, {})).toThrow(UsageError);
    expect(() => logSettings({}, { VIGIL_LOG_FORMAT: 'xml' })).toThrow(ConfigError);
  });

  it('log settings: an unknown VIGIL_LOG_LEVEL leaves info until the config check names it', () => {
    expect(logSettings({}, { VIGIL_LOG_LEVEL: 'loud' })).toEqual({ format: 'json', level: 'info' });
  });
});
