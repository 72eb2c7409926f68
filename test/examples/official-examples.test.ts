// Every official R4 example (the hl7.fhir.r4.examples 4.0.1 package) goes through the HTTP API into real
// PostgreSQL with the coordination rules on. The server may refuse an example only where the example
// itself breaks R4: each refusal must be one listed, with its reason, in expected-refusals.ts, and every
// listed refusal must still happen (a fixed false positive leaves a stale entry that fails here).
// No example may cause a 5xx. Examples are sent as PUT entries of batch Bundles (each entry is its own
// write, so one refusal does not hold back its neighbours) over a few concurrent requests.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConformanceResources } from '../../src/fhir/profiles/index.js';
import { postgresUrl } from '../support/db.js';
import { startTestServer, FHIR_JSON, type TestServer } from '../support/server.js';
import { EXPECTED_REFUSALS } from './expected-refusals.js';

const EXAMPLES_DIR = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const BATCH_ENTRIES = 50;
// Large examples (whole-spec Bundles of up to 35 MB) go alone; the rest in batches of at most this size.
const BATCH_BYTES = 2 * 1024 * 1024;
const CONCURRENT_REQUESTS = 4;

interface Example {
  file: string;
  type: string;
  id: string;
  text: string;
}

interface Result {
  status: number;
  diagnostics: string[];
}

interface BatchResponse {
  entry?: { response: { status: string; outcome?: { issue?: { diagnostics?: string }[] } } }[];
  issue?: { diagnostics?: string }[];
}

function readExamples(): Example[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.json') && f !== 'package.json')
    .sort()
    .map((file) => {
      const text = readFileSync(join(EXAMPLES_DIR, file), 'utf8');
      const r = JSON.parse(text) as { resourceType: string; id: string };
      return { file, type: r.resourceType, id: r.id, text };
    });
}

function batches(examples: Example[]): Example[][] {
  const out: Example[][] = [];
  let current: Example[] = [];
  let bytes = 0;
  for (const e of examples) {
    if (current.length > 0 && (current.length >= BATCH_ENTRIES || bytes + e.text.length > BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += e.text.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The batch Bundle as text: the examples' own JSON is spliced in unchanged (no re-serialisation). */
function batchBody(batch: Example[]): string {
  const entries = batch.map((e) => `{"resource":${e.text},"request":{"method":"PUT","url":${JSON.stringify(`${e.type}/${e.id}`)}}}`);
  return `{"resourceType":"Bundle","type":"batch","entry":[${entries.join(',')}]}`;
}

const describeWithPostgres = describe.skipIf(!postgresUrl());

describeWithPostgres('the official R4 examples', () => {
  let s: TestServer;
  const results = new Map<string, Result>();
  let examples: Example[] = [];
  let loadMs = 0;

  beforeAll(async () => {
    s = await startTestServer('postgres', { MAX_BODY_BYTES: String(64 * 1024 * 1024), MAX_BUNDLE_ENTRIES: String(BATCH_ENTRIES), CONCORD_RULES: 'on' });
    examples = readExamples();
    const queue = batches(examples);
    const started = Date.now();
    const worker = async (): Promise<void> => {
      for (let batch = queue.shift(); batch; batch = queue.shift()) {
        const res = await s.request({ method: 'POST', url: '/fhir', headers: { 'content-type': FHIR_JSON, prefer: 'return=minimal' }, payload: batchBody(batch) });
        const body = JSON.parse(res.body) as BatchResponse;
        batch.forEach((e, i) => {
          const entry = body.entry?.[i];
          const status = res.statusCode === 200 && entry ? Number(entry.response.status.split(' ')[0]) : res.statusCode;
          const issues = (res.statusCode === 200 ? entry?.response.outcome?.issue : body.issue) ?? [];
          results.set(e.file, { status, diagnostics: issues.map((x) => x.diagnostics ?? '') });
        });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, worker));
    loadMs = Date.now() - started;
  }, 600_000);

  afterAll(async () => {
    await s?.close();
  });

  it('loads all 5,306 examples, without a single 5xx', () => {
    expect(examples).toHaveLength(5306);
    expect(results.size).toBe(examples.length);
    const serverErrors = [...results].filter(([, r]) => r.status >= 500).map(([file, r]) => `${file}: ${r.status} ${r.diagnostics.join(' | ')}`);
    expect(serverErrors).toEqual([]);
    const cpu = process.cpuUsage();
    process.stdout.write(`official examples: ${examples.length} loaded in ${loadMs} ms (test process CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms)\n`);
  });

  it('refuses only the listed examples, each for its listed reason', () => {
    const expected = new Map(EXPECTED_REFUSALS.map((e) => [e.file, e]));
    const problems: string[] = [];
    for (const [file, r] of results) {
      const entry = expected.get(file);
      const refused = r.status >= 400;
      if (!entry) {
        if (refused) problems.push(`${file}: unexpected ${r.status}: ${r.diagnostics.join(' | ').slice(0, 400)}`);
        continue;
      }
      if (!refused) problems.push(`${file}: expected ${entry.status} (${entry.issue}) but it was accepted with ${r.status}; remove the stale entry`);
      else if (r.status !== entry.status || !r.diagnostics.some((d) => d.includes(entry.issue))) {
        problems.push(`${file}: expected ${entry.status} with '${entry.issue}', got ${r.status}: ${r.diagnostics.join(' | ').slice(0, 400)}`);
      }
    }
    for (const e of EXPECTED_REFUSALS) if (!results.has(e.file)) problems.push(`${e.file}: listed but not an example file`);
    expect(problems).toEqual([]);
  });

  it('stores every accepted example, readable by search', async () => {
    const accepted = new Map<string, Set<string>>();
    for (const e of examples) {
      if ((results.get(e.file)?.status ?? 0) >= 400) continue;
      const ids = accepted.get(e.type) ?? new Set<string>();
      accepted.set(e.type, ids.add(e.id));
    }
    // Concord's own conformance resources are on the server too.
    for (const r of loadConformanceResources()) if (r.id && !accepted.get(r.resourceType)?.has(r.id)) accepted.get(r.resourceType)?.add(`concord:${r.id}`);
    const mismatches: string[] = [];
    for (const [type, ids] of accepted) {
      const res = await s.request({ method: 'GET', url: `/fhir/${type}?_summary=count&_total=accurate` });
      const total = (JSON.parse(res.body) as { total?: number }).total;
      if (total !== ids.size) mismatches.push(`${type}: ${ids.size} accepted, ${String(total)} stored`);
    }
    expect(mismatches).toEqual([]);
  });

  it('never replaces one of Concord’s own conformance resources', async () => {
    for (const r of loadConformanceResources()) {
      const res = await s.request({ method: 'GET', url: `/fhir/${r.resourceType}/${r.id}` });
      expect(res.statusCode).toBe(200);
      expect((JSON.parse(res.body) as { url?: string }).url, `${r.resourceType}/${r.id}`).toBe(r.url);
    }
  });
});
