// Reads the files the agent is pointed at (the config, VAR_FILE secrets, the details token): regular
// files only, opened without blocking so a FIFO never waits for a writer, and never more than a limit,
// so /dev/zero or a huge file is refused instead of filling memory.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/** The largest config file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** The largest secret file (VAR_FILE, server.detailsTokenFile) read. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** A file that could not be read; the message says why in words (no such file, not a regular file, too large). */
export class FileReadError extends Error {
  override readonly name = 'FileReadError';
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is not a folder',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'the path is too long',
};

// O_NONBLOCK: opening a FIFO for reading otherwise waits until some process opens it for writing.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0);

/** The content of a regular file of at most maxBytes, as UTF-8; throws FileReadError otherwise. */
export function readBoundedFile(path: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    throw new FileReadError(Object.hasOwn(REASONS, code) ? REASONS[code]! : (error as Error).message, { cause: error });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new FileReadError(`not a regular file but ${describeKind(stats)}`);
    if (stats.size > maxBytes) throw new FileReadError(`${sizeOver(stats.size, maxBytes)}, more than the limit of ${formatBytes(maxBytes)}`);
    // Read up to one byte past the limit: the size from fstat may be stale (a growing file) or 0
    // (files under /proc), so the limit is enforced on what is actually read.
    const buffer = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stats.size + 1, 4096)));
    let length = 0;
    let chunk = buffer;
    for (;;) {
      if (length === chunk.length) {
        if (chunk.length > maxBytes) throw new FileReadError(`more than the limit of ${formatBytes(maxBytes)}`);
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, chunk.length * 2));
        chunk.copy(grown, 0, 0, length);
        chunk = grown;
      }
      const read = readSync(fd, chunk, length, chunk.length - length, null);
      if (read === 0) break;
      length += read;
    }
    return chunk.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** A VAR_FILE secret or the details token: a regular file of at most 64 KiB. */
export function readSecretFile(path: string): string {
  return readBoundedFile(path, MAX_SECRET_BYTES);
}

/** The config file: a regular file of at most 1 MiB. */
export function readConfigFile(path: string): string {
  return readBoundedFile(path, MAX_CONFIG_BYTES);
}

/** The size of a file over the limit: in bytes when rounding would make it read as the limit itself. */
function sizeOver(bytes: number, maxBytes: number): string {
  return formatBytes(bytes) === formatBytes(maxBytes) ? `${bytes} bytes` : formatBytes(bytes);
}

function describeKind(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'a special file';
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 * 1024) return `${+(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 * 1024) return `${+(bytes / 1024 ** 2).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
