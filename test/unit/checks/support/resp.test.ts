import { describe, expect, it } from 'vitest';
import { createRespScanner } from '../../../../checks/support/resp.js';

/** Messages counted in `bytes`, fed whole and then one byte at a time (they must agree). */
function count(bytes: string): number {
  const counts = [[Buffer.from(bytes, 'latin1')], [...Buffer.from(bytes, 'latin1')].map((b) => Buffer.of(b))].map((chunks) => {
    let messages = 0;
    const scanner = createRespScanner({ onMessage: () => void messages++, maxStringBytes: 1024, maxElements: 16, maxDepth: 3 });
    for (const chunk of chunks) scanner.write(chunk);
    return messages;
  });
  expect(counts[0]).toBe(counts[1]);
  return counts[0]!;
}

describe('RESP framing, followed as it arrives (a malformed Redis reply kills the whole agent)', () => {
  it('counts the messages of RESP2 and RESP3 replies', () => {
    expect(count('+PONG\r\n')).toBe(1);
    expect(count('$-1\r\n$-1\r\n')).toBe(2);
    expect(count('_\r\n_\r\n')).toBe(2);
    expect(count('%1\r\n_\r\n_\r\n_\r\n')).toBe(2);
    expect(count('*2\r\n$3\r\nfoo\r\n:42\r\n-ERR x\r\n')).toBe(2);
    expect(count('%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n+proto\r\n:3\r\n')).toBe(1);
    expect(count('*0\r\n~1\r\n#t\r\n=8\r\ntxt:abcd\r\n,1.5\r\n(12345\r\n!3\r\nERR\r\n*-1\r\n')).toBe(7);
    expect(count('$5\r\nab\r\nc\r\n')).toBe(1);
  });

  it.each([
    ['>1\r\n_\r\n', /push message/],
    ['?\r\n', /starts with "\?"/],
    ['SSH-2.0-OpenSSH\r\n', /starts with "S"/],
    ['_x\r\n', /null \(_\) carries a value/],
    ['#x\r\n', /boolean/],
    ['$abc\r\n', /length is not a number/],
    ['$-2\r\n', /length is not a number/],
    ['%-1\r\n', /length is not a number/],
    ['$2000000000\r\n', /2000000000-byte string; an attempt reads at most 1 KiB/],
    ['*17\r\n', /17 elements; at most 16/],
    ['%9\r\n', /18 elements/],
    ['*1\r\n*1\r\n*1\r\n*1\r\n', /nest deeper than 3/],
    ['$3\r\nabcd\r\n', /runs past its declared length/],
    ['+OK\rX', /CR without LF/],
    ['=2\r\nab\r\n', /shorter than its format prefix/],
  ])('refuses %j', (bytes, message) => {
    const scanner = createRespScanner({ onMessage: () => undefined, maxStringBytes: 1024, maxElements: 16, maxDepth: 3 });
    expect(() => scanner.write(Buffer.from(bytes, 'latin1'))).toThrow(message);
  });
});
