// A stream a driver takes in place of its socket (node-postgres's and mysql2's `stream` option) and
// connects as if it were one: connect() opens the real connection with the kind's own code (a TLS
// negotiation the kind does itself, say), upgrade() wraps it mid-stream (a STARTTLS the kind does in
// place of the driver), and data passes through. Guard it like any socket (guarded-socket.ts).
import { Duplex } from 'node:stream';

export interface ConnectableStreamOptions {
  /**
   * Opens the underlying stream when the driver calls `connect(...args)`. `signal` aborts when the
   * stream is destroyed before it opened.
   */
  readonly open?: (args: readonly unknown[], signal: AbortSignal) => Promise<Duplex>;
}

/** A Duplex that reads and writes through the stream `open` (or `attach`) gives it. */
export class ConnectableStream extends Duplex {
  readonly #options: ConnectableStreamOptions;
  #inner: Duplex | undefined;
  /** The stream being upgraded: no longer read from, still to be destroyed with this one. */
  #upgrading: Duplex | undefined;
  #detach: (() => void) | undefined;
  #opening: AbortController | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: [boolean, number | undefined] | undefined;

  constructor(options: ConnectableStreamOptions = {}) {
    super({ allowHalfOpen: false });
    this.#options = options;
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
    const onData = (chunk: Buffer) => {
      if (!this.destroyed && !this.push(chunk)) inner.pause();
    };
    const onEnd = () => this.push(null);
    const onError = (error: Error) => this.destroy(error);
    const onClose = () => {
      this.push(null);
      // Whatever was received is delivered first (the driver reads synchronously).
      setImmediate(() => this.destroy());
    };
    inner.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    this.#detach = () => void inner.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    inner.resume();
    return this;
  }

  /**
   * Hands the underlying stream to `wrap` (a TLS handshake over it, say) and reads and writes through
   * what it resolves with from then on. Nothing is read from the stream meanwhile; a rejection
   * destroys this stream with that error (and rejects with it).
   */
  async upgrade(wrap: (inner: Duplex) => Promise<Duplex>): Promise<void> {
    const inner = this.#inner;
    if (!inner || this.destroyed) throw new Error('upgrade of a stream that is not open');
    this.#detach?.();
    this.#inner = undefined;
    this.#upgrading = inner;
    inner.pause();
    try {
      const upgraded = await wrap(inner);
      this.#upgrading = undefined;
      this.attach(upgraded);
    } catch (error) {
      this.#upgrading = undefined;
      inner.destroy();
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
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

  override _read(): void {
    this.#inner?.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (!this.#inner) {
      callback(new Error('write before the connection opened'));
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
    this.#upgrading?.destroy();
    this.#inner?.destroy();
    callback(error);
  }
}

interface SocketLike {
  setNoDelay(noDelay?: boolean): unknown;
  setKeepAlive(enable?: boolean, initialDelay?: number): unknown;
  ref(): unknown;
  unref(): unknown;
}
