// A connection's first failure (a socket error, a guard's refusal, the server closing it), and a
// way to race one attempt's work against it. A kept connection serves thousands of attempts: a race
// with a promise of the connection's whole life (Promise.race with a `failed` promise, a client's
// `closed()`) would leave one reaction on it per attempt until the connection ends. Here each race
// registers a waiter and removes it the moment the race settles.

export interface FailureLatch<E> {
  /** Records the first failure and fails every race in progress with it; later failures are ignored. */
  fail(error: E): void;
  /** The first failure, if any. */
  failure(): E | undefined;
  /**
   * Settles as `work` does, or rejects first with the connection's failure (at once if it already
   * failed). Nothing of the race stays on the latch once it settled.
   */
  race<T>(work: Promise<T>): Promise<T>;
}

export function createFailureLatch<E>(): FailureLatch<E> {
  let failure: { readonly error: E } | undefined;
  const waiters = new Set<(error: E) => void>();
  return {
    fail(error) {
      if (failure) return;
      failure = { error };
      const woken = [...waiters];
      waiters.clear();
      for (const wake of woken) wake(error);
    },
    failure: () => failure?.error,
    race<T>(work: Promise<T>): Promise<T> {
      if (failure) {
        // The work's own outcome is then nobody's concern.
        work.catch(ignore);
        return Promise.reject(failure.error);
      }
      return new Promise<T>((resolve, reject) => {
        const waiter = (error: E) => reject(error);
        waiters.add(waiter);
        work.then(
          (value) => {
            waiters.delete(waiter);
            resolve(value);
          },
          (error: unknown) => {
            waiters.delete(waiter);
            reject(error);
          },
        );
      });
    },
  };
}

function ignore(): void {
  // A late outcome of work that lost its race.
}
