// Counts the HTTP requests being answered, so that a drain can end as soon as none is left.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface InFlight {
  /** A 'request' listener for the HTTP server. */
  readonly track: (request: IncomingMessage, response: ServerResponse) => void;
  /** Requests received and not yet answered (or abandoned by their client). */
  readonly count: number;
  /** Resolves once no request is in flight: at once when none is. */
  idle(): Promise<void>;
}

export function createInFlight(): InFlight {
  let count = 0;
  const waiters: (() => void)[] = [];
  const settled = () => {
    count--;
    if (count === 0) for (const wake of waiters.splice(0)) wake();
  };
  return {
    track(_request, response) {
      count++;
      // 'close' follows the last byte of the response, or the connection's end, whichever comes first.
      response.once('close', settled);
    },
    get count() {
      return count;
    },
    idle() {
      return count === 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve));
    },
  };
}
