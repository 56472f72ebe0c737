// Reading the small files a check names (certificates, keys) without trusting them: regular files
// only, never blocking on a FIFO, never more than a limit.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { formatBytes } from './guarded-socket.js';

/**
 * The content of the regular file at `path`, at most `maxBytes`. Rejects with a plain Error whose
 * message says what is wrong with the file (missing, not a regular file, too large).
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    if (stat.size > maxBytes) throw new Error(`${path} is larger than ${formatBytes(maxBytes)}`);
    // One byte more than the file should hold, to notice a file that grew since stat.
    const buffer = Buffer.alloc(stat.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) throw new Error(`${path} changed while it was read`);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
