// Starts the real gRPC health server of grpc-health-server.mjs in a process of its own (the server's
// work on the other core, as a real dependency's would be) and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process';

export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface GrpcHealthServerOptions {
  /** Status per service name. Default { "": SERVING }. */
  readonly statuses?: Record<string, number>;
  /** Without the health service: every call is UNIMPLEMENTED. */
  readonly withoutHealth?: boolean;
  /** The `authorization` value a call must carry; a wrong one is quoted back in the status details. */
  readonly requiredAuthorization?: string;
  /** PEM files of the server's certificate and key: TLS. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Answer with these bytes instead of an encoded response. */
  readonly rawResponse?: Buffer;
  /** The port to listen on (a restarted server on the same one). Default: a free one. */
  readonly port?: number;
  /** Sends a connection a GOAWAY once it is this old (grpc.max_connection_age_ms). */
  readonly maxConnectionAgeMs?: number;
}

export interface GrpcHealthServer {
  readonly host: string;
  readonly port: number;
  /** Sets (or with undefined removes) a service's status. */
  setStatus(service: string, status: number | undefined): Promise<void>;
  /** What the latest calls asked: the service name, and the :authority they were sent to. */
  calls(): Promise<{ service: string; authority: string }[]>;
  /** Remote ports of the HTTP/2 sessions open on the server right now. */
  openPorts(): Promise<number[]>;
  /** HTTP/2 sessions (connections) the server accepted since it started. */
  accepted(): Promise<number>;
  stop(): Promise<void>;
}

const SCRIPT = new URL('./grpc-health-server.mjs', import.meta.url).pathname;

export async function startGrpcHealthServer(options: GrpcHealthServerOptions = {}): Promise<GrpcHealthServer> {
  const { rawResponse, ...rest } = options;
  const child: ChildProcess = fork(SCRIPT, [JSON.stringify({ ...rest, ...(rawResponse ? { rawResponseHex: rawResponse.toString('hex') } : {}) })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(message: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (reply: { type: string } & T) => {
        if (reply.type !== message.type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(reply);
      };
      const onExit = (code: number | null) => reject(new Error(`the gRPC health server exited (${code})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(message);
    });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (message: { type: string; port: number }) => resolve(message));
    child.once('exit', (code) => reject(new Error(`the gRPC health server exited (${code}) before it listened`)));
  });
  let exited = child.exitCode !== null;
  const whenExited = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  return {
    host: '127.0.0.1',
    port,
    setStatus: async (service, status) => void (await ask({ type: 'setStatus', service, status: status ?? null })),
    calls: async () => (await ask<{ calls: { service: string; authority: string }[] }>({ type: 'calls' })).calls,
    openPorts: async () => (await ask<{ ports: number[] }>({ type: 'ports' })).ports,
    accepted: async () => (await ask<{ accepted: number }>({ type: 'accepted' })).accepted,
    async stop() {
      if (exited) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await whenExited;
      clearTimeout(timer);
    },
  };
}
