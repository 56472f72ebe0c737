// Conditions on what a dependency answers, through the built CLI as a user runs it: the health+json
// a failed condition shows, a backtracking pattern that leaves the agent answering, `vigil
// validate` placing an unparsable condition, and a query's result judged by `vigil check`.
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../checks/http.js';
import { agentsForEachTest, getJson, runCli, tempConfig } from '../helpers/cli.js';
import { startUpstream, waitFor } from '../helpers/net.js';
import { PG_URL } from '../helpers/services.js';

const agents = agentsForEachTest(afterEach);

describe('assertions (built CLI)', () => {
  it('a 200 with {"status":"DOWN"} fails readiness with reason assertion and an output naming the condition and the value', async () => {
    const api = await startUpstream((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"DOWN","checks":[{"name":"db","status":"fail"}]}'));
    agents.upstreams.push(api);
    const agent = await agents.start(`checks:\n  payments:\n    type: http\n    url: ${api.url}/health\n    expect:\n      json: ['$.status == "UP"']\n`);
    const ready = await waitFor('a result', async () => {
      const answer = await getJson(`${agent.url}/health/ready`);
      return answer.body.checks['payments:responseTime'][0].reason === 'pending' ? undefined : answer;
    });
    expect(ready.status).toBe(503);
    expect(ready.headers.get('content-type')).toMatch(/^application\/health\+json/);
    expect(ready.body.status).toBe('fail');
    expect(ready.body.checks['payments:responseTime'][0]).toMatchObject({
      componentId: 'payments',
      status: 'fail',
      reason: 'assertion',
      output: `GET ${api.url}/health answered 200 but $.status == "UP" fails: $.status is "DOWN"`,
    });
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/vigil_check_failures_total\{check="payments",type="http",reason="assertion"\} [1-9]/);
  });

  it('a value seen that holds a configured secret is masked in the output (an upstream echoing the token back)', async () => {
    const token = 'canary-assert-token-9321';
    // The upstream repeats the request's Authorization header where the condition looks; the whole
    // header value is a configured secret.
    const api = await startUpstream((req, res) => res.writeHead(200, { 'content-type': 'application/json', 'x-echo': req.headers.authorization ?? '' }).end(JSON.stringify({ status: req.headers.authorization })));
    agents.upstreams.push(api);
    const agent = await agents.start(
      `checks:\n  api:\n    type: http\n    url: ${api.url}/\n    headers: { Authorization: "Bearer \${API_TOKEN}" }\n    expect:\n      json: ['$.status == "UP"']\n  echo:\n    type: http\n    url: ${api.url}/\n    headers: { Authorization: "Bearer \${API_TOKEN}" }\n    expect:\n      headers: { X-Echo: { equals: nothing } }\n`,
      { API_TOKEN: token },
    );
    const body = await waitFor('results', async () => {
      const answer = await getJson(`${agent.url}/health`);
      return Object.values(answer.body.checks as Record<string, { reason?: string }[]>).some((entry) => entry[0]!.reason === 'pending') ? undefined : answer.body;
    });
    expect(body.checks['api:responseTime'][0]).toMatchObject({ reason: 'assertion', output: `GET ${api.url}/ answered 200 but $.status == "UP" fails: $.status is "***"` });
    expect(body.checks['echo:responseTime'][0]).toMatchObject({ reason: 'assertion', output: `GET ${api.url}/ answered 200 but header x-echo is "***", expected "nothing"` });
    expect(JSON.stringify(body)).not.toContain(token);
    expect(agent.output()).not.toContain(token);
  });

  it('a catastrophic pattern on a 64 KiB body: /health/live keeps answering fast, and the check fails with a clear message', async () => {
    const api = await startUpstream((_req, res) => res.writeHead(200).end(`${'a'.repeat(MAX_BODY_BYTES - 1)}b`));
    agents.upstreams.push(api);
    // Every second, an attempt whose pattern would backtrack for longer than the universe has left.
    const agent = await agents.start(`checks:\n  api:\n    type: http\n    url: ${api.url}/\n    interval: 1500ms\n    timeout: 1500ms\n    expect:\n      bodyMatches: '^(a+)+$'\n`);
    const slowest = { ms: 0 };
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const started = Date.now();
      const res = await fetch(`${agent.url}/health/live`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      slowest.ms = Math.max(slowest.ms, Date.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Each attempt spent a second matching; the event loop never waited for it (generous bound).
    expect(slowest.ms).toBeLessThan(250);
    const entry = (await getJson(`${agent.url}/health`)).body.checks['api:responseTime'][0];
    expect(entry).toMatchObject({ status: 'fail', reason: 'assertion' });
    expect(entry.output).toBe(
      `GET ${api.url}/ answered 200 but matching /^(a+)+$/ took longer than 1000 ms (on 65536 bytes of body): a pattern that backtracks, such as nested quantifiers (a+)+, never finishes on some inputs; simplify it`,
    );
  });

  it('vigil validate names an unparsable condition with its line and column', async () => {
    const config = tempConfig(
      [
        'checks:',
        '  api:',
        '    type: http',
        '    url: http://127.0.0.1:9/health',
        '    expect:',
        '      json:',
        "        - '$.status == \"UP\"'",
        "        - '$.checks[*.status == \"pass\"'",
        '      bodyMatches: "(unclosed"',
        '  db:',
        '    type: postgres',
        `    url: ${PG_URL}`,
        '    expect: primary',
        '',
      ].join('\n'),
    );
    const result = await runCli(['validate', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${config}:8:11: checks.api.expect.json.1: "$.checks[*.status == \\"pass\\"" is not a condition: at character 11, the path is not JSONPath (RFC 9535): "." is not expected there`);
    expect(result.stderr).toContain(`${config}:9:20: checks.api.expect.bodyMatches: "(unclosed" is not a regular expression: /(unclosed/: Unterminated group`);
    expect(result.stderr).toContain(`${config}:13:13: checks.db.expect: "primary" is not a comparison: at character 1, expected an operator`);
  });

  it('vigil check fails on a query whose result fails its expect, and passes "must be primary"', async () => {
    const failing = tempConfig(`checks:\n  db:\n    type: postgres\n    url: ${PG_URL}\n    query: SELECT pg_is_in_recovery()\n    expect: true\n`);
    const failed = await runCli(['check', '--config', failing, '--json']);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({
      status: 'fail',
      checks: [{ name: 'db', status: 'fail', reason: 'assertion', output: `postgres ${new URL(PG_URL).host}/test: the query's first column == true fails: it is false` }],
    });
    const primary = tempConfig(`checks:\n  db:\n    type: postgres\n    url: ${PG_URL}\n    query: SELECT pg_is_in_recovery() = false\n    expect: true\n`);
    expect((await runCli(['check', '--config', primary])).code).toBe(0);
  });
});
