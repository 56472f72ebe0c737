// A container engine for the image tests, driven through its own CLI as a user drives it: `docker`
// (DOCKER_HOST honoured) and docker-compose. Finds out whether one answers, and why not.
import { execFile, spawnSync } from 'node:child_process';

export interface Engine {
  /** `docker` and the daemon's version, e.g. "docker 20.10.24". */
  readonly name: string;
  /** How to run compose (`docker-compose` or `docker compose`), or why there is none. */
  readonly compose: readonly string[] | { readonly missing: string };
}

/** `reason` is one line for a test's title; `detail` adds what the engine said and what to do. */
export type EngineProbe = { readonly ok: true; readonly engine: Engine } | { readonly ok: false; readonly reason: string; readonly detail: string };

const HOW = 'start one with `eval "$(.ci/engine up $$)"` (dockerd of Debian\'s docker.io, see docs/deployment.md)';

/** Asks the docker CLI for the daemon's version; never throws. */
export function probeEngine(): EngineProbe {
  const where = process.env.DOCKER_HOST ? `DOCKER_HOST=${process.env.DOCKER_HOST}` : 'the default socket';
  const version = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', timeout: 20_000 });
  if (version.error) {
    const code = (version.error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no docker CLI on PATH' : `docker version: ${version.error.message}`;
    return { ok: false, reason, detail: `${reason}; ${HOW}` };
  }
  if (version.status !== 0) {
    const said = version.stderr.trim().split('\n').find((line) => line.trim()) ?? `exit ${version.status}`;
    const reason = `no container engine answers at ${where}`;
    return { ok: false, reason, detail: `${reason} (${said}); ${HOW}` };
  }
  return { ok: true, engine: { name: `docker ${version.stdout.trim()} at ${where}`, compose: findCompose() } };
}

function findCompose(): Engine['compose'] {
  for (const command of [['docker-compose'], ['docker', 'compose']]) {
    const result = spawnSync(command[0]!, [...command.slice(1), 'version', '--short'], { encoding: 'utf8', timeout: 20_000 });
    if (result.status === 0) return command;
  }
  return { missing: 'neither docker-compose nor the docker compose plugin is installed (Debian package docker-compose)' };
}

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without blocking the test's event loop; never throws on exit codes. */
export function run(command: string, args: readonly string[], timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}`));
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** Runs `docker ARGS` and returns its stdout, trimmed; a non-zero exit is an error carrying stderr. */
export async function docker(args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await run('docker', args, timeoutMs);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join('\n')}`);
  return result.stdout.trim();
}

/** `docker inspect` of one object, parsed. */
export async function inspect(name: string): Promise<any> {
  return (JSON.parse(await docker(['inspect', name])) as any[])[0];
}

/** A timestamp of the engine's (nanoseconds) in epoch milliseconds. */
export function engineTime(stamp: string): number {
  return Date.parse(stamp.replace(/(\.\d{3})\d*/, '$1'));
}

export interface HealthVerdict {
  /** healthy | unhealthy | probe failed | exited | still starting */
  readonly verdict: string;
  /** The output of the last health probe that ran, for the failure message. */
  readonly lastOutput: string;
  readonly state: any;
}

/**
 * Waits until a container's HEALTHCHECK has an answer: healthy, unhealthy, or a probe that started
 * after `sinceMs` (when the agent was known to be listening) and failed — the engine would count it
 * toward unhealthy only after its retries, but by then the outcome is known.
 */
export async function healthVerdict(name: string, sinceMs: number, timeoutMs: number): Promise<HealthVerdict> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (await inspect(name)).State;
    const log: any[] = state.Health?.Log ?? [];
    const lastOutput = String(log.at(-1)?.Output ?? '').trim();
    const failedSince = log.some((entry) => entry.ExitCode !== 0 && engineTime(entry.Start) > sinceMs);
    const verdict = !state.Running ? 'exited' : failedSince ? 'probe failed' : state.Health?.Status !== 'starting' ? state.Health?.Status : undefined;
    if (verdict) return { verdict, lastOutput, state };
    if (Date.now() > deadline) return { verdict: 'still starting', lastOutput, state };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
