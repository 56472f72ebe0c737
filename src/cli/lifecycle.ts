// The serve process's life around its agent: signals (held from the first instant until the agent
// runs), reloads one after another (SIGHUP or a change to a watched file), SIGTERM's drain per
// server.drainMode, then shutdown. Light on imports: the entry point holds signals through it.
import type { Agent } from '../agent.js';
import type { AgentConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ConfigWatcher, watchConfig } from '../watch.js';
import { EXIT_OK, problemsOf } from './common.js';

// SIGHUP last: its handler appearing (SigCgt in /proc/<pid>/status) means the others are installed
// too; Node itself catches SIGTERM and SIGINT from its first instant, so their bits say nothing.
const HELD_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export interface HeldSignals {
  /** Hands every signal caught so far (held: true), then each new one, to the handler. */
  deliver(handler: (signal: NodeJS.Signals, held: boolean) => void): void;
}

/**
 * Catches SIGTERM, SIGINT and SIGHUP from now on and holds them until a handler is ready. Without
 * it a SIGHUP (or SIGTERM) during start-up would kill the process with the default action: start-up
 * loads hundreds of milliseconds of modules before the agent could install a handler of its own.
 */
export function holdSignals(): HeldSignals {
  const held: NodeJS.Signals[] = [];
  let handler: ((signal: NodeJS.Signals, held: boolean) => void) | undefined;
  for (const name of HELD_SIGNALS) {
    process.on(name, (signal: NodeJS.Signals) => {
      if (handler) handler(signal, false);
      // Several SIGHUPs before the agent runs ask for one reload of what it will have loaded.
      else if (!(signal === 'SIGHUP' && held.includes(signal))) held.push(signal);
    });
  }
  return {
    deliver(next) {
      handler = next;
      for (const signal of held.splice(0)) next(signal, true);
    },
  };
}

export interface LifecycleOptions {
  /** Started. */
  readonly agent: Agent;
  readonly log: Logger;
  readonly signals: HeldSignals;
  /** The config file, watched with the files it names; undefined in environment-only mode. */
  readonly path: string | undefined;
  /** Reads the config again for a reload, as serve read it at start. */
  readonly readConfig: () => Promise<AgentConfig>;
  /** watch.ts's, loaded by serve with the agent: the watcher starts as soon as the agent serves. */
  readonly watchConfig: typeof watchConfig;
}

/** Runs the started agent until signals stop it; resolves with the process's exit code. */
export async function supervise({ agent, log, signals, path, readConfig, watchConfig }: LifecycleOptions): Promise<number> {
  // Reloads run one after another: a SIGHUP during a file-triggered reload waits its turn.
  let watcher: ConfigWatcher | undefined;
  let reloading = Promise.resolve();
  const reload = (trigger: string) => {
    reloading = reloading.then(() => reloadOnce(trigger));
  };
  const reloadOnce = async (trigger: string) => {
    try {
      const next = await readConfig();
      await agent.reload(next);
      watcher?.update([path!, ...(next.files ?? [])]);
    } catch (error) {
      agent.metrics.configReloaded(false, Date.now());
      // As at start: the problems as a list, one line each; anything else as its message.
      log.error(`configuration reload failed (${trigger}); the running configuration stays`, {
        trigger,
        ...(error instanceof ConfigError ? { problems: problemsOf(error) } : { error: (error as Error).message }),
      });
    }
  };
  // The config file and every file it names (secrets, the details token): a change to any reloads.
  if (path) watcher = watchConfig([path, ...(agent.config.files ?? [])], () => reload('file change'), log);
  return await new Promise<number>((resolve) => {
    let draining = false;
    signals.deliver((signal, held) => {
      if (held) log.info('signal received during start-up: handled now', { signal });
      if (signal === 'SIGHUP') {
        reload('SIGHUP');
        return;
      }
      if (draining) {
        log.warn('second signal: exiting at once', { signal });
        resolve(signal === 'SIGINT' ? 130 : 143);
        return;
      }
      draining = true;
      const { drainDelayMs, drainMode } = agent.config.server;
      agent.drain();
      log.info('draining: every health group but live fails from now on', { signal, drainDelayMs, drainMode });
      const delay = new Promise<void>((wake) => setTimeout(wake, drainDelayMs).unref());
      // requests: nobody reads readiness any more (a native sidecar outlives its app), so the agent
      // stays only as long as a request is being answered.
      const drained = drainMode === 'requests' ? Promise.race([agent.idle(), delay]) : delay;
      void drained
        .then(() => {
          watcher?.close();
          return agent.stop();
        })
        .then(() => {
          log.info('vigil stopped');
          resolve(EXIT_OK);
        });
    });
  });
}
