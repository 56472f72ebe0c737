// Where `vigil probe` looks for the agent: the address serve listens on, read without the rest of
// the config getting in the way.
import { describe, expect, it } from 'vitest';
import { listenAddressOf, loopbackAddresses } from '../../../src/config/address.js';
import { CONFIG_DEFAULTS } from '../../../src/config/defaults.js';

describe('vigil probe must ask the port and host vigil serves on', () => {
  it('Kubernetes service links: vigil probe dials the configured port, not VIGIL_PORT=tcp://…', () => {
    const env = { VIGIL_SERVICE_HOST: '10.96.0.12', VIGIL_PORT: 'tcp://10.96.0.12:9898', VIGIL_PORT_9898_TCP_PORT: '9898' };
    expect(listenAddressOf({ path: 'vigil.yaml', env, readFile: () => 'server: { port: 8181 }\n' })).toEqual({ host: CONFIG_DEFAULTS.server.host.value, port: 8181, notes: [] });
  });

  const file = (text: string) => () => text;

  it('vigil probe address: the file, then VIGIL_PORT and VIGIL_HOST, as serve reads them', () => {
    expect(listenAddressOf({ path: 'v.yaml', env: {}, readFile: file('server: { port: 7001, host: "::1" }\n') })).toMatchObject({ host: '::1', port: 7001 });
    expect(listenAddressOf({ path: 'v.yaml', env: { VIGIL_PORT: '7002' }, readFile: file('server: { port: 7001 }\n') })).toMatchObject({ port: 7002 });
    expect(listenAddressOf({ path: 'v.yaml', env: { P: '7003' }, readFile: file("server:\n  port: ${P}\n") })).toMatchObject({ port: 7003 });
    expect(listenAddressOf({ path: undefined, env: {}, readFile: file('') })).toMatchObject({ port: 9898, notes: [] });
  });

  it('vigil probe address: a problem elsewhere in the file does not matter; one in the port falls back to the default, saying so', () => {
    const elsewhere = 'server: { port: 7004, prot: 1 }\nchecks:\n  x: { type: nope }\n';
    expect(listenAddressOf({ path: 'v.yaml', env: {}, readFile: file(elsewhere) })).toEqual({ host: CONFIG_DEFAULTS.server.host.value, port: 7004, notes: [] });
    const broken = listenAddressOf({ path: 'v.yaml', env: {}, readFile: file('server: { port: [\n') });
    expect(broken.port).toBe(9898);
    expect(broken.notes[0]).toMatch(/v.yaml is not valid YAML/);
    expect(listenAddressOf({ path: 'v.yaml', env: {}, readFile: file("server:\n  port: ${UNSET_PORT}\n") }).notes[0]).toMatch(/server.port/);
  });

  it('vigil probe address: a wildcard listener is reached on 127.0.0.1 then ::1, a specific address as it is', () => {
    expect(loopbackAddresses('::')).toEqual(['127.0.0.1', '::1']);
    expect(loopbackAddresses('0.0.0.0')).toEqual(['127.0.0.1', '::1']);
    expect(loopbackAddresses('[::1]')).toEqual(['::1']);
    expect(loopbackAddresses('10.1.2.3')).toEqual(['10.1.2.3']);
  });
});
