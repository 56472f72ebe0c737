// What the agent's own thread loads while it serves: the config is parsed in a worker thread, so the
// YAML parser and the config parser stay out of the long-lived heap (a reload parses in a worker too).
// The schemas' module (config/schema.js, and zod) stays: the check kinds and heartbeats use it.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getJson, tempConfig } from '../helpers/cli.js';
import { freePort, waitFor } from '../helpers/net.js';
import { killAll, spawnCli } from '../helpers/process.js';

afterEach(killAll);

const RECORDER = resolve(import.meta.dirname, '../helpers/record-imports.mjs');

describe('the agent thread', () => {
  it('serves without loading the YAML parser or the config parser (they run in the loader worker)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vigil-imports-')), 'imports.txt');
    const port = await freePort();
    const path = tempConfig(`checks:\n  web: { type: tcp, host: 127.0.0.1, port: ${port} }\n`);
    const agent = spawnCli(['serve', '--config', path, '--port', String(port), '--host', '127.0.0.1'], { RECORD_IMPORTS_FILE: file }, ['--import', RECORDER]);
    await waitFor(`live (output: ${agent.output()})`, async () => (await getJson(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.status === 200);
    // A reload parses the file again: still in a worker.
    agent.child.kill('SIGHUP');
    await waitFor(`reloaded (output: ${agent.output()})`, async () => agent.output().includes('configuration reloaded'));
    expect(existsSync(file)).toBe(true);
    const urls = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    // The recorder saw the agent's modules (a check of the test itself).
    expect(urls.some((url) => url.endsWith('/dist/src/agent.js'))).toBe(true);
    expect(urls.filter((url) => /\/node_modules\/yaml\/|\/dist\/src\/config\/(parse|load|resolve|document|interpolate)\.js$/.test(url))).toEqual([]);
  });
});
