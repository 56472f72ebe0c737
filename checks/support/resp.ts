// The framing of the Redis protocol (RESP2 and RESP3), followed byte by byte as it arrives: where
// each message ends, so replies can be counted against commands, and layouts that a client's
// parser would misread refused before it sees them. Values are skipped, never kept.
import { formatBytes } from './guarded-socket.js';

export interface RespLimits {
  /** Called once per complete top-level message; what it throws ends the scan. */
  readonly onMessage: () => void;
  /** Longest string a message may declare, in bytes. */
  readonly maxStringBytes: number;
  /** Most elements one aggregate (array, set, map) may declare; a map's pairs count twice. */
  readonly maxElements: number;
  /** Deepest nesting of aggregates. */
  readonly maxDepth: number;
}

export interface RespScanner {
  /** Follows the next bytes of the stream; throws an Error saying what is wrong with them. */
  write(chunk: Buffer): void;
}

const CR = 0x0d;
const LF = 0x0a;
const T = {
  simpleString: 0x2b, // +
  simpleError: 0x2d, // -
  number: 0x3a, // :
  double: 0x2c, // ,
  bigNumber: 0x28, // (
  null: 0x5f, // _
  boolean: 0x23, // #
  blobString: 0x24, // $
  blobError: 0x21, // !
  verbatim: 0x3d, // =
  array: 0x2a, // *
  set: 0x7e, // ~
  map: 0x25, // %
  push: 0x3e, // >
} as const;
const LINE_TYPES = new Set<number>([T.simpleString, T.simpleError, T.number, T.double, T.bigNumber, T.null, T.boolean]);
const STRING_TYPES = new Set<number>([T.blobString, T.blobError, T.verbatim]);
const AGGREGATE_TYPES = new Set<number>([T.array, T.set, T.map]);
/** Enough of a line to read a length or a boolean; the rest of a long line is only skipped. */
const KEPT_LINE_CHARS = 24;

export function createRespScanner(limits: RespLimits): RespScanner {
  let state: 'type' | 'line' | 'lineEnd' | 'payload' | 'payloadCr' | 'payloadLf' = 'type';
  let type = 0;
  let line = '';
  let payloadLeft = 0;
  /** Elements still due in each open aggregate, outermost first. */
  const open: number[] = [];

  const valueDone = () => {
    for (;;) {
      if (open.length === 0) return limits.onMessage();
      const top = open.length - 1;
      open[top]! -= 1;
      if (open[top]! > 0) return;
      open.pop();
    }
  };

  const lineDone = () => {
    if (type === T.null) {
      if (line !== '') throw new Error('a null (_) carries a value');
      return valueDone();
    }
    if (type === T.boolean) {
      if (line !== 't' && line !== 'f') throw new Error('a boolean (#) is neither t nor f');
      return valueDone();
    }
    if (LINE_TYPES.has(type)) return valueDone();
    // A RESP2 null: $-1 and *-1.
    if (line === '-1' && (type === T.blobString || type === T.array)) return valueDone();
    if (!/^\d{1,10}$/.test(line)) throw new Error(`a length is not a number (${JSON.stringify(line)})`);
    const declared = Number(line);
    if (STRING_TYPES.has(type)) {
      if (declared > limits.maxStringBytes) {
        throw new Error(`a reply declared a ${declared}-byte string; an attempt reads at most ${formatBytes(limits.maxStringBytes)}`);
      }
      if (type === T.verbatim && declared < 4) throw new Error('a verbatim string (=) is shorter than its format prefix');
      payloadLeft = declared;
      state = declared === 0 ? 'payloadCr' : 'payload';
      return;
    }
    const elements = type === T.map ? declared * 2 : declared;
    if (elements > limits.maxElements) throw new Error(`an aggregate declared ${elements} elements; at most ${limits.maxElements} are read`);
    if (elements === 0) return valueDone();
    if (open.length >= limits.maxDepth) throw new Error(`aggregates nest deeper than ${limits.maxDepth}`);
    open.push(elements);
  };

  return {
    write(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]!;
        switch (state) {
          case 'type':
            if (!LINE_TYPES.has(byte) && !STRING_TYPES.has(byte) && !AGGREGATE_TYPES.has(byte)) throw new Error(unexpectedType(byte));
            type = byte;
            line = '';
            state = 'line';
            break;
          case 'line':
            if (byte === CR) state = 'lineEnd';
            else if (line.length < KEPT_LINE_CHARS) line += String.fromCharCode(byte);
            break;
          case 'lineEnd':
            if (byte !== LF) throw new Error('a line ends in CR without LF');
            state = 'type';
            lineDone();
            break;
          case 'payload': {
            const skipped = Math.min(payloadLeft, chunk.length - i);
            payloadLeft -= skipped;
            i += skipped - 1;
            if (payloadLeft === 0) state = 'payloadCr';
            break;
          }
          case 'payloadCr':
            if (byte !== CR) throw new Error('a string runs past its declared length');
            state = 'payloadLf';
            break;
          case 'payloadLf':
            if (byte !== LF) throw new Error('a string runs past its declared length');
            state = 'type';
            valueDone();
            break;
        }
      }
    },
  };
}

function unexpectedType(byte: number): string {
  if (byte === T.push) return 'a push message (>) arrived, though nothing was subscribed';
  const shown = byte >= 0x21 && byte <= 0x7e ? `"${String.fromCharCode(byte)}"` : `0x${byte.toString(16).padStart(2, '0')}`;
  return `a message starts with ${shown}, which is no RESP type`;
}
