// Names and lookups in the config, through the built CLI: built-in property names are only names,
// an alias bomb and a bad VIGIL_CHECK_* URL are config errors that say where.
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, runCli, serve, tempConfig, type Served } from '../helpers/cli.js';
import { freePort, startUpstream, waitFor, type Upstream } from '../helpers/net.js';

const running: Served[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) agent.kill();
  for (const upstream of upstreams.splice(0)) await upstream.close();
});

async function start(path: string, env: Record<string, string> = {}): Promise<Served> {
  const agent = await serve(['--config', path], await freePort(), env);
  running.push(agent);
  return agent;
}

async function upstream(): Promise<Upstream> {
  const up = await startUpstream((_req, res) => res.end('ok'));
  upstreams.push(up);
  return up;
}

describe('lookups reach built-in properties; a YAML alias bomb and a bad VIGIL_CHECK_* URL exit 2 naming the line or the variable (built CLI)', () => {
  it('${__proto__}, ${constructor} and ${toString} are "not set", never [object Object] or function text', async () => {
    const run = await runCli(['validate', '--config', tempConfig('checks:\n  a: { type: tcp, host: "${__proto__}", port: 1 }\n  b: { type: tcp, host: "${constructor}", port: 1 }\n  c: { type: tcp, host: "${toString}", port: 1 }\n')]);
    expect(run.code).toBe(2);
    for (const name of ['__proto__', 'constructor', 'toString']) expect(run.stderr).toContain(`environment variable ${name} is not set`);
    expect(run.stderr).not.toMatch(/object Object|native code/);
  });

  it('a YAML alias bomb exits 2 with its line and column', async () => {
    const path = tempConfig(['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((name, i) => `${name}: &${name} [${`*${'abcdefgh'[i]}, `.repeat(8)}*${'abcdefgh'[i]}]`), ''].join('\n'));
    const run = await runCli(['validate', '--config', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`${path}:\\d+:\\d+: YAML: with its aliases expanded \\(here \\*\\w\\), the config holds more than 40000 values`));
  });

  it('VIGIL_CHECK_X=tcp://host:99999 exits 2 naming the variable', async () => {
    const run = await runCli(['validate'], { VIGIL_CHECK_X: 'tcp://host:99999' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('VIGIL_CHECK_X: is not a valid tcp URL');
  });
});

describe('odd names: VIGIL_CHECK_CONSTRUCTOR, __proto__ and toString as check names work or are refused (built CLI)', () => {
  it('checks named toString and constructor (file and environment) run and are reported', async () => {
    const up = await upstream();
    const agent = await start(tempConfig(`checks:\n  toString: { type: http, url: "${up.url}/", interval: 200ms, timeout: 100ms }\n  hasOwnProperty: { type: tcp, host: 127.0.0.1, port: ${up.port} }\n`), {
      VIGIL_CHECK_CONSTRUCTOR: `tcp://127.0.0.1:${up.port}`,
    });
    await waitFor('ready', async () => (await getJson(`${agent.url}/health/ready`)).status === 200);
    const { body } = await getJson(`${agent.url}/health`);
    expect(Object.keys(body.checks).sort()).toEqual(['constructor:responseTime', 'hasOwnProperty:responseTime', 'toString:responseTime', 'toString:statusCode']);
    for (const entry of Object.values(body.checks) as { status: string }[][]) expect(entry[0]!.status).toBe('pass');
  });

  it('__proto__ is refused with the rule for names', async () => {
    const file = await runCli(['validate', '--config', tempConfig('checks:\n  __proto__: { type: tcp, host: h, port: 1 }\n')]);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('checks.__proto__: a check name must start with a letter or digit');
    const env = await runCli(['validate'], { VIGIL_CHECK___PROTO__: 'tcp://h:1' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('VIGIL_CHECK___PROTO__ (__proto__): a check name must start with a letter or digit');
  });
});
