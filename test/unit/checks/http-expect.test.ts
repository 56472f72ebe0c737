// The http check's conditions on an answer (expect.json, expect.headers, expect.bodyMatches) and its
// request body, against node:http servers on loopback; and how the config refuses conditions that
// cannot work.
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, MAX_BODY_BYTES } from '../../../checks/http.js';
import { kinds } from '../../../checks/index.js';
import { parseConfig } from '../../../src/config/parse.js';
import { ConfigError } from '../../../src/errors.js';
import { startUpstream, type Upstream } from '../../helpers/net.js';
import { runOnce } from '../../helpers/run.js';

let upstream: Upstream;
const received: { method: string; path: string; headers: IncomingHttpHeaders; body: string }[] = [];
beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString() });
      const json = (value: unknown, headers: Record<string, string | string[]> = {}) => res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
      if (path === '/down') return json({ status: 'DOWN' });
      if (path === '/up') return json({ status: 'UP', version: '2.4.1' }, { 'x-served-by': 'node-3', 'set-cookie': ['session=s3cr3t-cookie; HttpOnly'] });
      if (path === '/checks-pass') return json({ status: 'UP', checks: [{ name: 'db', status: 'pass' }, { name: 'cache', status: 'pass' }] });
      if (path === '/checks-one-fails') return json({ status: 'UP', checks: [{ name: 'db', status: 'pass' }, { name: 'cache', status: 'fail' }] });
      if (path === '/checks-none') return json({ status: 'UP', checks: [] });
      if (path === '/numbers') return json({ queue: { depth: 42 }, ratio: 0.75, enabled: true, owner: null, count: '7' });
      if (path === '/text') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('all systems go, version 2.4.1');
      if (path === '/huge-json') return void res.writeHead(200).end(`{"pad":"${'x'.repeat(MAX_BODY_BYTES)}","status":"UP"}`);
      if (path === '/catastrophic') return void res.writeHead(200).end(`${'a'.repeat(MAX_BODY_BYTES - 1)}b`);
      if (path === '/echo') return json({ method: req.method, body: Buffer.concat(chunks).toString() });
      if (path === '/see-other') return void res.writeHead(303, { location: '/echo' }).end();
      if (path === '/temporary') return void res.writeHead(307, { location: '/echo' }).end();
      res.writeHead(404).end();
    });
  });
});
afterAll(async () => upstream.close());

const at = (path: string, more: Record<string, unknown> = {}) => ({ url: `${upstream.url}${path}`, ...more });

describe('expect.json', () => {
  it('fails a 200 that says {"status":"DOWN"} with reason assertion, naming the condition and the value seen', async () => {
    const result = await runOnce(http, at('/down', { expect: { json: ['$.status == "UP"'] } }));
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toBe(`GET ${upstream.url}/down answered 200 but $.status == "UP" fails: $.status is "DOWN"`);
    expect(await runOnce(http, at('/up', { expect: { json: ['$.status == "UP"'] } }))).toMatchObject({ ok: true });
  });

  it('requires every value a wildcard finds to satisfy the condition, and names the first that does not', async () => {
    const condition = { expect: { json: ['$.checks[*].status == "pass"'] } };
    expect(await runOnce(http, at('/checks-pass', condition))).toMatchObject({ ok: true });
    const result = await runOnce(http, at('/checks-one-fails', condition));
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/\$\.checks\[\*\]\.status == "pass" fails: \$\.checks\[1\]\.status is "fail"$/);
  });

  it('fails a path that finds nothing, even for a wildcard over an empty list', async () => {
    const missing = await runOnce(http, at('/up', { expect: { json: ['$.health == "UP"'] } }));
    expect(missing).toMatchObject({ ok: false, reason: 'assertion' });
    expect(missing.message).toMatch(/\$\.health == "UP" fails: the path found nothing$/);
    expect(await runOnce(http, at('/checks-none', { expect: { json: ['$.checks[*].status == "pass"'] } }))).toMatchObject({ ok: false, reason: 'assertion' });
  });

  it('compares numbers with < <= > >= == !=, and booleans, null and strings by type and value', async () => {
    const holds = ['$.queue.depth < 100', '$.queue.depth <= 42', '$.queue.depth > 41.5', '$.queue.depth >= 42', '$.queue.depth == 42', '$.ratio != 1', '$.enabled == true', '$.owner == null', '$.count == "7"', '$.count != 7'];
    expect(await runOnce(http, at('/numbers', { expect: { json: holds } }))).toMatchObject({ ok: true });
    for (const [condition, seen] of [
      ['$.queue.depth < 10', '$.queue.depth is 42'],
      ['$.queue.depth >= 43', '$.queue.depth is 42'],
      ['$.enabled == false', '$.enabled is true'],
      ['$.owner != null', '$.owner is null'],
      ['$.count == 7', '$.count is "7" (a string)'],
      ['$.count < 10', '$.count is "7", a string, not a number'],
      ['$.queue > 1', '$.queue is {"depth":42}, an object, not a number'],
    ] as const) {
      const result = await runOnce(http, at('/numbers', { expect: { json: [condition] } }));
      expect(result, condition).toMatchObject({ ok: false, reason: 'assertion' });
      expect(result.message, condition).toContain(`${condition} fails: ${seen}`);
    }
  });

  it('fails a body that is not JSON, and says when the body was longer than the 64 KiB read', async () => {
    const text = await runOnce(http, at('/text', { expect: { json: ['$.status == "UP"'] } }));
    expect(text).toMatchObject({ ok: false, reason: 'assertion' });
    expect(text.message).toMatch(/answered 200 but its body is not JSON: Unexpected token/);
    const huge = await runOnce(http, at('/huge-json', { expect: { json: ['$.status == "UP"'] } }));
    expect(huge).toMatchObject({ ok: false, reason: 'assertion' });
    expect(huge.message).toMatch(/its body is not JSON \(a body of 64 KiB or more, of which expect\.json reads the first 64 KiB\)/);
  });

  it('keeps bodyContains failing with reason body, checked before the other conditions', async () => {
    const result = await runOnce(http, at('/down', { expect: { bodyContains: '"UP"', json: ['$.status == "UP"'] } }));
    expect(result).toMatchObject({ ok: false, reason: 'body' });
  });
});

describe('expect.headers', () => {
  it('passes present, equals and matches, with header names in any case', async () => {
    const headers = { 'X-Served-By': { present: true }, 'Content-Type': { equals: 'application/json' }, 'x-served-by': { matches: '^node-\\d+$' }, 'X-Debug': { present: false } };
    // Two spellings of one name are refused by the config; each alone works.
    const { 'x-served-by': byPattern, ...rest } = headers;
    expect(await runOnce(http, at('/up', { expect: { headers: rest } }))).toMatchObject({ ok: true });
    expect(await runOnce(http, at('/up', { expect: { headers: { 'X-SERVED-BY': byPattern } } }))).toMatchObject({ ok: true });
  });

  it('fails with reason assertion, naming the header and the value seen', async () => {
    const cases = [
      [{ 'X-Version': { present: true } }, 'header x-version is missing'],
      [{ 'X-Served-By': { present: false } }, 'header x-served-by is present ("node-3"), expected absent'],
      [{ 'Content-Type': { equals: 'text/plain' } }, 'header content-type is "application/json", expected "text/plain"'],
      [{ 'X-Served-By': { matches: '^web-' } }, 'header x-served-by "node-3" does not match /^web-/'],
      [{ 'X-Version': { matches: '^2' } }, 'header x-version is missing, expected a match of /^2/'],
    ] as const;
    for (const [headers, said] of cases) {
      const result = await runOnce(http, at('/up', { expect: { headers } }));
      expect(result, said).toMatchObject({ ok: false, reason: 'assertion' });
      expect(result.message).toBe(`GET ${upstream.url}/up answered 200 but ${said}`);
    }
  });

  it('never shows the value of a header that may carry a credential', async () => {
    const result = await runOnce(http, at('/up', { expect: { headers: { 'Set-Cookie': { equals: 'session=other' } } } }));
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toContain('header set-cookie is (a value not shown: it may hold a credential), expected "session=other"');
    expect(result.message).not.toContain('s3cr3t');
  });
});

describe('expect.bodyMatches', () => {
  it('passes a body the pattern matches, and fails one it does not with reason assertion', async () => {
    expect(await runOnce(http, at('/text', { expect: { bodyMatches: 'version 2\\.\\d+\\.\\d+' } }))).toMatchObject({ ok: true });
    const result = await runOnce(http, at('/text', { expect: { bodyMatches: 'version 3\\.' } }));
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toBe(`GET ${upstream.url}/text answered 200 but its body (first 29 bytes) does not match /version 3\\./`);
  });

  it('ends a catastrophic pattern on a 64 KiB body at its time limit, on another thread: timers keep firing', async () => {
    let ticks = 0;
    let longestGapMs = 0;
    let last = Date.now();
    const timer = setInterval(() => {
      ticks++;
      longestGapMs = Math.max(longestGapMs, Date.now() - last);
      last = Date.now();
    }, 10);
    const started = Date.now();
    const result = await runOnce(http, at('/catastrophic', { expect: { bodyMatches: '^(a+)+$' } }), 5000);
    clearInterval(timer);
    expect(result).toMatchObject({ ok: false, reason: 'assertion' });
    expect(result.message).toMatch(/but matching \/\^\(a\+\)\+\$\/ took longer than 1000 ms \(on 65536 bytes of body\): a pattern that backtracks/);
    expect(Date.now() - started).toBeLessThan(3000);
    // The event loop was free: a 10 ms timer fired throughout (generous bounds: the machine is busy).
    expect(ticks).toBeGreaterThan(20);
    expect(longestGapMs).toBeLessThan(500);
  });

  it('ends the match at the attempt timeout when that comes first', async () => {
    const started = Date.now();
    const result = await runOnce(http, at('/catastrophic', { expect: { bodyMatches: '^(a+)+$' } }), 300);
    expect(result.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('request body', () => {
  it('sends the body with POST and PUT, with its Content-Length', async () => {
    received.length = 0;
    const body = '{"probe":"deep"}';
    const post = await runOnce(http, at('/echo', { method: 'POST', body, headers: { 'Content-Type': 'application/json' }, expect: { json: ['$.method == "POST"', '$.body == "{\\"probe\\":\\"deep\\"}"'] } }));
    expect(post).toMatchObject({ ok: true });
    expect(await runOnce(http, at('/echo', { method: 'PUT', body, expect: { json: ['$.method == "PUT"'] } }))).toMatchObject({ ok: true });
    expect(received.map((r) => [r.method, r.body, r.headers['content-length'], r.headers['transfer-encoding']])).toEqual([
      ['POST', body, '16', undefined],
      ['PUT', body, '16', undefined],
    ]);
  });

  it('turns a POST into a GET without body on 303, and repeats it with its body on 307 within the origin', async () => {
    received.length = 0;
    const body = 'ping';
    expect(await runOnce(http, at('/see-other', { method: 'POST', body, followRedirects: true, expect: { json: ['$.method == "GET"', '$.body == ""'] } }))).toMatchObject({ ok: true });
    expect(await runOnce(http, at('/temporary', { method: 'POST', body, followRedirects: true, expect: { json: ['$.method == "POST"', '$.body == "ping"'] } }))).toMatchObject({ ok: true });
  });
});

describe('config: conditions that cannot work are refused with their place', () => {
  const issues = (block: string) => {
    try {
      parseConfig(`checks:\n  api:\n    type: http\n    url: http://127.0.0.1/health\n${block}`, { kinds, env: {} });
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`);
      throw error;
    }
    return [];
  };

  it('an unparsable JSON path or comparison, with line, column and the character it stops at', () => {
    expect(issues(`    expect:\n      json:\n        - '$.status == "UP"'\n        - '$.status = "UP"'\n`)).toEqual([
      `8:11 checks.api.expect.json.1: "$.status = \\"UP\\"" is not a condition: at character 10, the path is not JSONPath (RFC 9535): "=" is not an operator: compare with ==`,
    ]);
    expect(issues(`    expect: { json: ['$.checks[*.status == "pass"'] }\n`)).toEqual([
      expect.stringMatching(/^5:22 checks\.api\.expect\.json\.0: .* is not a condition: at character 11, the path is not JSONPath \(RFC 9535\): "\." is not expected there$/),
    ]);
    expect(issues(`    expect: { json: ['$.status'] }\n`)).toEqual([expect.stringMatching(/at character 9, expected a comparison after the path: an operator \(==, !=, <=, >=, <, >\) and a value, such as \$\.status == "UP"$/)]);
    expect(issues(`    expect: { json: ['$.status == UP'] }\n`)).toEqual([
      expect.stringMatching(/at character 13, expected a number, a "string" in double quotes, true, false or null, not "UP"$/),
    ]);
    expect(issues(`    expect: { json: ['$.depth < "10"'] }\n`)).toEqual([expect.stringMatching(/at character 11, < compares numbers: "10" is not a number$/)]);
    expect(issues(`    expect: { json: ['$.items[?search(@.name, "(a+)+")] == 1'] }\n`)).toEqual([expect.stringMatching(/the path calls search\(\), which vigil does not run/)]);
  });

  it('an invalid regular expression in bodyMatches or a header condition', () => {
    expect(issues(`    expect: { bodyMatches: '(unclosed' }\n`)).toEqual([`5:28 checks.api.expect.bodyMatches: "(unclosed" is not a regular expression: /(unclosed/: Unterminated group`]);
    expect(issues(`    expect: { headers: { X-A: { matches: '[z-a]' } } }\n`)).toEqual([expect.stringMatching(/^5:\d+ checks\.api\.expect\.headers\.X-A\.matches: "\[z-a\]" is not a regular expression/)]);
  });

  it('a header condition with none or two of present, equals, matches; a header named twice', () => {
    expect(issues(`    expect: { headers: { X-A: {} } }\n`)).toEqual([expect.stringContaining('checks.api.expect.headers.X-A: a map must give exactly one of present, equals, matches')]);
    expect(issues(`    expect: { headers: { X-A: { present: true, equals: b } } }\n`)).toEqual([expect.stringContaining('must give exactly one of present, equals, matches (it gives present and equals)')]);
    expect(issues(`    expect: { headers: { X-A: { present: true }, x-a: { present: true } } }\n`)).toEqual([expect.stringContaining('checks.api.expect.headers.x-a: "x-a" is given twice: header names are case-insensitive')]);
  });

  it('a body with GET (given or by default) or HEAD, never showing the body', () => {
    expect(issues(`    body: '{"token":"t0k3n"}'\n`)).toEqual([`5:11 checks.api.body: "GET" (the method, by default) sends no body: give method POST or PUT`]);
    expect(issues(`    method: HEAD\n    body: x\n`)).toEqual([`6:11 checks.api.body: "HEAD" (the method) sends no body: give method POST or PUT`]);
    expect(issues(`    method: POST\n    body: x\n`)).toEqual([]);
  });

  it('json or bodyMatches with HEAD', () => {
    expect(issues(`    method: HEAD\n    expect: { bodyMatches: x, json: ['$.a == 1'] }\n`)).toEqual([
      expect.stringContaining('checks.api.expect.bodyMatches: "x" can never match: a HEAD response has no body'),
      expect.stringContaining('checks.api.expect.json: a list can never match: a HEAD response has no body'),
    ]);
  });
});
