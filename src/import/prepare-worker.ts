// Worker thread of the import's prepare pool (prepare-pool.ts): parses, validates and index-extracts a
// batch of lines off the main thread.
import { loadDefinitions } from '../fhir/definitions.js';
import { prepareLine, type Prepared, type PrepareOptions } from './prepare.js';

loadDefinitions();

export interface PrepareTask {
  lines: { line: number; end: number; bytes: Uint8Array }[];
  options: PrepareOptions;
}

export default function prepareBatch(task: PrepareTask): Prepared[] {
  return task.lines.map((l) => prepareLine(Buffer.from(l.bytes.buffer, l.bytes.byteOffset, l.bytes.byteLength), l.line, l.end, task.options));
}
