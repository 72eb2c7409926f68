// Parameters that repeat another parameter of their type (same type, same expression: Patient `phonetic`
// is `name`) store no rows of their own (docs/adr/0022): every search on them reads the rows of the
// parameter they repeat, on every backend, and migration 0015 removes the rows earlier versions wrote.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearchRequest } from '../../../src/fhir/search/parse.js';
import { getSearchParam, storedCode } from '../../../src/fhir/search/parameters.js';
import type { Database } from '../../../src/storage/database.js';
import { MIGRATIONS_DIR } from '../../../src/storage/migrate.js';
import { executeSearch, writeSearchIndex } from '../../../src/storage/search/index.js';
import { openTestDatabase, storageBackends } from '../../support/db.js';

let seq = 0;
async function put(db: Database, resource: Resource & { id: string }): Promise<number> {
  const lastUpdated = new Date(Date.UTC(2024, 0, 1, 0, 0, ++seq)).toISOString();
  const body = { ...resource, meta: { versionId: '1', lastUpdated } };
  return db.transaction(async (tx) => {
    const res = await tx.query<{ rid: number }>(
      `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, 1, $3, false, $4) RETURNING rid`,
      [resource.resourceType, resource.id, lastUpdated, JSON.stringify(body)],
    );
    const rid = Number(res.rows[0]!.rid);
    await writeSearchIndex(tx, rid, body);
    return rid;
  });
}

describe('which parameters are stored under another code', () => {
  it('phonetic is name on the person types, but not on Organization (whose name also covers alias)', () => {
    for (const t of ['Patient', 'Person', 'Practitioner', 'RelatedPerson']) expect(storedCode(t, 'phonetic')).toBe('name');
    expect(getSearchParam('Organization', 'phonetic')?.storedAs).toBeUndefined();
    expect(storedCode('Organization', 'phonetic')).toBe('phonetic');
    expect(storedCode('CodeSystem', 'url')).toBe('system');
    expect(storedCode('CapabilityStatement', 'version')).toBe('fhirversion');
    expect(storedCode('Patient', 'name')).toBe('name');
    expect(storedCode(undefined, '_tag')).toBe('_tag');
  });
});

describe.each(storageBackends())('stored aliases on %s', (backend) => {
  let db: Database;
  const ids = async (type: string, query: string): Promise<string[]> => {
    const { request } = parseSearchRequest(type, new URLSearchParams(query), { strict: true, maxCount: 100 });
    return (await executeSearch(db, request)).matches.map((m) => m.id);
  };

  beforeAll(async () => {
    db = await openTestDatabase(backend);
    await put(db, { resourceType: 'Practitioner', id: 'd1', name: [{ family: 'House', given: ['Greg'] }] });
    await put(db, { resourceType: 'Organization', id: 'o1', name: 'Acme Health', alias: ['Roadrunner Care'] });
    await put(db, { resourceType: 'Patient', id: 'p1', name: [{ family: 'Rivera', given: ['Ana'] }], generalPractitioner: [{ reference: 'Practitioner/d1' }] });
    await put(db, { resourceType: 'Patient', id: 'p2', name: [{ family: 'Abbott' }], generalPractitioner: [{ reference: 'Organization/o1' }] });
    await put(db, { resourceType: 'Patient', id: 'p3', gender: 'other' });
    await put(db, { resourceType: 'CodeSystem', id: 'cs1', url: 'http://example.org/cs', status: 'active', content: 'complete' });
  });
  afterAll(async () => {
    await db.close();
  });

  it('writes no rows under the alias code, and the repeated parameter keeps its own', async () => {
    const rows = await db.query<{ resource_type: string; code: string; n: number }>(
      `SELECT resource_type, code, count(*)::int AS n FROM search_string WHERE code IN ('name', 'phonetic') GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(rows.rows).toEqual([
      { resource_type: 'Organization', code: 'name', n: 2 },
      { resource_type: 'Organization', code: 'phonetic', n: 1 },
      { resource_type: 'Patient', code: 'name', n: 3 },
      { resource_type: 'Practitioner', code: 'name', n: 2 },
    ]);
    const uri = await db.query<{ code: string }>(`SELECT code FROM search_uri WHERE resource_type = 'CodeSystem' ORDER BY code`);
    expect(uri.rows.map((r) => r.code)).toEqual(['system']);
  });

  it('serves every form of search on the alias from the rows of the parameter it repeats', async () => {
    expect(await ids('Patient', 'phonetic=riv')).toEqual(['p1']);
    expect(await ids('Patient', 'phonetic=ana')).toEqual(['p1']);
    expect(await ids('Patient', 'phonetic:contains=bbo')).toEqual(['p2']);
    expect(await ids('Patient', 'phonetic:exact=Rivera')).toEqual(['p1']);
    expect(await ids('Patient', 'phonetic:exact=rivera')).toEqual([]);
    expect(await ids('Patient', 'phonetic:missing=true')).toEqual(['p3']);
    expect(await ids('Patient', 'phonetic:missing=false&_sort=phonetic')).toEqual(['p2', 'p1']);
    expect(await ids('Patient', 'phonetic:missing=false&_sort=-phonetic')).toEqual(['p1', 'p2']);
    expect(await ids('CodeSystem', 'url=http://example.org/cs')).toEqual(['cs1']);
    expect(await ids('CodeSystem', 'url:below=http://example.org')).toEqual(['cs1']);
  });

  it('a chain reaching types that store the parameter under different codes matches on each', async () => {
    // general-practitioner reaches Practitioner (phonetic stored as name) and Organization (its own phonetic).
    expect(await ids('Patient', 'general-practitioner.phonetic=hou')).toEqual(['p1']);
    expect(await ids('Patient', 'general-practitioner.phonetic=acme')).toEqual(['p2']);
    // Organization's phonetic is its name only: its alias is not found through phonetic.
    expect(await ids('Patient', 'general-practitioner.phonetic=roadrunner')).toEqual([]);
    expect(await ids('Patient', 'general-practitioner.name=roadrunner')).toEqual(['p2']);
  });

  it('migration 0015 removes the alias rows earlier versions stored and keeps every other row', async () => {
    const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_string');
    const rid = (await db.query<{ rid: number }>(`SELECT rid FROM resource WHERE resource_type = 'Patient' AND id = 'p1'`)).rows[0]!.rid;
    const cs = (await db.query<{ rid: number }>(`SELECT rid FROM resource WHERE resource_type = 'CodeSystem' AND id = 'cs1'`)).rows[0]!.rid;
    await db.query(`INSERT INTO search_string (rid, resource_type, code, value_norm, value_exact) VALUES ($1, 'Patient', 'phonetic', 'rivera', 'Rivera')`, [rid]);
    await db.query(`INSERT INTO search_uri (rid, resource_type, code, value) VALUES ($1, 'CodeSystem', 'url', 'http://example.org/cs')`, [cs]);
    const sql = await readFile(join(MIGRATIONS_DIR, '0015_stored_search_aliases.sql'), 'utf8');
    await db.exec(sql);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM search_string')).rows[0]!.n).toBe(before.rows[0]!.n);
    expect((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM search_string WHERE code = 'phonetic'`)).rows[0]!.n).toBe(1); // Organization's
    expect((await db.query<{ code: string }>(`SELECT code FROM search_uri WHERE resource_type = 'CodeSystem'`)).rows.map((r) => r.code)).toEqual(['system']);
  });
});
