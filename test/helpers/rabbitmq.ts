// The local RabbitMQ as the broker itself sees it: connections listed by rabbitmqctl (the
// management plugin is not enabled here), run as root like the tests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BrokerConnection {
  readonly peerPort: number;
  readonly product: string;
  readonly state: string;
}

/** Every client connection the broker holds, with the product its client announced. */
export async function brokerConnections(): Promise<BrokerConnection[]> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'peer_port', 'state', 'client_properties'], { timeout: 10_000 });
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [port, state, properties = ''] = line.split('\t');
      return { peerPort: Number(port), state: state ?? '', product: /\{"product","([^"]*)"\}/.exec(properties)?.[1] ?? '' };
    });
}

/** Connections vigil opened (product vigil) from one of `ports`. */
export async function vigilConnectionsFrom(ports: readonly number[]): Promise<BrokerConnection[]> {
  const wanted = new Set(ports);
  return (await brokerConnections()).filter((c) => c.product === 'vigil' && wanted.has(c.peerPort));
}

/** Has the broker close one connection, as an operator would (connection.close 320 CONNECTION_FORCED). */
export async function closeConnectionFrom(peerPort: number, reason: string): Promise<void> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', '--no-table-headers', 'pid', 'peer_port'], { timeout: 10_000 });
  const pid = stdout.split('\n').find((line) => line.split('\t')[1] === String(peerPort))?.split('\t')[0];
  if (!pid) throw new Error(`no broker connection from port ${peerPort}`);
  await run('rabbitmqctl', ['close_connection', pid, reason], { timeout: 10_000 });
}
