// `node --import ./record-imports.mjs`: appends every module URL the main thread resolves to the
// file RECORD_IMPORTS_FILE names, one per line. Worker threads (which run --import too) record nothing.
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread, MessageChannel } from 'node:worker_threads';

if (isMainThread) {
  const file = process.env.RECORD_IMPORTS_FILE;
  if (!file) throw new Error('RECORD_IMPORTS_FILE is not set');
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url) => appendFileSync(file, `${url}\n`));
  port1.unref();
  register('./record-imports-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
}
