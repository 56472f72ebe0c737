// Watches the config file for changes and calls back, debounced. It watches the file's folder, not
// the file, so an in-place write, an atomic rename over the file and Kubernetes' ConfigMap update
// (a swap of the `..data` symlink the file points through) are all seen. Only a change of content
// calls back.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from './log.js';
import { MAX_CONFIG_BYTES, readBoundedFile } from './config/read-file.js';

const DEBOUNCE_MS = 250;

export function watchConfig(path: string, onChange: () => void, log: Logger): () => void {
  let last = digest(path);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: FSWatcher | undefined;
  const fire = () => {
    const now = digest(path);
    // Missing for a moment (mid-rename) or unchanged: nothing to do; the next event retries.
    if (now === undefined || now === last) return;
    last = now;
    onChange();
  };
  try {
    watcher = watch(dirname(path), { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(fire, DEBOUNCE_MS);
    });
    watcher.on('error', (error) => log.warn('config file watch failed; SIGHUP still reloads', { error: error.message }));
  } catch (error) {
    log.warn('cannot watch the config file; SIGHUP still reloads', { error: (error as Error).message });
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}

/**
 * A digest of the file's content, read bounded and without blocking (it may have been replaced by
 * a FIFO or a huge file); for an unreadable file, of the reason, so the reload reports it.
 * Undefined only while the file is missing (mid-rename).
 */
function digest(path: string): string | undefined {
  let content: string;
  try {
    content = readBoundedFile(path, MAX_CONFIG_BYTES);
  } catch (error) {
    if (((error as Error).cause as { code?: string } | undefined)?.code === 'ENOENT') return undefined;
    content = `\0unreadable: ${(error as Error).message}`;
  }
  return createHash('sha256').update(content).digest('hex');
}
