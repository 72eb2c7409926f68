// Index-backed search on every backend (real PostgreSQL when available, and PGlite): resources are
// inserted into `resource` directly, indexed with writeSearchIndex, and searched with executeSearch.
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../src/fhir/search/cursor.js';
import { parseSearchRequest } from '../../../src/fhir/search/parse.js';
import { FhirError } from '../../../src/fhir/outcome.js';
import type { Database } from '../../../src/storage/database.js';
import { executeSearch, findMatchingIds, writeSearchIndex, type SearchResult } from '../../../src/storage/search/index.js';
import { openTestDatabase, storageBackends } from '../../support/db.js';

let seq = 0;

async function put(db: Database, resource: Resource & { id: string }): Promise<number> {
  const lastUpdated = resource.meta?.lastUpdated ?? new Date(Date.UTC(2024, 0, 1, 0, 0, ++seq)).toISOString();
  const body = { ...resource, meta: { ...resource.meta, versionId: '1', lastUpdated } };
  return db.transaction(async (tx) => {
    const res = await tx.query<{ rid: number }>(
      `INSERT INTO resource (resource_type, id, version_id, last_updated, deleted, content) VALUES ($1, $2, 1, $3, false, $4)
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = resource.version_id + 1, last_updated = EXCLUDED.last_updated, content = EXCLUDED.content, deleted = false
       RETURNING rid`,
      [resource.resourceType, resource.id, lastUpdated, JSON.stringify(body)],
    );
    const rid = Number(res.rows[0]!.rid);
    await writeSearchIndex(tx, rid, body);
    return rid;
  });
}

async function remove(db: Database, resourceType: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const res = await tx.query<{ rid: number }>(
      `UPDATE resource SET deleted = true, content = NULL, version_id = version_id + 1 WHERE resource_type = $1 AND id = $2 RETURNING rid`,
      [resourceType, id],
    );
    await writeSearchIndex(tx, Number(res.rows[0]!.rid), undefined);
  });
}

describe.each(storageBackends())('search on %s', (backend) => {
  let db: Database;
  const search = async (type: string | undefined, query: string, strict = false): Promise<SearchResult> => {
    const { request } = parseSearchRequest(type, new URLSearchParams(query), { strict, maxCount: 1000 });
    return executeSearch(db, request);
  };
  const ids = async (type: string | undefined, query: string): Promise<string[]> => (await search(type, query)).matches.map((m) => m.id).sort();
  const orderedIds = async (type: string | undefined, query: string): Promise<string[]> => (await search(type, query)).matches.map((m) => m.id);

  beforeAll(async () => {
    db = await openTestDatabase(backend);
    await put(db, {
      resourceType: 'Patient', id: 'p1', active: true, gender: 'male', birthDate: '1970-03-15',
      name: [{ family: 'Müller', given: ['Jöhn', 'Q'] }], identifier: [{ system: 'urn:mrn', value: 'M1' }],
      telecom: [{ system: 'phone', value: '555-0001' }], meta: { tag: [{ system: 'urn:tag', code: 'vip' }], profile: ['http://example.org/StructureDefinition/p'] },
      address: [{ city: 'Springfield', state: 'IL' }],
    });
    await put(db, {
      resourceType: 'Patient', id: 'p2', active: false, gender: 'female', birthDate: '1985',
      name: [{ family: 'Smith', given: ['Anna'] }], identifier: [{ system: 'urn:mrn', value: 'M2' }, { system: 'urn:other', value: 'M1' }],
      managingOrganization: { reference: 'Organization/o1' },
    });
    await put(db, { resourceType: 'Patient', id: 'p3', gender: 'other', name: [{ family: "O'Brien%_", given: ['Zed'] }] });
    await put(db, { resourceType: 'Organization', id: 'o1', name: 'Acme Health', identifier: [{ system: 'urn:org', value: 'ACME' }] });
    await put(db, { resourceType: 'Practitioner', id: 'd1', name: [{ family: 'House' }], identifier: [{ system: 'urn:npi', value: 'NPI1' }] });
    await put(db, { resourceType: 'Practitioner', id: 'd2', name: [{ family: 'Wilson' }] });
    await put(db, {
      resourceType: 'CareTeam', id: 'ct1', status: 'active', subject: { reference: 'Patient/p1' },
      participant: [{ member: { reference: 'Practitioner/d1' } }, { member: { reference: 'Organization/o1' } }],
      period: { start: '2023-01-01' },
    });
    await put(db, {
      resourceType: 'CareTeam', id: 'ct2', status: 'inactive', subject: { reference: 'Patient/p2' },
      participant: [{ member: { reference: 'Practitioner/d2' } }],
    });
    await put(db, {
      resourceType: 'CarePlan', id: 'cp1', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' },
      careTeam: [{ reference: 'CareTeam/ct1' }], period: { start: '2024-01-01', end: '2024-06-30' },
      category: [{ coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category', code: 'assess-plan' }], text: 'Assessment and Plan' }],
    });
    await put(db, {
      resourceType: 'CarePlan', id: 'cp2', status: 'completed', intent: 'plan', subject: { reference: 'Patient/p1' },
      period: { start: '2022-01-01', end: '2022-12-31' },
    });
    await put(db, {
      resourceType: 'ServiceRequest', id: 'sr1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '1234' }] }, occurrenceDateTime: '2024-03-10T09:30:00Z',
      requester: { reference: 'Practitioner/d1' },
    });
    await put(db, {
      resourceType: 'Consent', id: 'cn1', status: 'active', patient: { reference: 'Patient/p1' },
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      provision: { actor: [{ role: { text: 'x' }, reference: { reference: 'Practitioner/d1' } }] },
    });
    await put(db, {
      resourceType: 'Observation', id: 'ob1', status: 'final', subject: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
      valueQuantity: { value: 100, system: 'http://unitsofmeasure.org', code: 'mg/dL', unit: 'mg/dL' }, effectiveDateTime: '2024-02-01',
    });
    await put(db, {
      resourceType: 'Observation', id: 'ob2', status: 'final', subject: { reference: 'Patient/p2' },
      code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
      valueQuantity: { value: 150.5, system: 'http://unitsofmeasure.org', code: 'mg/dL' }, effectiveDateTime: '2024-02-03T10:00:00Z',
    });
    await put(db, { resourceType: 'RiskAssessment', id: 'ra1', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 0.25 }] });
    await put(db, { resourceType: 'ValueSet', id: 'vs1', status: 'active', url: 'http://example.org/fhir/ValueSet/abc' });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('token: code, system|code, |code, system|, :not, :text, _tag', async () => {
    expect(await ids('Patient', 'gender=male')).toEqual(['p1']);
    expect(await ids('Patient', 'gender=male,female')).toEqual(['p1', 'p2']);
    expect(await ids('Patient', 'identifier=urn:mrn|M1')).toEqual(['p1']);
    expect(await ids('Patient', 'identifier=M1')).toEqual(['p1', 'p2']);
    expect(await ids('Patient', 'identifier=urn:other|')).toEqual(['p2']);
    expect(await ids('Patient', 'active=true')).toEqual(['p1']);
    expect(await ids('Patient', 'gender:not=male')).toEqual(['p2', 'p3']);
    expect(await ids('CarePlan', 'category:text=assessment')).toEqual(['cp1']);
    expect(await ids('Patient', '_tag=urn:tag|vip')).toEqual(['p1']);
    expect(await ids('Patient', 'phone=555-0001')).toEqual(['p1']);
    expect(await ids('CareTeam', 'status=|active')).toEqual(['ct1']);
  });

  it('string: default starts-with (case/accent-insensitive), :exact, :contains, LIKE metacharacters', async () => {
    expect(await ids('Patient', 'name=mul')).toEqual(['p1']);
    expect(await ids('Patient', 'name=JOHN')).toEqual(['p1']);
    expect(await ids('Patient', 'family:exact=Müller')).toEqual(['p1']);
    expect(await ids('Patient', 'family:exact=muller')).toEqual([]);
    expect(await ids('Patient', 'name:contains=ith')).toEqual(['p2']);
    expect(await ids('Patient', 'address-city=spring')).toEqual(['p1']);
    expect(await ids('Patient', 'family=%')).toEqual([]);
    expect(await ids('Patient', 'family=o%27brien%25_')).toEqual(['p3']);
    expect(await ids('Patient', 'name:contains=_')).toEqual(['p3']);
  });

  it('date: prefixes and precision', async () => {
    expect(await ids('Patient', 'birthdate=1970')).toEqual(['p1']);
    expect(await ids('Patient', 'birthdate=1970-03')).toEqual(['p1']);
    expect(await ids('Patient', 'birthdate=1970-03-16')).toEqual([]);
    expect(await ids('Patient', 'birthdate=1985-06-01')).toEqual([]); // 1985 is wider than one day
    expect(await ids('Patient', 'birthdate=gt1980')).toEqual(['p2']);
    expect(await ids('Patient', 'birthdate=lt1980')).toEqual(['p1']);
    expect(await ids('Patient', 'birthdate=ge1985')).toEqual(['p2']);
    expect(await ids('Patient', 'birthdate=le1970-03-15')).toEqual(['p1']);
    expect(await ids('Patient', 'birthdate=ne1970')).toEqual(['p2']);
    expect(await ids('CarePlan', 'date=sa2023')).toEqual(['cp1']);
    expect(await ids('CarePlan', 'date=eb2023')).toEqual(['cp2']);
    expect(await ids('CarePlan', 'date=ap2024-03-01')).toEqual(['cp1']);
    expect(await ids('CareTeam', 'date=gt2030')).toEqual(['ct1']); // open-ended period
    expect(await ids('ServiceRequest', 'occurrence=2024-03-10')).toEqual(['sr1']);
    expect(await ids('ServiceRequest', 'occurrence=2024-03-10T11:30:00%2B02:00')).toEqual(['sr1']);
    expect(await ids('ServiceRequest', 'occurrence=2024-03-10T09:30:00.5Z')).toEqual([]); // narrower than the stored second
    expect(await ids('ServiceRequest', 'occurrence=2024-03-10T11:30%2B02:00')).toEqual(['sr1']);
    expect(await ids('Observation', 'date=2024-02')).toEqual(['ob1', 'ob2']);
  });

  it('_lastUpdated and _id', async () => {
    const all = await ids('Patient', '_lastUpdated=gt2000');
    expect(all).toEqual(['p1', 'p2', 'p3']);
    expect(await ids('Patient', '_lastUpdated=lt2000')).toEqual([]);
    expect(await ids('Patient', '_id=p1,p3')).toEqual(['p1', 'p3']);
    expect(await ids('Patient', '_id:not=p1')).toEqual(['p2', 'p3']);
  });

  it('number and quantity', async () => {
    expect(await ids('RiskAssessment', 'probability=0.25')).toEqual(['ra1']);
    expect(await ids('RiskAssessment', 'probability=gt0.2')).toEqual(['ra1']);
    expect(await ids('RiskAssessment', 'probability=lt0.2')).toEqual([]);
    expect(await ids('Observation', 'value-quantity=100')).toEqual(['ob1']);
    expect(await ids('Observation', 'value-quantity=1e2')).toEqual(['ob1']);
    expect(await ids('Observation', 'value-quantity=gt100|http://unitsofmeasure.org|mg/dL')).toEqual(['ob2']);
    expect(await ids('Observation', 'value-quantity=ge100||mg/dL')).toEqual(['ob1', 'ob2']);
    expect(await ids('Observation', 'value-quantity=100|http://unitsofmeasure.org|g')).toEqual([]);
    expect(await ids('Observation', 'value-quantity=ap110')).toEqual(['ob1']);
  });

  it('reference: id, Type/id, type modifier, :identifier, :missing', async () => {
    expect(await ids('CareTeam', 'patient=p1')).toEqual(['ct1']);
    expect(await ids('CareTeam', 'subject=Patient/p2')).toEqual(['ct2']);
    expect(await ids('CareTeam', 'participant:Practitioner=d1')).toEqual(['ct1']);
    expect(await ids('CareTeam', 'participant=Organization/o1')).toEqual(['ct1']);
    expect(await ids('Patient', 'organization:missing=true')).toEqual(['p1', 'p3']);
    expect(await ids('Patient', 'organization:missing=false')).toEqual(['p2']);
    expect(await ids('CareTeam', 'date:missing=true')).toEqual(['ct2']);
  });

  it('uri: exact, :below, :above', async () => {
    expect(await ids('ValueSet', 'url=http://example.org/fhir/ValueSet/abc')).toEqual(['vs1']);
    expect(await ids('ValueSet', 'url:below=http://example.org/fhir')).toEqual(['vs1']);
    expect(await ids('ValueSet', 'url:above=http://example.org/fhir/ValueSet/abc/sub')).toEqual(['vs1']);
    expect(await ids('Patient', '_profile=http://example.org/StructureDefinition/p')).toEqual(['p1']);
  });

  it('composite', async () => {
    expect(await ids('Observation', 'code-value-quantity=http://loinc.org|2339-0$gt120')).toEqual(['ob2']);
    expect(await ids('Observation', 'code-value-quantity=2339-0$100')).toEqual(['ob1']);
  });

  it('coordination queries', async () => {
    expect(await ids('CareTeam', 'patient=Patient/p1&status=active&participant=Practitioner/d1')).toEqual(['ct1']);
    expect(await ids('CarePlan', 'subject=Patient/p1&category=assess-plan&status=active&date=ge2024-01-01')).toEqual(['cp1']);
    expect(await ids('ServiceRequest', 'patient=p1&code=http://snomed.info/sct|1234&status=active&occurrence=2024-03&requester=Practitioner/d1')).toEqual(['sr1']);
    expect(await ids('Consent', 'patient=p1&status=active&scope=patient-privacy&category=59284-0&actor=Practitioner/d1')).toEqual(['cn1']);
    const r = await search('CareTeam', 'patient=p1&_include=CareTeam:participant&_revinclude=CarePlan:care-team');
    expect(r.matches.map((m) => m.id)).toEqual(['ct1']);
    expect(r.included.map((m) => `${m.resourceType}/${m.id}`).sort()).toEqual(['CarePlan/cp1', 'Organization/o1', 'Practitioner/d1']);
    expect(JSON.parse(r.matches[0]!.content)).toMatchObject({ resourceType: 'CareTeam', id: 'ct1' });
  });

  it('include with target type and :iterate', async () => {
    const r = await search('CareTeam', '_id=ct1&_include=CareTeam:participant:Practitioner');
    expect(r.included.map((m) => m.id)).toEqual(['d1']);
    const it1 = await search('CarePlan', '_id=cp1&_include=CarePlan:care-team&_include:iterate=CareTeam:participant');
    expect(it1.included.map((m) => `${m.resourceType}/${m.id}`).sort()).toEqual(['CareTeam/ct1', 'Organization/o1', 'Practitioner/d1']);
    const noIt = await search('CarePlan', '_id=cp1&_include=CarePlan:care-team&_include=CareTeam:participant');
    expect(noIt.included.map((m) => `${m.resourceType}/${m.id}`)).toEqual(['CareTeam/ct1']);
    const rev = await search('Patient', '_id=p1&_revinclude=CareTeam:subject&_include:iterate=CareTeam:participant:Practitioner');
    expect(rev.included.map((m) => `${m.resourceType}/${m.id}`).sort()).toEqual(['CareTeam/ct1', 'Practitioner/d1']);
  });

  it('chaining and _has', async () => {
    expect(await ids('CareTeam', 'subject:Patient.identifier=urn:mrn|M1')).toEqual(['ct1']);
    expect(await ids('CareTeam', 'patient.name=smith')).toEqual(['ct2']);
    expect(await ids('CarePlan', 'care-team.participant.identifier=NPI1')).toEqual(['cp1']);
    expect(await ids('CareTeam', 'subject:Patient.organization.name=acme')).toEqual(['ct2']);
    expect(await ids('Patient', '_has:CareTeam:patient:status=active')).toEqual(['p1']);
    expect(await ids('Patient', '_has:Observation:patient:value-quantity=gt120')).toEqual(['p2']);
    expect(await ids('Practitioner', '_has:CareTeam:participant:_has:CarePlan:care-team:status=active')).toEqual(['d1']);
  });

  it('sort by several keys', async () => {
    expect(await orderedIds('Patient', '_sort=birthdate')).toEqual(['p1', 'p2', 'p3']);
    expect(await orderedIds('Patient', '_sort=-birthdate')).toEqual(['p2', 'p1', 'p3']);
    expect(await orderedIds('Patient', '_sort=family')).toEqual(['p1', 'p3', 'p2']);
    expect(await orderedIds('Patient', '_sort=gender,-_id')).toEqual(['p2', 'p1', 'p3']);
    expect(await orderedIds('Patient', '_sort=-_lastUpdated')).toEqual(['p3', 'p2', 'p1']);
  });

  it('total modes and _summary=count', async () => {
    expect((await search('Patient', '_count=1&_total=accurate')).total).toBe(3);
    expect((await search('Patient', '_count=1')).total).toBeUndefined();
    expect((await search('Patient', '')).total).toBe(3);
    expect((await search('Patient', '_total=none')).total).toBeUndefined();
    const est = await search('Patient', '_count=1&_total=estimate');
    expect(typeof est.total).toBe('number');
    const c = await search('Patient', '_summary=count');
    expect(c.matches).toEqual([]);
    expect(c.total).toBe(3);
  });

  it('system-level search with _type', async () => {
    expect(await ids(undefined, '_type=Patient,Practitioner&_id=p1,d1')).toEqual(['d1', 'p1']);
    expect((await ids(undefined, '_tag=urn:tag|vip'))).toEqual(['p1']);
  });

  it('pages stay consistent while rows are inserted and deleted', async () => {
    for (let i = 0; i < 7; i++) await put(db, { resourceType: 'Location', id: `l${i}`, name: `Loc ${i}`, status: 'active' });
    const first = await search('Location', 'status=active&_count=3');
    expect(first.matches.map((m) => m.id)).toEqual(['l0', 'l1', 'l2']);
    await put(db, { resourceType: 'Location', id: 'lnew', name: 'Loc new', status: 'active' });
    await remove(db, 'Location', 'l1');
    const second = await search('Location', `status=active&_count=3&_cursor=${encodeCursor(first.next!)}`);
    expect(second.matches.map((m) => m.id)).toEqual(['l3', 'l4', 'l5']);
    const third = await search('Location', `status=active&_count=3&_cursor=${encodeCursor(second.next!)}`);
    expect(third.matches.map((m) => m.id)).toEqual(['l6']);
    expect(third.next).toBeUndefined();
    const back = await search('Location', `status=active&_count=3&_cursor=${encodeCursor(second.previous!)}`);
    expect(back.matches.map((m) => m.id)).toEqual(['l0', 'l2']);
    // Sorted paging (offset within the snapshot bound).
    const s1 = await search('Location', 'status=active&_count=2&_sort=-name');
    expect(s1.matches.map((m) => m.id)).toEqual(['lnew', 'l6']);
    await put(db, { resourceType: 'Location', id: 'lz', name: 'Loc zzz', status: 'active' });
    const s2 = await search('Location', `status=active&_count=2&_sort=-name&_cursor=${encodeCursor(s1.next!)}`);
    expect(s2.matches.map((m) => m.id)).toEqual(['l5', 'l4']);
    expect(s2.previous).toEqual({ maxRid: s1.self.maxRid, offset: 0 });
    // Deleted resources and their index rows are gone.
    expect(await ids('Location', 'name=loc 1')).toEqual([]);
  });

  it('updates replace index rows', async () => {
    await put(db, { resourceType: 'Device', id: 'dev1', status: 'active' });
    expect(await ids('Device', 'status=active')).toEqual(['dev1']);
    await put(db, { resourceType: 'Device', id: 'dev1', status: 'inactive' });
    expect(await ids('Device', 'status=active')).toEqual([]);
    expect(await ids('Device', 'status=inactive')).toEqual(['dev1']);
  });

  it('findMatchingIds for conditional interactions (strict)', async () => {
    expect(await db.transaction((tx) => findMatchingIds(tx, 'Patient', new URLSearchParams('identifier=urn:mrn|M1')))).toEqual(['p1']);
    expect(await db.transaction((tx) => findMatchingIds(tx, 'Patient', new URLSearchParams('gender=male,female')))).toEqual(['p1', 'p2']);
    await expect(db.transaction((tx) => findMatchingIds(tx, 'Patient', new URLSearchParams('bogus=1')))).rejects.toBeInstanceOf(FhirError);
  });

  it('fuzzing: malformed input is a FhirError 400 or a normal result, never anything else', async () => {
    const queries = [
      'birthdate=2020-13-01', 'birthdate=2020-02-30', 'birthdate=xx2020', 'birthdate=2020-01-01T25:00', 'birthdate=99999',
      '_sort=x,-', '_sort=-', '_sort=,', '_sort=name;drop', '_count=-1', '_count=abc', '_count=99999999999',
      "name='; DROP TABLE resource; --", 'name=%27%22%5C', 'identifier=a|b|c', 'identifier=|', 'gender:bogus=x',
      'organization=Bogus/1', 'organization=Patient/1', 'organization=a b', 'probability=abc', 'probability=gt', 'probability=1e999',
      '_has:Bogus:x:y=1', '_has:Observation', '_has:Observation:code:status=1', 'organization.bogus=1', 'a.b.c.d.e.f=1',
      'general-practitioner:Practitioner.organization.partof.partof.partof.name=x',
      '_include=Bogus:x', '_include=Patient', '_revinclude=Patient:name', '_total=maybe', '_summary=nope', '_elements=a;b',
      '_cursor=notbase64!', `_cursor=${Buffer.from('{"maxRid":-1}').toString('base64url')}`, 'unknownparam=1', '_text=foo',
      'name:missing=maybe', '_id=../etc', 'value-quantity=5|a|b|c', 'code-value-quantity=1$2$3', 'code-value-quantity=abc',
      'birthdate=ap', 'near=1|2|3', 'identifier=\\', 'name=\\,\\$\\|', '_lastUpdated=le2020-01-01T00:00:00.1234Z', '_type=Patient',
    ];
    for (const q of queries) {
      for (const type of ['Patient', 'Observation']) {
        for (const strict of [false, true]) {
          try {
            await search(type, q, strict);
          } catch (err) {
            if (!(err instanceof FhirError) || err.status !== 400) throw new Error(`${type}?${q} (strict=${strict}) threw ${String(err)}`);
          }
        }
      }
    }
  });
});
