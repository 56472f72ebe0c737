// The framing of what a NATS server sends a client (INFO, MSG, HMSG, PING, PONG, +OK, -ERR),
// followed byte by byte as it arrives, so that a client's parser only ever meets what it can read:
// control lines and payloads bounded, INFO readable, anything else refused. Payloads are skipped,
// never kept.
import { formatBytes } from './guarded-socket.js';
import { peerText } from './peer-text.js';

export interface NatsLimits {
  /** Longest control line (the operation and its arguments, up to CR LF), in bytes. */
  readonly maxControlLine: number;
  /** Largest payload one MSG or HMSG may declare, in bytes. */
  readonly maxPayloadBytes: number;
  /** Called with each INFO the server sends, parsed. */
  readonly onInfo?: (info: Readonly<Record<string, unknown>>) => void;
  /** Called with the text of each -ERR the server sends (quotes removed). */
  readonly onError?: (text: string) => void;
}

export interface NatsScanner {
  /** Follows the next bytes of the stream; throws an Error saying what is wrong with them. */
  write(chunk: Buffer): void;
}

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;

/** The operations a server sends, as the client parser reads them (case does not matter). */
const OPERATIONS = ['INFO', 'MSG', 'HMSG', 'PING', 'PONG', '+OK', '-ERR'] as const;
type Operation = (typeof OPERATIONS)[number];
/** Operations with arguments after a space; the others end their line at once. */
const WITH_ARGUMENTS = new Set<Operation>(['INFO', 'MSG', 'HMSG', '-ERR']);

/**
 * A scanner of one connection's server-to-client stream. Stricter than the client's parser where
 * that costs a real server nothing (a CR only before LF, a payload followed by CR LF): whatever it
 * accepts, the parser reads without throwing.
 */
export function createNatsScanner(limits: NatsLimits): NatsScanner {
  let state: 'line' | 'lineEnd' | 'payload' | 'payloadCr' | 'payloadLf' = 'line';
  /** The control line so far, as text (bytes as latin1: JSON and numbers are ASCII). */
  let line = '';
  let payloadLeft = 0;

  const lineDone = () => {
    const operation = operationOf(line);
    if (operation === undefined) throw new Error(`${describe(line)} is no NATS operation`);
    const rest = line.slice(operation.length);
    if (!WITH_ARGUMENTS.has(operation)) {
      if (rest !== '') throw new Error(`${operation} carries ${describe(rest)}`);
      return;
    }
    if (rest[0] !== ' ' && rest[0] !== '\t') throw new Error(`${describe(line)} is no NATS operation`);
    const argument = rest.replace(/^[ \t]+/, '');
    switch (operation) {
      case 'INFO':
        return limits.onInfo?.(readInfo(argument));
      case '-ERR':
        return limits.onError?.(argument.replace(/^'(.*)'$/, '$1'));
      case 'MSG':
      case 'HMSG':
        return startPayload(operation, argument);
    }
  };

  const startPayload = (operation: 'MSG' | 'HMSG', argument: string) => {
    const fields = argument.split(/[ \t]+/).filter((field) => field !== '');
    // MSG <subject> <sid> [reply-to] <size>; HMSG <subject> <sid> [reply-to] <header size> <size>.
    const counts = operation === 'MSG' ? [3, 4] : [4, 5];
    if (!counts.includes(fields.length)) throw new Error(`${operation} has ${fields.length} fields, expected ${counts.join(' or ')}`);
    const numbers = fields.slice(operation === 'MSG' ? -1 : -2);
    const sid = fields[1]!;
    for (const value of [sid, ...numbers]) {
      if (!/^\d{1,10}$/.test(value)) throw new Error(`${operation} has ${describe(value)} where a number goes`);
    }
    const size = Number(numbers[numbers.length - 1]);
    if (operation === 'HMSG' && Number(numbers[0]) > size) throw new Error(`HMSG declares ${numbers[0]} bytes of headers in a message of ${size}`);
    if (size > limits.maxPayloadBytes) {
      throw new Error(`a ${operation} declared a ${size}-byte payload; an attempt reads at most ${formatBytes(limits.maxPayloadBytes)}`);
    }
    payloadLeft = size;
    state = size === 0 ? 'payloadCr' : 'payload';
  };

  return {
    write(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        switch (state) {
          case 'line':
            if (byte === CR) {
              state = 'lineEnd';
              break;
            }
            if (byte === LF) throw new Error('a control line ends in LF without CR');
            if (line.length >= limits.maxControlLine) {
              throw new Error(`a control line (${describe(line.slice(0, 16))}…) runs past ${formatBytes(limits.maxControlLine)}`);
            }
            // The operation is known by its first letters: refuse at once what starts no operation.
            if (line.length < 5 && !OPERATIONS.some((op) => startsLike(op, line + String.fromCharCode(byte)))) {
              throw new Error(`${describe(line + chunk.subarray(i, i + 24).toString('latin1'))} starts no NATS operation`);
            }
            line += String.fromCharCode(byte);
            break;
          case 'lineEnd':
            if (byte !== LF) throw new Error('a control line has CR without LF');
            state = 'line';
            lineDone();
            line = '';
            break;
          case 'payload': {
            const skipped = Math.min(payloadLeft, chunk.length - i);
            payloadLeft -= skipped;
            i += skipped - 1;
            if (payloadLeft === 0) state = 'payloadCr';
            break;
          }
          case 'payloadCr':
            if (byte !== CR) throw new Error('a message runs past its declared size');
            state = 'payloadLf';
            break;
          case 'payloadLf':
            if (byte !== LF) throw new Error('a message runs past its declared size');
            state = 'line';
            break;
        }
      }
    },
  };
}

/** Whether `text` (the start of a line) could still be `operation`, followed by a space or the line end. */
function startsLike(operation: Operation, text: string): boolean {
  const upper = text.toUpperCase();
  if (upper.length <= operation.length) return operation.startsWith(upper);
  return upper.startsWith(operation) && WITH_ARGUMENTS.has(operation) && (upper[operation.length] === ' ' || upper[operation.length] === '\t');
}

/** The operation a complete control line starts with; MSG before HMSG is no matter: their first letters differ. */
function operationOf(line: string): Operation | undefined {
  const upper = line.slice(0, 5).toUpperCase();
  return OPERATIONS.find((op) => upper.startsWith(op) && (line.length === op.length || line[op.length] === ' ' || line[op.length] === '\t'));
}

/**
 * INFO's argument as the client reads it: a JSON object whose version is a dotted triple (the
 * client derives the server's features from it, and throws where it cannot).
 */
function readInfo(argument: string): Readonly<Record<string, unknown>> {
  let info: unknown;
  try {
    info = JSON.parse(Buffer.from(argument, 'latin1').toString('utf8'));
  } catch {
    throw new Error(`INFO is not JSON: ${describe(argument)}`);
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw new Error(`INFO is not a JSON object: ${describe(argument)}`);
  const version = (info as { version?: unknown }).version;
  if (typeof version !== 'string' || !/\d+.\d+.\d+/.test(version)) throw new Error(`INFO names no server version: ${describe(argument)}`);
  return info as Record<string, unknown>;
}

function describe(text: string): string {
  return JSON.stringify(peerText(text, 40));
}
