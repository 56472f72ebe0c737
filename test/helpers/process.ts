// The built CLI as a long-running child with a free hand over its arguments, environment and Node
// options (helpers/cli.ts's serve() fixes --port and --host), and its output read as log lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, cleanEnv } from './cli.js';

export interface Spawned {
  readonly child: ChildProcess;
  /** stdout and stderr as received so far. */
  output(): string;
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
}

/** Starts `node [nodeOptions] dist/src/cli.js ...args`; kill what it returns in afterEach (killAll). */
export function spawnCli(args: string[], env: Record<string, string> = {}, nodeOptions: string[] = []): Spawned {
  const child = spawn(process.execPath, [...nodeOptions, CLI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const spawned: ChildProcess[] = [];

/** Kills every child spawnCli started that is still running. */
export function killAll(): void {
  for (const child of spawned.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Every line of the output parsed; a line that is not JSON throws, showing it. */
export function jsonLines(output: string): Record<string, any>[] {
  return output
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, any>;
      } catch {
        throw new Error(`not a JSON line: ${line}\n--- whole output:\n${output}`);
      }
    });
}

/** The port `vigil serve` logged in its "vigil started" line. */
export function startedPort(output: string): number | undefined {
  return jsonLines(output).find((line) => line.msg === 'vigil started')?.port;
}
