// Where the running `vigil serve` of this machine or container listens, read from the process
// itself: its --port, --host and --config flags (which only its command line holds; a container's
// HEALTHCHECK cannot see `serve --port N`), its VIGIL_* environment and its working directory.
// Linux only (/proc); elsewhere, or when it cannot tell which process is the agent, it says nothing.
import { readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export interface ServingAgent {
  readonly pid: number;
  /** --config, absolute (resolved against the agent's working directory). */
  readonly config?: string;
  readonly port?: string;
  readonly host?: string;
  /** The agent's VIGIL_* environment variables. */
  readonly env: Readonly<Record<string, string>>;
}

/** The command-line flags of `vigil serve` that decide where it listens. */
export function serveFlags(args: readonly string[]): { config?: string; port?: string; host?: string } | undefined {
  const [command] = args;
  if (command !== undefined && !command.startsWith('-') && command !== 'serve') return undefined;
  const flags: { config?: string; port?: string; host?: string } = {};
  const names: Record<string, 'config' | 'port' | 'host'> = { '--config': 'config', '-c': 'config', '--port': 'port', '-p': 'port', '--host': 'host' };
  for (let i = command === 'serve' ? 1 : 0; i < args.length; i++) {
    const arg = args[i]!;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = Object.hasOwn(names, name) ? names[name] : undefined;
    if (!key) continue;
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value !== undefined) flags[key] = value;
  }
  return flags;
}

/**
 * The process running `script` (this CLI) as `serve`: PID 1 when it is one (a container, whose
 * HEALTHCHECK asks about PID 1), else, unless `onlyPid1`, the only such process this user can see.
 * Undefined when there is none, or more than one.
 */
export function findServingAgent(script: string, options: { onlyPid1?: boolean; procRoot?: string } = {}): ServingAgent | undefined {
  const procRoot = options.procRoot ?? '/proc';
  let own: string;
  try {
    own = realpathSync(script);
  } catch {
    return undefined;
  }
  const candidates: ServingAgent[] = [];
  const init = servingAgentAt(1, own, procRoot);
  if (init || options.onlyPid1) return init;
  let pids: number[];
  try {
    pids = readdirSync(procRoot).filter((entry) => /^\d+$/.test(entry)).map(Number);
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    if (pid === process.pid || pid === 1) continue;
    const agent = servingAgentAt(pid, own, procRoot);
    if (agent) candidates.push(agent);
  }
  return candidates.length === 1 ? candidates[0] : undefined;
}

function servingAgentAt(pid: number, script: string, procRoot: string): ServingAgent | undefined {
  try {
    const argv = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const cwd = readlinkSync(`${procRoot}/${pid}/cwd`);
    // node [node options] <script> [args]: the script is the first argument naming this CLI.
    const at = argv.findIndex((arg, i) => i > 0 && !arg.startsWith('-') && sameFile(isAbsolute(arg) ? arg : resolve(cwd, arg), script));
    if (at === -1) return undefined;
    const flags = serveFlags(argv.slice(at + 1));
    if (!flags) return undefined;
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`${procRoot}/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0 && entry.startsWith('VIGIL_')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return { pid, env, ...(flags.config === undefined ? {} : { config: resolve(cwd, flags.config) }), ...(flags.port === undefined ? {} : { port: flags.port }), ...(flags.host === undefined ? {} : { host: flags.host }) };
  } catch {
    // Gone, or another user's: not ours to read.
    return undefined;
  }
}

function sameFile(path: string, script: string): boolean {
  try {
    return realpathSync(path) === script;
  } catch {
    return false;
  }
}
