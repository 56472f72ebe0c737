// Settling an attempt at the moment its signal aborts, whatever a driver's own promise does: some
// drivers settle seconds after being told to close (ioredis waits for a graceful close that a hung
// peer never answers), and the core would have to skip the next attempt until they do.

/**
 * Runs `work` until it settles or `signal` aborts. On abort, `onAbort` releases the driver's
 * resources and the returned promise rejects with the signal's reason at once; the work's late
 * outcome is ignored. The listener is removed when the race ends.
 */
export function untilAborted<T>(signal: AbortSignal, work: () => Promise<T>, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(signal.reason);
  }
  // One promise, settled by whichever comes first (no race of two: this runs at every attempt).
  // The work may reject after the abort has answered: its rejection is handled here all the same.
  return new Promise<T>((resolve, reject) => {
    const listener = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener('abort', listener, { once: true });
    const settle = (error: unknown) => {
      signal.removeEventListener('abort', listener);
      reject(error);
    };
    let running: Promise<T>;
    try {
      running = work();
    } catch (error) {
      return settle(error);
    }
    running.then((value) => {
      signal.removeEventListener('abort', listener);
      resolve(value);
    }, settle);
  });
}
