// The exact floor PGlite imposes for a workload (bench/memory.ts --floor replay). PGlite's WebAssembly
// memory grows with what PostgreSQL is asked to do (memory.grow) and is never given back, so the memory
// PGlite needs after a load depends on the statements it ran, not only on the data left on disk. To
// measure that floor exactly, the server is started once with a hook (loaded with node --import) that
// writes every wire-protocol message Concord sends to its PGlite store into a file, byte for byte (SQL
// texts, parameters, BEGIN/COMMIT, in order); then fresh processes open PGlite exactly as the server does
// (the built openPglite, same options, extensions and settings, on a fresh directory: initdb runs, as in
// the server's run) and send it the same messages. Nothing in src/ changes for this.
import { closeSync, openSync, readSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The ESM entry of PGlite, as the server resolves it (symlinks followed, so both load one module instance). */
export function pgliteModuleUrl(root: string): string {
  return pathToFileURL(realpathSync(join(root, 'node_modules/@electric-sql/pglite/dist/index.js'))).href;
}

/**
 * Source of the module loaded with --import into the server (or a floor process). It keeps the PGlite
 * instance opened on a data directory (the store; initdb's own short-lived instance has none) and:
 * - with CONCORD_PGLITE_RECORD=<file>, appends each protocol message sent to that instance to the file
 *   (4-byte little-endian length, then the bytes), written synchronously so a killed process loses nothing;
 * - on SIGUSR2 writes to CONCORD_MEM_PROBE V8's figures and the byte length of PGlite's WASM memory
 *   (memory.buffer.byteLength). It forces no GC and changes nothing else;
 * - on SIGWINCH, when node runs with --expose-gc, the same after two full collections.
 */
export function hookSource(pgliteUrl: string): string {
  // Worker threads inherit --import: there the hook does nothing (opening the recording again would
  // truncate it under the main thread's writes).
  return `import v8 from 'node:v8'; import { openSync, writeSync, writeFileSync } from 'node:fs'; import { isMainThread } from 'node:worker_threads';
import { PGlite } from ${JSON.stringify(pgliteUrl)};
let store;
if (isMainThread) {
const create = PGlite.create;
PGlite.create = async function (...args) {
  const db = await create.apply(this, args);
  const opts = typeof args[0] === 'string' ? { dataDir: args[0] } : (args[0] ?? {});
  if (opts.dataDir && !store) store = db;
  return db;
};
globalThis.__concordPgliteStore = () => store;
if (process.env.CONCORD_PGLITE_RECORD) {
  const fd = openSync(process.env.CONCORD_PGLITE_RECORD, 'w');
  const send = PGlite.prototype.execProtocolRawSync;
  PGlite.prototype.execProtocolRawSync = function (message) {
    if (this === store) {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(message.length);
      writeSync(fd, head);
      writeSync(fd, message);
    }
    return send.call(this, message);
  };
}
const probe = () => {
  const m = process.memoryUsage();
  writeFileSync(process.env.CONCORD_MEM_PROBE, JSON.stringify({ heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external,
    arrayBuffers: m.arrayBuffers, wasmBytes: store ? store.Module.HEAPU8.buffer.byteLength : undefined,
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size])) }));
};
process.on('SIGUSR2', () => { if (process.env.CONCORD_MEM_PROBE) probe(); });
// SIGWINCH (benchmark only, node started with --expose-gc): full collections first, then the probe, so
// that garbage (e.g. the WASM memories of PGlite's initdb instances) is told apart from what is held.
process.on('SIGWINCH', () => {
  if (!process.env.CONCORD_MEM_PROBE || typeof globalThis.gc !== 'function') return;
  globalThis.gc(); globalThis.gc();
  setTimeout(probe, 1000);
});
}`;
}

/** node arguments that load the hook. */
export function hookArgs(root: string): string[] {
  return ['--expose-gc', '--import', `data:text/javascript,${encodeURIComponent(hookSource(pgliteModuleUrl(root)))}`];
}

/**
 * Source of a floor process: opens PGlite with the server's own openPglite (built, under `built`) on
 * `dataDir`, sends it every recorded message in order as the server's queries do (execProtocolStream:
 * the reply is parsed into messages, errors the server met are met again and not thrown), and prints
 * 'replayed <messages>'. The recording is read in pieces, so the replay holds one message at a time.
 */
export function replaySource(built: string, dataDir: string, recording: string): string {
  return `import { openSync, readSync, closeSync } from 'node:fs';
const { openPglite } = await import(${JSON.stringify(pathToFileURL(join(built, 'pglite.js')).href)});
await openPglite(${JSON.stringify(dataDir)});
const db = globalThis.__concordPgliteStore();
const fd = openSync(${JSON.stringify(recording)}, 'r');
const head = Buffer.alloc(4);
let n = 0;
while (readSync(fd, head, 0, 4, null) === 4) {
  const message = Buffer.alloc(head.readUInt32LE(0));
  let got = 0;
  while (got < message.length) got += readSync(fd, message, got, message.length - got, null);
  await db.execProtocolStream(new Uint8Array(message.buffer, message.byteOffset, message.length), { syncToFs: false, throwOnError: false });
  n++;
}
closeSync(fd);
console.log('replayed ' + n);`;
}

/** Messages and bytes in a recording. */
export function recordingSize(file: string): { messages: number; bytes: number } {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(4);
  let messages = 0;
  let bytes = 0;
  let pos = 0;
  try {
    while (readSync(fd, head, 0, 4, pos) === 4) {
      const len = head.readUInt32LE(0);
      messages++;
      bytes += len;
      pos += 4 + len;
    }
  } finally {
    closeSync(fd);
  }
  return { messages, bytes };
}

/** The built storage directory for an entry such as dist/src/main.js. */
export function builtStorage(root: string, entry: string): string {
  return join(root, dirname(dirname(entry)), 'src/storage');
}

export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
