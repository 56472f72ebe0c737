import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileReadError, MAX_CONFIG_BYTES, MAX_SECRET_BYTES, readBoundedFile, readConfigFile, readSecretFile } from '../../../src/config/read-file.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function reasonOf(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(FileReadError);
    return (error as Error).message;
  }
  throw new Error('expected the read to fail');
}

describe('files read without limits: regular files only, bounded, never blocking', () => {
  it('reads a regular file, through a symbolic link too', () => {
    writeFileSync(join(dir, 'secret'), 'pass\n');
    symlinkSync(join(dir, 'secret'), join(dir, 'link'));
    expect(readSecretFile(join(dir, 'secret'))).toBe('pass\n');
    expect(readSecretFile(join(dir, 'link'))).toBe('pass\n');
  });

  it('refuses /dev/zero at once instead of reading forever', () => {
    expect(reasonOf(() => readConfigFile('/dev/zero'))).toBe('not a regular file but a device');
    expect(reasonOf(() => readSecretFile('/dev/zero'))).toBe('not a regular file but a device');
  });

  it('refuses a FIFO without waiting for a writer', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(reasonOf(() => readSecretFile(fifo))).toBe('not a regular file but a named pipe (FIFO)');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a huge sparse file by its size, before reading it', () => {
    const huge = join(dir, 'huge');
    closeSync(openSync(huge, 'w'));
    truncateSync(huge, 4 * 1024 ** 3);
    expect(reasonOf(() => readConfigFile(huge))).toBe('4 GiB, more than the limit of 1 MiB');
    expect(reasonOf(() => readSecretFile(huge))).toBe('4 GiB, more than the limit of 64 KiB');
  });

  it('holds the limit exactly: the limit is read, one byte more is refused', () => {
    writeFileSync(join(dir, 'at-limit'), 'x'.repeat(MAX_SECRET_BYTES));
    writeFileSync(join(dir, 'over-limit'), 'x'.repeat(MAX_SECRET_BYTES + 1));
    expect(readSecretFile(join(dir, 'at-limit'))).toHaveLength(MAX_SECRET_BYTES);
    expect(reasonOf(() => readSecretFile(join(dir, 'over-limit')))).toBe('65537 bytes, more than the limit of 64 KiB');
    writeFileSync(join(dir, 'config-at-limit'), 'x'.repeat(MAX_CONFIG_BYTES));
    expect(readConfigFile(join(dir, 'config-at-limit'))).toHaveLength(MAX_CONFIG_BYTES);
  });

  it('holds the limit on what is read when the size says nothing (files under /proc report 0)', () => {
    expect(readBoundedFile('/proc/self/status', 64 * 1024)).toContain('VmRSS');
    expect(reasonOf(() => readBoundedFile('/proc/self/status', 16))).toBe('more than the limit of 16 bytes');
  });

  it('names a folder, a missing file and a path through a file in words', () => {
    expect(reasonOf(() => readSecretFile(dir))).toBe('not a regular file but a folder');
    expect(reasonOf(() => readSecretFile(join(dir, 'missing')))).toBe('no such file');
    expect(reasonOf(() => readSecretFile(join(dir, 'secret', 'below')))).toBe('a part of the path is not a folder');
  });
});
