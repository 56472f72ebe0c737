// What the conformance suite needs of each registered check type: a fixture in fixtures/<type>.ts.
// The suite (conformance.test.ts) proves the same properties for every kind with it; adding a kind
// means adding its fixture, and the suite fails for a registered kind without one.
import type { FailureReason } from '../../src/errors.js';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface Server extends Address {
  stop(): Promise<void>;
}

/** A fault the kind's transport cannot meet, and why: the suite reports the fault as not applicable, with the reason. */
export interface NotApplicable {
  readonly notApplicable: string;
}

export interface ConformanceFixture {
  /**
   * How the kind talks to its server. 'tcp' (the default): the faults come from the shared TCP fault
   * proxy and blackhole. 'udp': datagrams; the suite's UDP peers play the server that never answers
   * and the one that speaks garbage, the closed port is a UDP one, and the mixed run asks the real
   * server directly. Only such a kind may declare the faults of a connection (reset, drip) not
   * applicable.
   */
  readonly transport?: 'tcp' | 'udp';
  /** A real server of the kind, healthy (the shared local service, or one the fixture starts). */
  start(): Promise<Server>;
  /**
   * The kind's options for a server at `address` (the real one, a closed port, a fault proxy in
   * front of the real one). With `secret`, the options carry it where a user's credential goes (a
   * URL password, an Authorization header), written as `secretReference` so the config marks it.
   */
  options(address: Address, secretReference?: string): Record<string, unknown>;
  /** Whether the kind's options can carry a credential at all (a tcp check has none). */
  readonly carriesSecrets: boolean;
  /** What the kind reports for each fault; 'pass' for a fault it cannot see (a tcp connect to a hung server). */
  readonly expects: {
    /** The outcomes any of which is right for a peer that resets the connection after accepting it. */
    readonly reset: readonly (FailureReason | 'pass')[] | NotApplicable;
    readonly garbage: 'pass' | FailureReason;
    readonly hang: 'pass' | 'timeout';
    readonly drip: 'pass' | 'timeout' | NotApplicable;
  };
  /**
   * Connections of this kind open on the real server right now, among those coming from `ports`
   * (the local ports of a fault proxy's upstream side): what the server itself reports where it can
   * (pg_stat_activity, CLIENT LIST).
   */
  serverConnections?(ports: readonly number[]): Promise<number>;
  /** One URL per scheme the kind serves in environment-only mode, and what fromUrl must make of it. */
  readonly urls: readonly { readonly url: string; readonly options: Record<string, unknown> }[];
  /** Releases what start() and serverConnections need (admin clients). */
  close?(): Promise<void>;
}
