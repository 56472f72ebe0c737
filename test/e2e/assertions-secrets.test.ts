// A configured secret in a value a failed condition quotes is masked even where the quote is cut
// short: no prefix of it may show (built CLI, an upstream echoing the token after some padding).
import { afterEach, describe, expect, it } from 'vitest';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { startUpstream, waitFor } from '../helpers/net.js';

const agents = agentsForEachTest(afterEach);

describe('secrets in quoted values cut short (built CLI)', () => {
  it('a token that straddles the 120-character cut of a quoted JSON value, or the 200-character cut of a header value, shows no part of it', async () => {
    const token = 'canary-straddle-token-0123456789abcdef';
    // The upstream echoes the token after padding: it starts before the cut and ends after it.
    const echo = (authorization: string | undefined, pad: number) => `${'x'.repeat(pad)}${(authorization ?? '').replace(/^Bearer /, '')}`;
    const api = await startUpstream((req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'x-echo': echo(req.headers.authorization, 190) })
        .end(JSON.stringify({ status: echo(req.headers.authorization, 100) })),
    );
    agents.upstreams.push(api);
    const agent = await agents.start(
      `checks:\n  api:\n    type: http\n    url: ${api.url}/\n    headers: { Authorization: "Bearer \${API_TOKEN}" }\n    expect:\n      json: ['$.status == "UP"']\n  echo:\n    type: http\n    url: ${api.url}/\n    headers: { Authorization: "Bearer \${API_TOKEN}" }\n    expect:\n      headers: { X-Echo: { equals: nothing } }\n`,
      { API_TOKEN: token },
    );
    const body = await waitFor('results', async () => {
      const answer = await getJson(`${agent.url}/health`);
      return Object.values(answer.body.checks as Record<string, { reason?: string }[]>).some((entry) => entry[0]!.reason === 'pending') ? undefined : answer.body;
    });
    expect(body.checks['api:responseTime'][0].reason).toBe('assertion');
    expect(body.checks['echo:responseTime'][0].reason).toBe('assertion');
    const everything = JSON.stringify(body) + agent.output();
    // Today: the outputs hold "canary-straddle-tok…" and "canary-st…": the cut came before the mask.
    expect(everything).not.toContain(token.slice(0, 9));
  }, 30_000);

  it('the Basic credential a URL\'s user and password make, echoed back by the upstream, shows in no health body, log line or vigil check output', async () => {
    // %40 is "@": Node sends base64 of the decoded "vigil:p@ss-w0rd-canary".
    const basic = Buffer.from('vigil:p@ss-w0rd-canary').toString('base64');
    const api = await startUpstream((req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'x-echo': req.headers.authorization ?? '' })
        .end(JSON.stringify({ status: req.headers.authorization ?? '' })),
    );
    agents.upstreams.push(api);
    const url = api.url.replace('http://', 'http://vigil:p%40ss-w0rd-canary@');
    const yaml = `checks:\n  api:\n    type: http\n    url: ${url}/\n    expect:\n      json: ['$.status == "UP"']\n  echo:\n    type: http\n    url: ${url}/\n    expect:\n      headers: { X-Echo: { equals: nothing } }\n`;
    const agent = await agents.start(yaml);
    const body = await waitFor('results', async () => {
      const answer = await getJson(`${agent.url}/health`);
      return Object.values(answer.body.checks as Record<string, { reason?: string }[]>).some((entry) => entry[0]!.reason === 'pending') ? undefined : answer.body;
    });
    expect(body.checks['api:responseTime'][0].reason).toBe('assertion');
    expect(body.checks['echo:responseTime'][0].reason).toBe('assertion');
    // The upstream did receive it: what is asserted below is masking, not a request without credentials.
    expect(body.checks['api:responseTime'][0].output).toContain('is "Basic ***"');
    const checked = await runCli(['check', '--config', tempConfig(yaml), '--json']);
    expect(checked.code).toBe(1);
    const everything = JSON.stringify(body) + agent.output() + checked.stdout + checked.stderr;
    expect(everything).not.toContain(basic.slice(0, 16));
  }, 30_000);
});
