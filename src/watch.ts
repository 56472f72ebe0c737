// Watches a file (the config, the details token) for changes and calls back, debounced. It watches
// the file's folder, not the file, so an in-place write, an atomic rename over the file and
// Kubernetes' ConfigMap and Secret updates (a swap of the `..data` symlink the file points through)
// are all seen. Only a change of content calls back.
import { createHash } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from './log.js';

const DEBOUNCE_MS = 250;

export function watchConfig(path: string, onChange: () => void, log: Logger): () => void {
  return watchFile(path, onChange, log, 'config file');
}

/** Calls onChange when the content of `path` changes; `what` names the file in log lines. */
export function watchFile(path: string, onChange: () => void, log: Logger, what: string): () => void {
  let last = digest(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: FSWatcher | undefined;
  const fire = () => {
    const now = digest(path);
    // Unreadable for a moment (mid-rename) or unchanged: nothing to do; the next event retries.
    if (now === undefined || now === last) return;
    last = now;
    onChange();
  };
  try {
    watcher = watch(dirname(path), { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(fire, DEBOUNCE_MS);
    });
    watcher.on('error', (error) => log.warn(`${what} watch failed; SIGHUP still reloads`, { error: error.message }));
  } catch (error) {
    log.warn(`cannot watch the ${what}; SIGHUP still reloads`, { error: (error as Error).message });
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}

function digest(path: string): string | undefined {
  try {
    // A FIFO or a device would block the event loop or never end.
    if (!statSync(path).isFile()) return undefined;
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}
