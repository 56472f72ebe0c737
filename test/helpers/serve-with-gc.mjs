// `vigil serve` as the built CLI runs it, in a process started with --expose-gc so a test can ask,
// over the IPC channel, for the live heap after a full collection ({ type: 'heap' } → bytes).
import { main } from '../../dist/src/cli.js';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
process.on('message', (message) => {
  if (message?.type !== 'heap') return;
  // Two passes: the first may only queue finalizers whose objects the second frees.
  globalThis.gc();
  globalThis.gc();
  process.send?.({ type: 'heap', bytes: process.memoryUsage().heapUsed });
});
const code = await main({
  argv: ['serve', ...process.argv.slice(2)],
  env: process.env,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
});
process.exit(code);
