// Runs `vigil serve` with exactly the arguments given: no --host unless the test passes one (the
// shared helper in cli.ts always binds 127.0.0.1), for tests about addresses and who is calling.
import { spawn, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { CLI, tempConfig } from './cli.js';
import { freePort, waitFor } from './net.js';

export interface AgentAsGiven {
  readonly port: number;
  output(): string;
  logLines(): Record<string, unknown>[];
}

/** Agents started by a test file, killed after each test: call at the top level. */
export function agentsAsGiven(afterEachHook: (fn: () => void) => void) {
  const children: ChildProcess[] = [];
  afterEachHook(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  /** Starts `vigil serve` on a temp config with that YAML and waits for live on 127.0.0.1. */
  return async function serve(yaml: string, args: string[] = []): Promise<AgentAsGiven> {
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('VIGIL_') && value !== undefined) env[key] = value;
    const child = spawn(process.execPath, [CLI, 'serve', '--config', tempConfig(yaml), '--port', String(port), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    await waitFor(`vigil serve on ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`vigil exited with ${child.exitCode}: ${output}`);
      return (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => undefined))?.ok;
    });
    return {
      port,
      output: () => output,
      logLines: () => output.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
    };
  };
}

/** An address of this machine that is not loopback: a caller from it is "any other" caller. */
export function otherAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) if (info.family === 'IPv4' && !info.internal) return info.address;
  }
  throw new Error('this test needs a non-loopback IPv4 address on this machine');
}
