// Heartbeat spam: 40,000 beats (empty, or with --json a JSON body) against the agent (test/helpers/serve-with-gc.mjs, node --expose-gc): RSS and
// live heap (after a full GC) before and after. node bench/heartbeat-spam.mjs [root] [beats] [--json]
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const root = process.argv[2] ?? new URL('..', import.meta.url).pathname;
const beats = Number(process.argv[3] ?? 40000);
const json = process.argv.includes('--json');
const port = 19000 + Math.floor(Math.random() * 1000);
const dir = mkdtempSync(join(tmpdir(), 'hb-spam-'));
writeFileSync(join(dir, 'vigil.yaml'), 'checks:\n  worker: { type: heartbeat, ttl: 30s }\n');
const child = spawn(process.execPath, ['--expose-gc', join(root, 'test/helpers/serve-with-gc.mjs'), '--port', String(port), '--host', '127.0.0.1', '--config', join(dir, 'vigil.yaml')], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024;
const heap = () => new Promise((resolve) => { child.once('message', (m) => resolve(m.bytes / 1048576)); child.send({ type: 'heap' }); });
for (;;) { try { const r = await fetch(`http://127.0.0.1:${port}/health/live`); if (r.ok) break; } catch {} await sleep(100); }
await sleep(1000);
const before = { rss: rss(), heap: await heap() };
const agent = new Agent({ keepAlive: true, maxSockets: 20 });
const post = () => new Promise((resolve, reject) => { const req = request({ host: '127.0.0.1', port, path: '/heartbeat/worker', method: 'POST', agent, ...(json ? { headers: { 'Content-Type': 'application/json' } } : {}) }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }); req.on('error', reject); req.end(json ? '{"status":"pass"}' : undefined); });
let next = 0; let bad = 0; let peak = 0;
const t0 = Date.now();
await Promise.all(Array.from({ length: 20 }, async () => { while (next < beats) { next++; if ((await post()) !== 204) bad++; if (next % 2000 === 0) peak = Math.max(peak, rss()); } }));
const ms = Date.now() - t0;
const right = { rss: rss(), heap: await heap() };
await sleep(2000);
const after = { rss: rss(), heap: await heap() };
console.log(JSON.stringify({ beats, json, bad, ms, before, peakRss: peak, rightAfter: right, after2s: after }, (k, v) => typeof v === 'number' ? Math.round(v * 10) / 10 : v));
agent.destroy(); child.kill();
