// Watches the config file and the files it names (VAR_FILE secrets, the details token) and calls back,
// debounced, when the content of any of them changes. It watches folders, not files, so an in-place
// write, an atomic rename over a file and Kubernetes' ConfigMap and Secret updates (a swap of the
// `..data` symlink the file points through) are all seen; and it follows symbolic links, watching
// the folder of the link and of each target, so a file that is a link into another folder is seen too.
import { createHash } from 'node:crypto';
import { lstatSync, readlinkSync, realpathSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from './log.js';
import { MAX_CONFIG_BYTES, readBoundedFile } from './config/read-file.js';

const DEBOUNCE_MS = 250;
/** Symbolic links followed from one file, as the kernel's own limit (ELOOP) does. */
const MAX_LINKS = 40;

export interface ConfigWatcher {
  /** The set of files changed (a reload read other secret files): watch these from now on. */
  update(files: readonly string[]): void;
  close(): void;
}

/** files[0] is the config file; the others are files it names. */
export function watchConfig(files: readonly string[], onChange: () => void, log: Logger): ConfigWatcher {
  // The last content seen of each file: a file new to the set gets its baseline when it is added.
  const digests = new Map<string, string | undefined>();
  const watchers = new Map<string, FSWatcher>();
  let current: readonly string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let isClosed = false;

  const fire = () => {
    if (isClosed) return;
    let changed = false;
    for (const file of current) {
      const now = digest(file, file === current[0]);
      // The config file missing for a moment (mid-rename): nothing to do; the next event retries.
      if (now === undefined) return;
      if (now !== digests.get(file)) changed = true;
      digests.set(file, now);
    }
    // The links may point elsewhere now (a ..data swap): watch the folders they lead to.
    arm();
    if (changed) onChange();
  };
  const onEvent = () => {
    clearTimeout(timer);
    timer = setTimeout(fire, DEBOUNCE_MS);
  };
  const arm = () => {
    const wanted = new Set(current.flatMap(foldersOf));
    for (const [folder, watcher] of watchers) {
      if (!wanted.has(folder)) {
        watcher.close();
        watchers.delete(folder);
      }
    }
    for (const folder of wanted) {
      if (watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, { persistent: false }, onEvent);
        watcher.on('error', (error) => {
          log.warn('watching a config folder failed; SIGHUP still reloads', { folder, error: error.message });
          watcher.close();
          watchers.delete(folder);
        });
        watchers.set(folder, watcher);
      } catch (error) {
        // A secret's folder may not exist yet; the config's folder always does unless it is unreadable.
        log.warn('cannot watch a config folder; SIGHUP still reloads', { folder, error: (error as Error).message });
      }
    }
  };
  const update = (next: readonly string[]) => {
    current = [...new Set(next)];
    for (const file of digests.keys()) if (!current.includes(file)) digests.delete(file);
    for (const file of current) if (!digests.has(file)) digests.set(file, digest(file, file === current[0]));
    arm();
  };

  update(files);
  return {
    update(next) {
      if (!isClosed) update(next);
    },
    close() {
      isClosed = true;
      clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

/** The folders whose entries decide what `file` reads: its own and, through every link, each target's. */
export function foldersOf(file: string): string[] {
  const folders = new Set<string>();
  let path = resolve(file);
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    folders.add(dirname(path));
    let target: string;
    try {
      if (!lstatSync(path).isSymbolicLink()) break;
      target = readlinkSync(path);
    } catch {
      // Missing for now: its folder is watched, so its creation is seen.
      break;
    }
    path = resolve(dirname(path), target);
  }
  try {
    // A link among the folders of the path (not the file itself) leads elsewhere too.
    folders.add(dirname(realpathSync(file)));
  } catch {
    // Missing or a broken link: the folders above already cover where it will appear.
  }
  return [...folders];
}

/**
 * A digest of the file's content; for an unreadable file, of the reason (so a change to or from
 * unreadable is seen and the reload reports it). Undefined only for a missing config file.
 */
function digest(file: string, isConfig: boolean): string | undefined {
  let content: string;
  try {
    content = readBoundedFile(file, MAX_CONFIG_BYTES);
  } catch (error) {
    if (isConfig && ((error as Error).cause as { code?: string } | undefined)?.code === 'ENOENT') return undefined;
    content = `\0unreadable: ${(error as Error).message}`;
  }
  return createHash('sha256').update(content).digest('hex');
}
