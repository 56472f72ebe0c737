// Settling an attempt at the moment its signal aborts, whatever a driver's own promise does: some
// drivers settle seconds after being told to close (ioredis waits for a graceful close that a hung
// peer never answers), and the core would have to skip the next attempt until they do.

/**
 * Runs `work` until it settles or `signal` aborts. On abort, `onAbort` releases the driver's
 * resources and the returned promise rejects with the signal's reason at once; the work's late
 * outcome is ignored. The listener is removed when the race ends.
 */
export async function untilAborted<T>(signal: AbortSignal, work: () => Promise<T>, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort();
    throw signal.reason;
  }
  let listener!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    listener = () => {
      onAbort();
      reject(signal.reason);
    };
    signal.addEventListener('abort', listener, { once: true });
  });
  const running = work();
  // The work may reject after the abort has answered: nobody awaits it then.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, aborted]);
  } finally {
    signal.removeEventListener('abort', listener);
  }
}
