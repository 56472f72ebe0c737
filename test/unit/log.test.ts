import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

describe('logs for the platforms people use', () => {
  it('logs for the platforms: every JSON line carries severity (Google Cloud Logging names) beside level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', write: (line) => lines.push(line), now: () => 0 });
    log.debug('d');
    log.info('i', { check: 'db' });
    log.warn('w');
    log.error('e');
    log.fatal('f');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { time: '1970-01-01T00:00:00.000Z', level: 'debug', severity: 'DEBUG', msg: 'd' },
      { time: '1970-01-01T00:00:00.000Z', level: 'info', severity: 'INFO', msg: 'i', check: 'db' },
      { time: '1970-01-01T00:00:00.000Z', level: 'warn', severity: 'WARNING', msg: 'w' },
      { time: '1970-01-01T00:00:00.000Z', level: 'error', severity: 'ERROR', msg: 'e' },
      { time: '1970-01-01T00:00:00.000Z', level: 'fatal', severity: 'CRITICAL', msg: 'f' },
    ]);
  });

  it('logs for the platforms: fatal is written whatever the level; the format can change after start', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'error', write: (line) => lines.push(line), now: () => 0 });
    log.warn('hidden');
    log.fatal('shown', { problems: ['a', 'b'] });
    log.configure({ format: 'pretty' });
    log.fatal('again', { problems: ['a: x'] });
    expect(lines).toEqual([
      '{"time":"1970-01-01T00:00:00.000Z","level":"fatal","severity":"CRITICAL","msg":"shown","problems":["a","b"]}\n',
      '00:00:00.000 FATAL again\n  problems: a: x\n',
    ]);
  });
});
