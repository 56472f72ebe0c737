import { describe, expect, it } from 'vitest';
import { serveFlags } from '../../../src/config/serving-agent.js';

describe('the flags of a running `vigil serve` that decide where it listens', () => {
  it('reads --port, -p, --host, --config and -c, as separate words or with =', () => {
    expect(serveFlags(['serve', '--port', '9797', '--host', '::1', '-c', 'vigil.yaml'])).toEqual({ port: '9797', host: '::1', config: 'vigil.yaml' });
    expect(serveFlags(['serve', '--port=9797', '--config=/etc/vigil/vigil.yaml', '--log-level', 'debug'])).toEqual({ port: '9797', config: '/etc/vigil/vigil.yaml' });
    expect(serveFlags(['-p', '1234'])).toEqual({ port: '1234' }); // serve is the default command
    expect(serveFlags([])).toEqual({});
  });

  it('is not a serve command otherwise', () => {
    expect(serveFlags(['check', '--config', 'vigil.yaml'])).toBeUndefined();
    expect(serveFlags(['probe'])).toBeUndefined();
  });
});
