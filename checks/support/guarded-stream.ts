// A socket that a driver reads through, so that nothing the peer sends can reach the process: a
// throw from any listener (a driver's parser choking on a malformed reply) fails this connection
// instead, and the peer may send only a bounded number of bytes.
import { Duplex } from 'node:stream';
import { CheckError } from '../../src/errors.js';

export interface GuardedSocketOptions {
  /** Names the peer in failure messages, without credentials, e.g. "postgres db:5432/app". */
  readonly target: string;
  /** Most bytes the peer may send over the connection's life; one more fails it with `protocol`. */
  readonly maxBytes: number;
  /**
   * Sees every chunk from the peer, in order, before the driver does. Throwing (a CheckError, for
   * its reason) fails the connection: where a protocol's framing can be checked cheaply (a declared
   * message length over a limit), it fails before the driver buffers anything.
   */
  readonly inspect?: (chunk: Buffer) => void;
  /**
   * Opens the underlying stream when the driver calls `connect(...args)` (for drivers that connect
   * the socket they are handed). `signal` aborts when the socket is destroyed before it opened.
   */
  readonly open?: (args: readonly unknown[], signal: AbortSignal) => Promise<Duplex>;
}

/**
 * Hands a driver a Duplex in place of its socket. Data from the underlying stream is counted,
 * inspected and passed on; a listener that throws, a byte over the budget or an inspector's
 * verdict destroys both streams and settles `failed` with a CheckError (reason `protocol` unless
 * the inspector chose one). The driver sees an ordinary socket error; the attempt should race
 * `failed` so that it ends at once whatever state the driver was left in.
 */
export class GuardedSocket extends Duplex {
  /** Rejects with the first contained failure; never resolves. */
  readonly failed: Promise<never>;
  readonly #options: GuardedSocketOptions;
  #reject!: (failure: CheckError) => void;
  #failure: CheckError | undefined;
  #inner: Duplex | undefined;
  #opening: AbortController | undefined;
  #bytesRead = 0;
  #noDelay: boolean | undefined;
  #keepAlive: [boolean, number | undefined] | undefined;

  constructor(options: GuardedSocketOptions) {
    super({ allowHalfOpen: false });
    this.#options = options;
    this.failed = new Promise<never>((_, reject) => (this.#reject = reject));
    // Nobody need be waiting on it: a failure is also delivered to the driver as a socket error.
    this.failed.catch(() => undefined);
  }

  /** The contained failure, if there was one. */
  get failure(): CheckError | undefined {
    return this.#failure;
  }

  /** Bytes received from the peer so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Reads and writes through `inner` from now on (an already connected stream). */
  attach(inner: Duplex): this {
    if (this.destroyed) {
      inner.destroy();
      return this;
    }
    this.#inner = inner;
    const socketLike = inner as Partial<SocketLike>;
    if (this.#noDelay !== undefined) socketLike.setNoDelay?.(this.#noDelay);
    if (this.#keepAlive) socketLike.setKeepAlive?.(...this.#keepAlive);
    inner.on('data', (chunk: Buffer) => this.#receive(chunk));
    inner.on('end', () => this.push(null));
    inner.on('error', (error) => this.destroy(error));
    inner.on('close', () => {
      this.push(null);
      // Whatever was received is delivered first (the driver reads synchronously).
      setImmediate(() => this.destroy());
    });
    inner.resume();
    return this;
  }

  /** Opens the underlying stream with `options.open`, or announces the attached one. */
  connect(...args: unknown[]): this {
    const open = this.#options.open;
    if (this.#inner || !open) {
      process.nextTick(() => this.emit('connect'));
      return this;
    }
    const opening = new AbortController();
    this.#opening = opening;
    open(args, opening.signal).then(
      (inner) => {
        this.#opening = undefined;
        if (this.destroyed) {
          inner.destroy();
          return;
        }
        this.attach(inner);
        this.emit('connect');
      },
      (error: unknown) => {
        this.#opening = undefined;
        this.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
    return this;
  }

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    (this.#inner as Partial<SocketLike> | undefined)?.setNoDelay?.(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay?: number): this {
    this.#keepAlive = [enable, initialDelay];
    (this.#inner as Partial<SocketLike> | undefined)?.setKeepAlive?.(enable, initialDelay);
    return this;
  }

  ref(): this {
    (this.#inner as Partial<SocketLike> | undefined)?.ref?.();
    return this;
  }

  unref(): this {
    (this.#inner as Partial<SocketLike> | undefined)?.unref?.();
    return this;
  }

  /** Every event the driver listens to passes here: a listener that throws fails the connection. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (error) {
      this.#contain(error);
      return true;
    }
  }

  override _read(): void {
    this.#inner?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#inner) {
      callback(new Error(`${this.#options.target}: write before the connection opened`));
      return;
    }
    this.#inner.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner?.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#opening?.abort();
    this.#inner?.destroy();
    callback(error);
  }

  #receive(chunk: Buffer): void {
    if (this.#failure || this.destroyed) return;
    this.#bytesRead += chunk.length;
    if (this.#bytesRead > this.#options.maxBytes) {
      this.#contain(new CheckError('protocol', `${this.#options.target} sent more than ${formatBytes(this.#options.maxBytes)}, the most one attempt reads`));
      return;
    }
    try {
      this.#options.inspect?.(chunk);
    } catch (error) {
      this.#contain(error);
      return;
    }
    // push() hands the chunk to the driver synchronously; a throw from its parser lands in emit().
    if (!this.push(chunk)) this.#inner?.pause();
  }

  #contain(error: unknown): void {
    if (this.#failure) return;
    this.#failure =
      error instanceof CheckError
        ? error
        : new CheckError('protocol', `${this.#options.target} sent a reply its client could not handle: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    this.#reject(this.#failure);
    this.#opening?.abort();
    this.#inner?.destroy();
    this.destroy(this.#failure);
  }
}

interface SocketLike {
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive(enable?: boolean, initialDelay?: number): unknown;
  ref(): unknown;
  unref(): unknown;
}

/** 1048576 -> "1 MiB", 65536 -> "64 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
