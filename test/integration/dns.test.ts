// The dns check against a real resolver (dnsmasq on a loopback port, test/helpers/dnsmasq.ts): each
// record type, the expect block, every reason it reports, its options and its environment-only URL.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dns } from '../../checks/dns.js';
import { kinds } from '../../checks/index.js';
import { parseConfig } from '../../src/config/parse.js';
import { ConfigError } from '../../src/errors.js';
import { startDnsmasq, TEST_ZONE, type Dnsmasq } from '../helpers/dnsmasq.js';
import { freeUdpPort, openSocketCount, startUdpPeer, waitFor, type UdpPeer } from '../helpers/net.js';
import { runOnce } from '../helpers/run.js';

/** TXT strings of 250 bytes: eight make an answer too large for one datagram (dnsmasq sends at most 1232 bytes). */
const LONG_TXT = Array.from({ length: 8 }, (_, i) => String.fromCharCode(0x61 + i).repeat(250));

let resolver: Dnsmasq;
let unanswered: UdpPeer;

beforeAll(async () => {
  // slow.test is forwarded to a peer that never answers: a real resolver with no answer to give.
  unanswered = await startUdpPeer();
  resolver = await startDnsmasq([...TEST_ZONE, `--server=/slow.test/127.0.0.1#${unanswered.port}`, `--txt-record=big.test,${LONG_TXT.join(',')}`, '--log-queries']);
});
afterAll(async () => {
  await resolver?.stop();
  await unanswered?.close();
});

const check = (options: Record<string, unknown>, timeoutMs?: number) => runOnce(dns, { server: resolver.server, ...options }, timeoutMs);

describe('dns check: each record type through a given server', () => {
  it('A: the addresses of a name (the default type), in the same order whatever order the resolver rotates them in', async () => {
    for (let i = 0; i < 4; i++) {
      expect(await check({ name: 'multi.test' })).toMatchObject({ ok: true, observation: { records: 3, answer: '127.0.0.11, 127.0.0.12, 127.0.0.13' } });
    }
  });

  it('AAAA, CNAME, SRV (target:port), TXT and MX (the exchange)', async () => {
    const answers = {
      AAAA: '::10',
      CNAME: 'app.test',
      SRV: 'app.test:8080',
      TXT: 'v=spf1 -all',
      MX: 'mail.app.test',
    };
    for (const [recordType, answer] of Object.entries(answers)) {
      const name = recordType === 'SRV' ? '_http._tcp.app.test' : recordType === 'CNAME' ? 'www.app.test' : 'app.test';
      const result = await check({ name, recordType, expect: { equals: [answer] } });
      expect(result, `${recordType}: ${result.message}`).toMatchObject({ ok: true, observation: { records: 1, answer } });
    }
  });

  it('an A query for a CNAME follows it to the addresses', async () => {
    expect(await check({ name: 'www.app.test', expect: { equals: ['127.0.0.10'] } })).toMatchObject({ ok: true });
  });

  it('an answer too large for a datagram is asked again over TCP, and passes', async () => {
    const result = await check({ name: 'big.test', recordType: 'TXT', expect: { equals: [LONG_TXT.join('')] } });
    expect(result, result.message).toMatchObject({ ok: true, observation: { records: 1 } });
    // Asked twice: in a datagram (answered truncated), then over TCP.
    expect(resolver.log().match(/query\[TXT\] big\.test /g)).toHaveLength(2);
  });
});

describe('dns check: expect', () => {
  it('contains: every listed record must be in the answer, others may be there too', async () => {
    expect(await check({ name: 'multi.test', expect: { contains: ['127.0.0.12', '127.0.0.11'] } })).toMatchObject({ ok: true });
    const result = await check({ name: 'multi.test', expect: { contains: ['127.0.0.11', '127.0.0.99'] } });
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message).toBe(`dns A multi.test via ${resolver.server} answered 3 records (127.0.0.11, 127.0.0.12, 127.0.0.13), missing 127.0.0.99`);
  });

  it('equals: exactly these records in any order; the message names what is missing and what is not expected', async () => {
    expect(await check({ name: 'multi.test', expect: { equals: ['127.0.0.13', '127.0.0.11', '127.0.0.12'] } })).toMatchObject({ ok: true });
    const result = await check({ name: 'multi.test', expect: { equals: ['127.0.0.11', '127.0.0.12', '127.0.0.14'] } });
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message).toContain('expected exactly 127.0.0.11, 127.0.0.12, 127.0.0.14: missing 127.0.0.14; not expected 127.0.0.13');
  });

  it('minRecords: at least this many records', async () => {
    expect(await check({ name: 'multi.test', expect: { minRecords: 3 } })).toMatchObject({ ok: true });
    const result = await check({ name: 'multi.test', expect: { minRecords: 4 } });
    expect(result).toMatchObject({ ok: false, reason: 'body' });
    expect(result.message).toContain('answered 3 records (127.0.0.11, 127.0.0.12, 127.0.0.13), expected at least 4');
  });

  it('compares the forms of a record, not its spelling: IPv6 compressed or not, names in any case, with a final dot or not', async () => {
    expect(await check({ name: 'app.test', recordType: 'AAAA', expect: { equals: ['0:0:0:0:0:0:0:10'] } })).toMatchObject({ ok: true });
    expect(await check({ name: 'www.app.test', recordType: 'CNAME', expect: { equals: ['APP.Test.'] } })).toMatchObject({ ok: true });
    expect(await check({ name: '_http._tcp.app.test', recordType: 'SRV', expect: { contains: ['App.Test.:8080'] } })).toMatchObject({ ok: true });
    expect(await check({ name: '_http._tcp.app.test', recordType: 'SRV', expect: { contains: ['app.test:8443'] } })).toMatchObject({ ok: false, reason: 'body' });
  });
});

describe('dns check: every reason it reports', () => {
  it('dns: NXDOMAIN, named, for a name that does not exist', async () => {
    const result = await check({ name: 'nope.test' });
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.message).toBe(`dns A nope.test via ${resolver.server}: NXDOMAIN: the name does not exist`);
  });

  it('dns: a name that exists without a record of the asked type', async () => {
    const result = await check({ name: 'multi.test', recordType: 'MX' });
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.message).toContain('no MX record');
  });

  it('dns: REFUSED, named, by a server that answers for other names only', async () => {
    const result = await check({ name: 'app.example' });
    expect(result).toMatchObject({ ok: false, reason: 'dns' });
    expect(result.message).toContain('REFUSED');
  });

  it('dns: SERVFAIL, named, from a validating resolver whose upstream answers without signatures', async () => {
    // A resolver that validates DNSSEC under a root key no answer can be signed with: every answer it
    // forwards fails validation, which it reports as SERVFAIL.
    const validating = await startDnsmasq(['--dnssec', `--trust-anchor=.,12345,8,2,${'0'.repeat(64)}`, `--server=${resolver.host}#${resolver.port}`]);
    try {
      const result = await runOnce(dns, { name: 'app.test', server: validating.server });
      expect(result).toMatchObject({ ok: false, reason: 'dns' });
      expect(result.message).toBe(`dns A app.test via ${validating.server}: SERVFAIL: the server could not answer`);
    } finally {
      await validating.stop();
    }
  });

  it('body: an answer that does not match expect', async () => {
    expect(await check({ name: 'app.test', expect: { contains: ['127.0.0.1'] } })).toMatchObject({ ok: false, reason: 'body' });
  });

  it('timeout: a resolver that has no answer in time, at the deadline, nothing left open', async () => {
    const before = await openSocketCount();
    const started = Date.now();
    const result = await check({ name: 'x.slow.test' }, 500);
    const elapsed = Date.now() - started;
    expect(result).toMatchObject({ ok: false, reason: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1000);
    await waitFor('the query socket to close', async () => (await openSocketCount()) <= before);
  });

  it('connect_refused: nothing listening on the UDP port (the ICMP port unreachable reaches the resolver), at once', async () => {
    const server = `127.0.0.1:${await freeUdpPort()}`;
    const started = Date.now();
    const result = await runOnce(dns, { name: 'app.test', server });
    expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
    expect(result.message).toBe(`dns A app.test via ${server}: connection refused (nothing listening?)`);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('protocol: a peer whose reply carries the query id but is no DNS message', async () => {
    const peer = await startUdpPeer((query) => Buffer.concat([query.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff])]));
    try {
      const result = await runOnce(dns, { name: 'app.test', server: `127.0.0.1:${peer.port}` });
      expect(result).toMatchObject({ ok: false, reason: 'protocol' });
      expect(result.message).toContain('is not a DNS reply');
    } finally {
      await peer.close();
    }
  });

  it('connect_refused: a truncated answer whose TCP retry is reset (c-ares reports any failed TCP exchange as refused)', async () => {
    let connections = 0;
    // The UDP peer answers every query as truncated (TC), sending the resolver to TCP on the same port.
    const { peer, tcp } = await udpAndTcpPeer(
      (query) => {
        const reply = Buffer.from(query);
        reply[2] = 0x80 | 0x02 | (query[2]! & 0x01);
        reply[3] = 0x80;
        return reply;
      },
      (socket) => {
        connections++;
        socket.on('error', () => undefined);
        socket.resetAndDestroy();
      },
    );
    try {
      const result = await runOnce(dns, { name: 'app.test', server: `127.0.0.1:${peer.port}` });
      expect(result).toMatchObject({ ok: false, reason: 'connect_refused' });
      expect(connections).toBe(1);
    } finally {
      await new Promise((resolve) => tcp.close(resolve));
      await peer.close();
    }
  });
});

/** A UDP peer and a TCP server on the same port number of 127.0.0.1, as a DNS server listens. */
async function udpAndTcpPeer(answer: (datagram: Buffer) => Buffer, onConnection: (socket: Socket) => void): Promise<{ peer: UdpPeer; tcp: Server }> {
  for (let tries = 0; ; tries++) {
    const tcp = createServer(onConnection);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      return { peer: await startUdpPeer(answer, (tcp.address() as { port: number }).port), tcp };
    } catch (error) {
      // The UDP port of that number is taken: another pair.
      await new Promise((resolve) => tcp.close(resolve));
      if (tries === 5) throw error;
    }
  }
}

describe('dns check: options', () => {
  const issues = (block: string) => {
    try {
      parseConfig(`checks:\n  names: ${block}\n`, { kinds, env: {} });
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
      throw error;
    }
    return [];
  };

  it('accepts a name and, optionally, a record type, a server address with or without a port, and expect', () => {
    expect(issues('{ type: dns, name: api.internal }')).toEqual([]);
    expect(issues('{ type: dns, name: _http._tcp.api.internal., recordType: SRV, server: "10.0.0.2:5353", expect: { contains: ["api.internal:8080"], minRecords: 2 } }')).toEqual([]);
    expect(issues('{ type: dns, name: api.internal, recordType: AAAA, server: "[fd00::2]:53", expect: { equals: ["fd00::5"] } }')).toEqual([]);
    expect(issues('{ type: dns, name: api.internal, server: "fd00::2" }')).toEqual([]);
  });

  it('refuses a server named by a host name, or with a bad port', () => {
    for (const server of ['resolver.internal', '10.0.0.2:0', '10.0.0.2:70000', 'fd00::2:53x', '[resolver]:53']) {
      expect(issues(`{ type: dns, name: api.internal, server: "${server}" }`), server).toEqual([
        `checks.names.server: "${server}" must be an IP address with an optional port, e.g. 10.0.0.2, 10.0.0.2:5353 or [fd00::2]:53 (a resolver is named by its address)`,
      ]);
    }
  });

  it('refuses a name that is not a DNS name, and a record type it does not ask for', () => {
    expect(issues('{ type: dns, name: "api internal" }')).toHaveLength(1);
    expect(issues(`{ type: dns, name: "${'a'.repeat(64)}.internal" }`)).toHaveLength(1);
    expect(issues('{ type: dns, name: api.internal, recordType: PTR }')).toHaveLength(1);
  });

  it('refuses expected records the record type cannot hold, and expectations that contradict or add nothing', () => {
    expect(issues('{ type: dns, name: a.internal, expect: { contains: ["fd00::1"] } }')).toEqual([
      'checks.names.expect.contains.0: "fd00::1" is not an IPv4 address, which is what an A record holds',
    ]);
    expect(issues('{ type: dns, name: a.internal, recordType: SRV, expect: { equals: ["a.internal"] } }')).toEqual([
      'checks.names.expect.equals.0: "a.internal" must be target:port, e.g. api.internal:8080, which is what an SRV record is compared as',
    ]);
    expect(issues('{ type: dns, name: a.internal, expect: { equals: ["10.0.0.1"], minRecords: 1 } }')).toEqual([
      'checks.names.expect.minRecords: 1 adds nothing to equals, which names every record: use equals alone',
    ]);
    expect(issues('{ type: dns, name: a.internal, expect: {} }')).toEqual(['checks.names.expect: a map names no expectation: give contains, equals or minRecords']);
    expect(issues('{ type: dns, name: a.internal, expect: { minRecords: 0 } }')).toHaveLength(1);
  });
});

describe('dns check: environment-only mode (dns:// URLs, RFC 4501)', () => {
  const fromEnv = (url: string) => parseConfig(undefined, { kinds, env: { VIGIL_CHECK_NAMES: url } }).checks[0]!;

  it('dns://SERVER[:PORT]/NAME?type=TYPE asks SERVER; dns:///NAME the system resolver; the type defaults to A', () => {
    expect(fromEnv('dns://10.0.0.2/api.internal?type=aaaa').options).toEqual({ name: 'api.internal', server: '10.0.0.2', recordType: 'AAAA' });
    expect(fromEnv('dns://[fd00::2]:5353/api.internal').options).toEqual({ name: 'api.internal', server: '[fd00::2]:5353' });
    expect(fromEnv('dns:///_http._tcp.api.internal?type=SRV;class=IN').options).toEqual({ name: '_http._tcp.api.internal', recordType: 'SRV' });
  });

  it('runs against the real resolver', async () => {
    const check = fromEnv(`dns://${resolver.server}/app.test?type=AAAA`);
    expect(await runOnce(dns, check.options)).toMatchObject({ ok: true, observation: { answer: '::10' } });
  });

  it('refuses a query key other than type and class=IN, a server named by host name, an unknown type', () => {
    const problems = (url: string) => {
      try {
        fromEnv(url);
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(problems('dns://10.0.0.2/api.internal?type=A&expect=x')).toContain('VIGIL_CHECK_NAMES: is not a valid dns URL');
    expect(problems('dns://10.0.0.2/api.internal?class=CH')).toContain('VIGIL_CHECK_NAMES: is not a valid dns URL');
    expect(problems('dns://resolver.internal/api.internal')).toContain('must be an IP address');
    expect(problems('dns://10.0.0.2/api.internal?type=PTR')).toContain('recordType');
  });
});
