// tcp: connect to host:port and close. Proves something accepts connections, no more: a server that
// accepts and never answers looks healthy to this check (so it does to blackbox_exporter's tcp probe).
import { connect } from 'node:net';
import { z } from 'zod';
import { defineCheck } from '../src/check.js';
import { toCheckError } from './support/socket-errors.js';

export const tcp = defineCheck({
  type: 'tcp',
  componentType: 'system',
  options: {
    host: z.string().min(1).describe('Host name or address.'),
    port: z.number().int().min(1).max(65535).describe('TCP port.'),
  },
  schemes: ['tcp'],
  fromUrl(url) {
    const parsed = new URL(url);
    return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: parsed.port === '' ? undefined : Number(parsed.port) };
  },
  run({ host, port }, { signal }) {
    const target = `${host}:${port}`;
    return new Promise<void>((resolve, reject) => {
      // Not connect({ signal }): Node removes that listener only when the signal aborts.
      const socket = connect({ host, port });
      const settle = (error?: unknown) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        if (error === undefined) resolve();
        else reject(error);
      };
      const onAbort = () => settle(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => settle());
      socket.once('error', (error) => settle(toCheckError(error, target)));
    });
  },
});
