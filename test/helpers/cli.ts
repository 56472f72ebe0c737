// Runs the built CLI (dist/src/cli.js) as a user would, as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './net.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export function tempConfig(yaml: string, name = 'vigil.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a one-shot command to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vigil ${args.join(' ')} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Let the pipes drain before resolving.
      setImmediate(() => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    });
  });
}

export interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly startedAt: number;
  output(): string;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
  kill(): void;
}

/** Starts `vigil serve` and waits until /health/live answers. */
export async function serve(args: string[], port: number, env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--host', '127.0.0.1', ...args], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return served(child, port);
}

export interface ServedWithGc extends Served {
  /** The agent's live heap in bytes, measured after a full garbage collection. */
  liveHeap(): Promise<number>;
}

/** `vigil serve` in a process whose live heap can be measured (test/helpers/serve-with-gc.mjs). */
export async function serveWithGc(args: string[], port: number, env: Record<string, string> = {}): Promise<ServedWithGc> {
  const harness = fileURLToPath(new URL('./serve-with-gc.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', harness, '--port', String(port), '--host', '127.0.0.1', ...args], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const agent = await served(child, port);
  return {
    ...agent,
    liveHeap: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no heap measurement within 10 s')), 10_000);
        child.once('message', (message: { type: string; bytes: number }) => {
          clearTimeout(timer);
          resolve(message.bytes);
        });
        child.send({ type: 'heap' });
      }),
  };
}

async function served(child: ChildProcess, port: number): Promise<Served> {
  const startedAt = Date.now();
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`vigil serve on ${port} (output so far: ${output})`, async () => {
    if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}: ${output}`);
    return (await fetch(`${url}/health/live`).catch(() => undefined))?.ok;
  });
  return { child, port, url, startedAt, output: () => output, exited: () => exit, kill: () => void child.kill('SIGKILL') };
}

/** The environment without anything that would change the agent's behaviour. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('VIGIL_') && value !== undefined) env[key] = value;
  return env;
}

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/**
 * Agents and upstreams started by a test file, cleaned up after each test: call at the top level.
 * start() runs `vigil serve` on a temp config with that YAML.
 */
export function agentsForEachTest(afterEachHook: (fn: () => Promise<void>) => void) {
  const running: Served[] = [];
  const upstreams: { close(): Promise<void> }[] = [];
  afterEachHook(async () => {
    for (const agent of running.splice(0)) agent.kill();
    for (const upstream of upstreams.splice(0)) await upstream.close().catch(() => undefined);
  });
  return {
    upstreams,
    async start(yaml: string, env: Record<string, string> = {}) {
      const { freePort } = await import('./net.js');
      const agent = await serve(['--config', tempConfig(yaml)], await freePort(), env);
      running.push(agent);
      return agent;
    },
  };
}

/**
 * What a person reads in a command's stderr: plain lines as they are, and of JSON log lines the
 * message with its problems and error (serve logs a config error as one fatal line).
 */
export function readable(stderr: string): string {
  return stderr
    .split('\n')
    .map((line) => {
      try {
        const record = JSON.parse(line) as { msg?: string; problems?: string[]; error?: string };
        return [record.msg, ...(record.problems ?? []), record.error].filter(Boolean).join('\n');
      } catch {
        return line;
      }
    })
    .join('\n');
}
