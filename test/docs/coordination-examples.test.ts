// docs/coordination.md shows curl requests with the server's answers. Every such request is replayed here,
// in order, over HTTP (a real loopback port) against a fresh server, and the documented answer is checked:
// status, Location path, rule ids of a refusal, entry statuses of a Bundle. So the page cannot drift from
// what the server does.
//
// The page's convention (kept strict so a new example cannot silently escape the replay): a ```sh block
// that starts with `curl` is an example; it is `curl -s -i -X <METHOD> http://localhost:8080/fhir<path>`,
// `-H '<header>'` lines and `--data-binary @- <<'EOF'` with the JSON body up to `EOF`; the block right
// after it is a ```http block holding the answer: status line, headers, a blank line and the body, if shown.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_SYSTEM_URLS } from '../../src/fhir/profiles/urls.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOC_BASE = 'http://localhost:8080/fhir';

interface Answer {
  status: number;
  location?: string;
  rules: string[];
  entryStatuses?: string[];
}

interface Example {
  line: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  answer: Answer;
}

interface OutcomeLike {
  resourceType?: string;
  issue?: { details?: { coding?: { system?: string; code?: string }[] } }[];
  entry?: { response?: { status?: string; location?: string } }[];
}

function parseCurl(block: string, line: number): Omit<Example, 'answer'> {
  const heredoc = /^([\s\S]*?)\s*<<'EOF'\n([\s\S]*?)\nEOF$/.exec(block);
  const command = (heredoc ? heredoc[1]! : block).replace(/\\\n\s*/g, ' ');
  let rest = command;
  const take = (re: RegExp): RegExpExecArray | null => {
    const m = re.exec(rest);
    if (m) rest = rest.replace(m[0], ' ');
    return m;
  };
  const method = take(/\s-X\s+([A-Z]+)/)?.[1] ?? 'GET';
  const url = take(/\s'?(http:\/\/localhost:8080\/fhir[^\s']*)'?/)?.[1];
  const headers: Record<string, string> = {};
  for (let h = take(/\s-H\s+'([^']*)'/); h; h = take(/\s-H\s+'([^']*)'/)) {
    const [name, ...value] = h[1]!.split(':');
    headers[name!.trim()] = value.join(':').trim();
  }
  const dataFromStdin = take(/\s--data-binary\s+@-/) !== null;
  take(/^curl/);
  take(/\s-s\s+-i(?=\s|$)/);
  if (!url || rest.trim() !== '' || dataFromStdin !== Boolean(heredoc)) {
    throw new Error(`docs/coordination.md line ${line}: curl example not in the replayable form (left: '${rest.trim()}')`);
  }
  return { line, method, path: url.slice(DOC_BASE.length), headers, ...(heredoc ? { body: heredoc[2]! } : {}) };
}

function parseAnswer(block: string, line: number): Answer {
  const [head = '', ...bodyParts] = block.split('\n\n');
  const [statusLine = '', ...headerLines] = head.split('\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
  if (!status) throw new Error(`docs/coordination.md line ${line}: answer does not start with a status line`);
  const location = headerLines.find((h) => /^location:/i.test(h))?.replace(/^location:\s*/i, '');
  const text = bodyParts.join('\n\n').trim();
  const body = (text ? JSON.parse(text) : {}) as OutcomeLike;
  const rules = (body.issue ?? []).flatMap((i) => i.details?.coding ?? []).filter((c) => c.system === CODE_SYSTEM_URLS.rule).map((c) => c.code!);
  return {
    status: Number(status[1]),
    ...(location ? { location: new URL(location).pathname } : {}),
    rules,
    ...(body.resourceType === 'Bundle' ? { entryStatuses: (body.entry ?? []).map((e) => e.response?.status ?? '') } : {}),
  };
}

function parseExamples(markdown: string): Example[] {
  const lineOf = (index: number) => markdown.slice(0, index).split('\n').length;
  const examples: Example[] = [];
  for (const m of markdown.matchAll(/```sh\n(curl [\s\S]*?)\n```\n\n```http\n([\s\S]*?)\n```/g)) {
    const line = lineOf(m.index);
    examples.push({ ...parseCurl(m[1]!, line), answer: parseAnswer(m[2]!, line) });
  }
  const curlBlocks = markdown.match(/```sh\ncurl /g)?.length ?? 0;
  if (curlBlocks !== examples.length) throw new Error(`docs/coordination.md: ${curlBlocks - examples.length} curl example(s) without an answer block`);
  return examples;
}

const doc = readFileSync(fileURLToPath(new URL('../../docs/coordination.md', import.meta.url)), 'utf8');
const examples = parseExamples(doc);

describe('docs/coordination.md examples', () => {
  it('covers the documented scenarios, refusals included', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    expect(examples.flatMap((e) => e.answer.rules)).toEqual(
      expect.arrayContaining(['lead-documented', 'single-lead', 'request-matches-split', 'cp-opt-out', 'coordinator-qualified']),
    );
    expect(examples.some((e) => e.method === 'POST' && e.path === '' && e.answer.status === 200)).toBe(true);
  });

  it('rejects an example the replay could not run faithfully', () => {
    expect(() => parseCurl("curl -s -i -X PUT http://localhost:8080/fhir/Patient/p -k", 1)).toThrow(/replayable form/);
    expect(() => parseExamples('```sh\ncurl -s -i http://localhost:8080/fhir/metadata\n```\n')).toThrow(/without an answer block/);
  });
});

describe('docs/coordination.md examples replayed over HTTP', () => {
  let server: TestServer;
  let base: string;
  beforeAll(async () => {
    server = await startTestServer();
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}/fhir`;
  });
  afterAll(async () => {
    await server?.close();
  });

  // Sequential on purpose: later examples build on the state earlier ones leave.
  it.each(examples.map((e) => [`${e.method} ${e.path || '/'} (line ${e.line}) -> ${e.answer.status}`, e] as const))('%s', async (_name, example) => {
    const res = await fetch(base + example.path, {
      method: example.method,
      headers: example.headers,
      ...(example.body !== undefined ? { body: example.body } : {}),
    });
    const text = await res.text();
    const got = parseAnswer(
      [`HTTP/1.1 ${res.status}`, ...(res.headers.get('location') ? [`location: ${res.headers.get('location')}`] : [])].join('\n') + `\n\n${text}`,
      example.line,
    );
    expect({ status: got.status, rules: got.rules }, text).toEqual({ status: example.answer.status, rules: example.answer.rules });
    if (example.answer.location) expect(got.location).toBe(example.answer.location);
    if (example.answer.entryStatuses) expect(got.entryStatuses).toEqual(example.answer.entryStatuses);
  });
});
