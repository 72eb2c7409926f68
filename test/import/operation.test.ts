// The Bulk Data $import operation over HTTP against the test database (PostgreSQL when available): kick-off,
// polling to completion, what is stored, the error files, refusals (Prefer, Parameters, SSRF), the job's
// AuditEvent and cancellation. Inputs come from a real HTTP server on 127.0.0.1, reached through the
// operator allow-list; every other address goes through a recording connect step, so no packet leaves
// the machine. Resumption after a crash and the admin-only rule are in operation-resume / operation-auth.
import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeDownloadConnector, type DownloadTarget } from '../../src/net/fetch-to-file.js';
import type { ResolvedAddress } from '../../src/net/outbound-guard.js';
import { IMPORT_LINE_EXTENSION, IMPORT_RESOURCE_EXTENSION, IMPORT_RULE_EXTENSION } from '../../src/http/routes/import.js';
import { startSubscriptionServer } from '../subscriptions/support.js';
import type { TestServer } from '../support/server.js';
import { benchResources } from './fixtures.js';
import { FileServer } from './file-server.js';
import { byType, importParameters, kickoff, poll, rivalLead, statusPath } from './operation-support.js';
import { Readable } from 'node:stream';

const PUBLIC = '93.184.216.34';

describe('$import over HTTP', () => {
  const files = new FileServer();
  const connects: DownloadTarget[] = [];
  /** Per host: the addresses it resolves to, in turn (the last one repeats). */
  const dns = new Map<string, ResolvedAddress[][]>();
  let s: TestServer;

  beforeAll(async () => {
    await files.start();
    s = await startSubscriptionServer(
      { IMPORT_ALLOWED_HOSTS: files.host, IMPORT_POLL_MS: '100', IMPORT_WORKERS: '0', IMPORT_LEASE_MS: '3000' },
      {
        importBatchSize: 5,
        importResolver: (host) => {
          const answers = dns.get(host) ?? [[]];
          return Promise.resolve(answers.length > 1 ? answers.shift()! : answers[0]!);
        },
        // Only the local file server is really contacted; anything else is recorded and answered here.
        importConnector: (target) => {
          if (target.address === '127.0.0.1' && target.url.host === files.host) return nodeDownloadConnector(target);
          connects.push(target);
          return Promise.resolve({ status: 200, body: Readable.from([]) });
        },
      },
    );
  });
  afterAll(async () => {
    await s.close();
    await files.stop();
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> => Number((await s.db.query<{ n: string | number }>(sql, params)).rows[0]!.n);

  it('imports NDJSON inputs: 202 with X-Progress while running, 200 with counts; stored resources equal the lines', async () => {
    const resources = benchResources(2, 100);
    const inputs = [...byType(resources)].map(([type, list]) => ({ type, url: files.serve(`/ok/${type}.ndjson`, list) }));
    const path = statusPath(await kickoff(s, importParameters(inputs.reverse())));
    const { res } = await poll(s, path);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body) as { transactionTime: string; request: string; output: { type: string; inputUrl: string; count: number }[]; error: unknown[] };
    expect(body.request).toBe('http://concord.test/fhir/$import');
    // Authentication is off in this server: the error files need no token.
    expect(body).toMatchObject({ requiresAccessToken: false });
    expect(Number.isNaN(Date.parse(body.transactionTime))).toBe(false);
    expect(body.error).toEqual([]);
    for (const input of inputs) {
      expect(body.output).toContainEqual(expect.objectContaining({ type: input.type, inputUrl: input.url, count: byType(resources).get(input.type)!.length }));
    }
    for (const r of resources) {
      const read = await s.request({ method: 'GET', url: `/fhir/${r.resourceType}/${r.id}` });
      expect(read.statusCode).toBe(200);
      const stored = JSON.parse(read.body) as Resource;
      expect({ ...stored, meta: { ...stored.meta, lastUpdated: undefined } }).toEqual({ ...r, meta: { ...r.meta, versionId: '1', lastUpdated: undefined } });
    }
    // Polling a finished job answers the same; the job's one AuditEvent carries the counts.
    expect((await s.request({ method: 'GET', url: path })).body).toBe(res.body);
    const id = path.split('/').pop()!;
    const audits = (await s.db.query<{ content: string }>(`SELECT content FROM audit_event WHERE subtype = 'operation' AND content LIKE $1`, [`%import job ${id}%`])).rows;
    expect(audits).toHaveLength(1);
    const event = JSON.parse(audits[0]!.content) as { outcome: string; outcomeDesc: string; subtype: { code: string }[] };
    expect(event.outcome).toBe('0');
    expect(event.subtype.map((c) => c.code)).toEqual(['operation', 'import']);
    expect(event.outcomeDesc).toBe(`HTTP 200: import job ${id} completed: ${resources.length} written, 0 unchanged, 0 rejected from ${inputs.length} input(s)`);
  });

  it('reports invalid and rule-violating lines in error files (line, resource, rule) and stores none of them', async () => {
    const resources = benchResources(1, 110);
    const rival = rivalLead(resources, 'm110-4', 'import-rival');
    const types = byType(resources);
    const badPatient = { resourceType: 'Patient', id: 'import-bad-gender', gender: 'nonsense' };
    const patients = [...types.get('Patient')!, '{"resourceType": "Patient", "id": "broken"', badPatient];
    const inputs = [...types].map(([type, list]) => ({
      type,
      url: files.serve(`/errors/${type}.ndjson`, type === 'Patient' ? patients : type === 'CareTeam' ? [...list, rival] : list),
    }));
    const { res } = await poll(s, statusPath(await kickoff(s, importParameters(inputs))));
    expect(res.statusCode, res.body).toBe(200);
    const body = JSON.parse(res.body) as { output: { type: string; count: number }[]; error: { type: string; inputUrl: string; count: number; url: string }[] };
    expect(body.error.map((e) => [e.inputUrl.split('/').pop(), e.type, e.count]).sort()).toEqual([
      ['CareTeam.ndjson', 'OperationOutcome', 1],
      ['Patient.ndjson', 'OperationOutcome', 2],
    ]);
    expect(body.output.find((o) => o.type === 'Patient')!.count).toBe(types.get('Patient')!.length);

    const patientErrors = body.error.find((e) => e.inputUrl.endsWith('Patient.ndjson'))!;
    expect(patientErrors.url).toMatch(/^http:\/\/concord\.test\/fhir\/\$import-status\/[0-9a-f-]{36}\/errors\/\d+$/);
    const file = await s.request({ method: 'GET', url: new URL(patientErrors.url).pathname, headers: { accept: 'application/fhir+ndjson' } });
    expect(file.statusCode, file.body).toBe(200);
    expect(file.headers['content-type']).toMatch(/^application\/fhir\+ndjson/);
    const lines = file.body.trim().split('\n').map((l) => JSON.parse(l) as OperationOutcome);
    expect(lines).toHaveLength(2);
    expect(lines.map((o) => o.resourceType)).toEqual(['OperationOutcome', 'OperationOutcome']);
    const n = types.get('Patient')!.length;
    expect(lines[0]!.extension).toContainEqual({ url: IMPORT_LINE_EXTENSION, valueInteger: n + 1 });
    expect(lines[1]!.extension).toEqual([{ url: IMPORT_LINE_EXTENSION, valueInteger: n + 2 }, { url: IMPORT_RESOURCE_EXTENSION, valueString: 'Patient/import-bad-gender' }]);
    expect(lines[1]!.issue?.[0]?.severity).toBe('error');

    const teamErrors = body.error.find((e) => e.inputUrl.endsWith('CareTeam.ndjson'))!;
    const [lead] = (await s.request({ method: 'GET', url: new URL(teamErrors.url).pathname })).body.trim().split('\n').map((l) => JSON.parse(l) as OperationOutcome);
    expect(lead!.extension).toContainEqual({ url: IMPORT_RULE_EXTENSION, valueString: 'single-lead' });
    expect(lead!.extension).toContainEqual({ url: IMPORT_RESOURCE_EXTENSION, valueString: 'CareTeam/import-rival' });
    expect(JSON.stringify(lead)).toContain('CareTeam/m110-4');

    for (const [type, id] of [['CareTeam', 'import-rival'], ['Patient', 'import-bad-gender'], ['Patient', 'broken']]) {
      expect((await s.request({ method: 'GET', url: `/fhir/${type}/${id}` })).statusCode).toBe(404);
    }
    expect(await count("SELECT count(*) AS n FROM coordination_fact WHERE member_id = 'm110-0' AND kind = 'lead'")).toBe(1);
  });

  it('answers 400 without Prefer: respond-async, and creates no job', async () => {
    const before = await count('SELECT count(*) AS n FROM import_job');
    const res = await kickoff(s, importParameters([{ type: 'Patient', url: files.url('/ok/Patient.ndjson') }]), {});
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] });
    expect(res.body).toContain('respond-async');
    expect(await count('SELECT count(*) AS n FROM import_job')).toBe(before);
  });

  const url = (): string => files.url('/ok/Patient.ndjson');
  const bad: [string, unknown, string][] = [
    ['a body that is not Parameters', { resourceType: 'Patient' }, 'Parameters'],
    ['no inputFormat', { resourceType: 'Parameters', parameter: [{ name: 'input', part: [{ name: 'type', valueCode: 'Patient' }, { name: 'url', valueUri: 'https://x.example/a' }] }] }, 'inputFormat'],
    ['an unsupported inputFormat', { resourceType: 'Parameters', parameter: [{ name: 'inputFormat', valueCode: 'text/csv' }] }, 'text/csv'],
    ['no input', { resourceType: 'Parameters', parameter: [{ name: 'inputFormat', valueCode: 'application/fhir+ndjson' }] }, 'input'],
    ['an input of no resource type', importParameters([{ type: 'Nonsense', url: 'https://x.example/a' }]), 'input[0]: type'],
    ['an input without a url', { resourceType: 'Parameters', parameter: [{ name: 'inputFormat', valueCode: 'application/fhir+ndjson' }, { name: 'input', part: [{ name: 'type', valueCode: 'Patient' }] }] }, 'url is required'],
    ['a relative url', importParameters([{ type: 'Patient', url: '/Patient.ndjson' }]), 'absolute'],
    ['an ftp url', importParameters([{ type: 'Patient', url: 'ftp://x.example/a' }]), 'http(s)'],
    ['an unknown parameter', importParameters([{ type: 'Patient', url: 'https://x.example/a' }], [{ name: 'since', valueInstant: '2020-01-01T00:00:00Z' }]), 'since'],
    ['a storageDetail other than https', importParameters([{ type: 'Patient', url: 'https://x.example/a' }], [{ name: 'storageDetail', part: [{ name: 'type', valueCode: 'aws-s3' }] }]), 'aws-s3'],
  ];
  for (const [what, body, mention] of bad) {
    it(`answers 400 with an OperationOutcome for ${what}`, async () => {
      void url;
      const before = await count('SELECT count(*) AS n FROM import_job');
      const res = await kickoff(s, body);
      expect(res.statusCode, res.body).toBe(400);
      const oo = JSON.parse(res.body) as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      expect(oo.issue?.[0]?.diagnostics).toContain(mention);
      expect(await count('SELECT count(*) AS n FROM import_job')).toBe(before);
    });
  }

  describe('SSRF', () => {
    const refused = [
      'https://127.0.0.1/Patient.ndjson', // loopback, but not the allow-listed host:port
      'https://[::1]/Patient.ndjson',
      'https://10.1.2.3/Patient.ndjson',
      'https://169.254.169.254/latest/meta-data/',
      'https://2130706433/Patient.ndjson', // 127.0.0.1 in decimal
      'https://internal.example/Patient.ndjson', // a name resolving to a private address
      'https://nowhere.example/Patient.ndjson', // a name resolving to nothing
      'http://public.example/Patient.ndjson', // plain http to a host nobody allow-listed
      'https://user:pw@public.example/Patient.ndjson',
    ];
    beforeAll(() => {
      dns.set('internal.example', [[{ address: '10.0.0.7', family: 4 }]]);
      dns.set('public.example', [[{ address: PUBLIC, family: 4 }]]);
    });
    for (const target of refused) {
      it(`refuses ${target} at kick-off (400, no job, nothing contacted)`, async () => {
        const before = await count('SELECT count(*) AS n FROM import_job');
        const res = await kickoff(s, importParameters([{ type: 'Patient', url: target }]));
        expect(res.statusCode, res.body).toBe(400);
        expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
        expect(res.body).toContain('input[0].url may not be fetched');
        expect(await count('SELECT count(*) AS n FROM import_job')).toBe(before);
        expect(connects).toEqual([]);
      });
    }

    it('checks again when the input is fetched: a name re-pointed at a private address fails the job, nothing contacted', async () => {
      dns.set('rebind.example', [[{ address: PUBLIC, family: 4 }], [{ address: '169.254.169.254', family: 4 }]]);
      const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url: 'https://rebind.example/Patient.ndjson' }]))));
      expect(res.statusCode, res.body).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
      expect(res.body).toContain('non-public address');
      expect(connects).toEqual([]);
    });

    it('follows no redirect: a 302 from the input host fails the job', async () => {
      files.files.set('/redirect.ndjson', { body: '', status: 302, headers: { location: 'http://169.254.169.254/' } });
      const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url: files.url('/redirect.ndjson') }]))));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.body).toContain('redirects are not followed');
      expect(files.requests.filter((r) => r === '/redirect.ndjson')).toHaveLength(1);
    });
  });

  it('fails a job whose input holds another type than declared, storing nothing', async () => {
    const url = files.serve('/mislabelled.ndjson', [{ resourceType: 'Observation', id: 'mislabelled-obs', status: 'final', code: { text: 'x' } }]);
    const { res } = await poll(s, statusPath(await kickoff(s, importParameters([{ type: 'Patient', url }]))));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.body).toContain('declared as Patient but holds Observation');
    expect((await s.request({ method: 'GET', url: '/fhir/Observation/mislabelled-obs' })).statusCode).toBe(404);
  });

  it('cancels a running job with DELETE: 202, then 404; the job stops and stores nothing more', async () => {
    const patients = Array.from({ length: 50 }, (_, i) => ({ resourceType: 'Patient', id: `cancel-${i}`, gender: 'female' }));
    const body = patients.map((p) => JSON.stringify(p)).join('\n') + '\n';
    // The download stalls half-way, so the job is certainly running when it is cancelled.
    files.files.set('/stall/Patient.ndjson', { body, stallAfter: Math.floor(body.length / 2) });
    const path = statusPath(await kickoff(s, importParameters([{ type: 'Patient', url: files.url('/stall/Patient.ndjson') }])));
    const id = path.split('/').pop()!;
    const deadline = Date.now() + 20_000;
    while ((await s.db.query<{ status: string }>('SELECT status FROM import_job WHERE id = $1', [id])).rows[0]!.status !== 'running') {
      if (Date.now() > deadline) throw new Error('job never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = await s.request({ method: 'GET', url: path });
    expect(running.statusCode).toBe(202);
    expect(running.headers['x-progress']).toMatch(/^\d+% \(0 written, 0 unchanged, 0 rejected\)$/);
    expect(running.body).toBe('');
    const cancelled = await s.request({ method: 'DELETE', url: path });
    expect(cancelled.statusCode, cancelled.body).toBe(202);
    expect(JSON.parse(cancelled.body)).toMatchObject({ resourceType: 'OperationOutcome' });
    expect((await s.request({ method: 'GET', url: path })).statusCode).toBe(404);
    expect((await s.request({ method: 'DELETE', url: path })).statusCode).toBe(404);
    for (let i = 0; ; i++) {
      if ((await s.db.query<{ status: string }>('SELECT status FROM import_job WHERE id = $1', [id])).rows[0]!.status === 'cancelled') break;
      if (i > 400) throw new Error('job not cancelled');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await count("SELECT count(*) AS n FROM resource WHERE id LIKE 'cancel-%'")).toBe(0);
  });

  it('is advertised in the CapabilityStatement and the OpenAPI document', async () => {
    const capability = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as { rest: { operation?: { name: string; definition: string }[] }[] };
    expect(capability.rest[0]!.operation).toContainEqual(expect.objectContaining({ name: 'import', definition: expect.stringMatching(/OperationDefinition\/import$/) as unknown }));
    const doc = JSON.parse((await s.request({ method: 'GET', url: '/fhir/openapi.json' })).body) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/$import']!)).toEqual(['post']);
    expect(Object.keys(doc.paths['/$import-status/{id}']!).sort()).toEqual(['delete', 'get']);
    expect(Object.keys(doc.paths['/$import-status/{id}/errors/{index}']!)).toEqual(['get']);
  });

  it('answers 404 for an unknown job and error file', async () => {
    expect((await s.request({ method: 'GET', url: '/fhir/$import-status/00000000-0000-0000-0000-000000000000' })).statusCode).toBe(404);
    expect((await s.request({ method: 'GET', url: '/fhir/$import-status/00000000-0000-0000-0000-000000000000/errors/0' })).statusCode).toBe(404);
  });
});
