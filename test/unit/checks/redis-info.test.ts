// What the redis check reads of INFO at every attempt: role, connected_clients and
// used_memory/maxmemory, found in the reply of the real server and in edge cases of its format.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readInfo } from '../../../checks/redis.js';
import { REDIS_URL } from '../../helpers/services.js';

describe('redis INFO fields', () => {
  it('reads role, connected_clients and the memory ratio from the server on the machine', () => {
    const { hostname, port } = new URL(REDIS_URL);
    const text = execFileSync('redis-cli', ['-h', hostname, '-p', port || '6379', 'INFO']).toString();
    const clients = Number(/\nconnected_clients:(\d+)/.exec(text)![1]);
    const observed = readInfo(text);
    expect(observed.role).toBe('primary');
    expect(observed.connectedClients).toBe(clients);
    // maxmemory 0 (no limit) on the machine's server: no ratio.
    expect(observed).not.toHaveProperty('memoryUsedRatio');
  });

  it('takes exact keys only (used_memory, not used_memory_human), a key on the first line, CRLF lines', () => {
    const text = 'role:slave\r\n# Memory\r\nused_memory_human:1.00M\r\nused_memory_rss:999\r\nused_memory:1048576\r\nmaxmemory:4194304\r\nconnected_clients:7\r\n';
    expect(readInfo(text)).toEqual({ role: 'replica', connectedClients: 7, memoryUsedRatio: 0.25 });
  });

  it('leaves out what is absent or not a number, and reads no further than the first thousand lines', () => {
    expect(readInfo('# Server\r\nredis_version:7.0.15\r\n')).toEqual({});
    expect(readInfo('connected_clients:many\r\nused_memory:1\r\n')).toEqual({});
    const far = `${'x:1\r\n'.repeat(1000)}connected_clients:3\r\n`;
    expect(readInfo(far)).toEqual({});
    expect(readInfo(`${'x:1\r\n'.repeat(998)}connected_clients:3\r\n`)).toEqual({ connectedClients: 3 });
  });
});
