// Index extraction with FHIRPath over the R4 SearchParameter definitions.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dedupe, extractIndexValues } from '../../../src/fhir/search/extract.js';
import type { IndexRows } from '../../../src/fhir/search/types.js';
import { searchParametersFor } from '../../../src/fhir/search/parameters.js';
import { dateRange, normalizeString, parseDecimal } from '../../../src/fhir/search/values.js';

describe('dateRange', () => {
  it('maps each precision to a half-open range', () => {
    expect(dateRange('2020')).toEqual({ low: '2020-01-01T00:00:00.000Z', high: '2021-01-01T00:00:00.000Z' });
    expect(dateRange('2020-12')).toEqual({ low: '2020-12-01T00:00:00.000Z', high: '2021-01-01T00:00:00.000Z' });
    expect(dateRange('2020-12-31')).toEqual({ low: '2020-12-31T00:00:00.000Z', high: '2021-01-01T00:00:00.000Z' });
    expect(dateRange('2020-12-31T23:59:59Z')).toEqual({ low: '2020-12-31T23:59:59.000Z', high: '2021-01-01T00:00:00.000Z' });
    expect(dateRange('2020-06-01T10:00:00.123-05:00')).toEqual({ low: '2020-06-01T15:00:00.123Z', high: '2020-06-01T15:00:00.124Z' });
    expect(dateRange('0050')).toEqual({ low: '0050-01-01T00:00:00.000Z', high: '0051-01-01T00:00:00.000Z' });
    expect(dateRange('9999')?.high).toBe('infinity');
    for (const bad of ['20', '2020-1', '2020-00', '2020-02-30', '2020-01-01T', '2020-01-01T10', 'x', '2020-01-01T10:60']) expect(dateRange(bad), bad).toBeUndefined();
  });
  it('decimals carry their precision', () => {
    expect(parseDecimal('100')).toEqual({ value: 100, low: 99.5, high: 100.5 });
    expect(parseDecimal('1e2')).toEqual({ value: 100, low: 50, high: 150 });
    expect(parseDecimal('abc')).toBeUndefined();
    expect(normalizeString('  Ça  VA ')).toBe('ca va');
  });
  it('normalises printable ASCII (its fast path) exactly as the general NFD form', () => {
    const general = (s: string): string =>
      s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, 200);
    const alphabet = ' ~AZaz09.-_\'"/,  MAXwell\t\n\u00a0É';
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      const s = Array.from({ length: next() % 260 }, () => alphabet[next() % alphabet.length]).join('');
      expect(normalizeString(s), JSON.stringify(s)).toBe(general(s));
    }
    expect(normalizeString('  Rivera   ANA  ')).toBe('rivera ana');
    expect(normalizeString('a\tb')).toBe('a b');
    expect(normalizeString('x'.repeat(300))).toHaveLength(200);
  });
});

describe('extractIndexValues', () => {
  it('CareTeam', () => {
    const rows = extractIndexValues({
      resourceType: 'CareTeam', id: 'ct1', status: 'active', subject: { reference: 'Patient/p1' },
      participant: [{ member: { reference: 'Practitioner/d1' } }, { member: { reference: 'http://other/fhir/Organization/o1' } }],
      period: { start: '2020-01' }, meta: { lastUpdated: '2024-01-02T03:04:05.123Z', tag: [{ system: 's', code: 't' }] },
    });
    expect(rows.token).toEqual(expect.arrayContaining([
      { code: 'status', system: null, value: 'active', text: null },
      { code: '_tag', system: 's', value: 't', text: null },
      { code: '_id', system: null, value: 'ct1', text: null },
    ]));
    expect(rows.reference).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'patient', targetType: 'Patient', targetId: 'p1', url: null }),
      expect.objectContaining({ code: 'subject', targetType: 'Patient', targetId: 'p1' }),
      expect.objectContaining({ code: 'participant', targetType: 'Practitioner', targetId: 'd1' }),
      expect.objectContaining({ code: 'participant', targetType: 'Organization', targetId: null, url: 'http://other/fhir/Organization/o1' }),
    ]));
    expect(rows.date).toEqual(expect.arrayContaining([
      { code: 'date', low: '2020-01-01T00:00:00.000Z', high: 'infinity' },
      { code: '_lastUpdated', low: '2024-01-02T03:04:05.123Z', high: '2024-01-02T03:04:05.124Z' },
    ]));
  });

  it('patient only for Patient subjects (resolve() is Patient)', () => {
    const rows = extractIndexValues({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Group/g1' } });
    expect(rows.reference.filter((r) => r.code === 'patient')).toEqual([]);
    expect(rows.reference.filter((r) => r.code === 'subject')).toHaveLength(1);
  });

  it('CarePlan, ServiceRequest and Consent coordination values', () => {
    const cp = extractIndexValues({
      resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: { reference: 'Patient/p1' }, careTeam: [{ reference: 'CareTeam/ct1' }],
      period: { start: '2024-01-01', end: '2024-06-30' }, category: [{ coding: [{ system: 'http://x', code: 'assess-plan', display: 'Assessment' }] }],
    });
    expect(cp.reference).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'care-team', targetType: 'CareTeam', targetId: 'ct1' })]));
    expect(cp.date).toContainEqual({ code: 'date', low: '2024-01-01T00:00:00.000Z', high: '2024-07-01T00:00:00.000Z' });
    expect(cp.token).toContainEqual({ code: 'category', system: 'http://x', value: 'assess-plan', text: 'assessment' });

    const sr = extractIndexValues({
      resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '1234' }] }, requester: { reference: 'Practitioner/d1' },
      occurrenceTiming: { event: ['2024-03-10', '2024-03-12'] },
    });
    expect(sr.date.filter((d) => d.code === 'occurrence')).toEqual([
      { code: 'occurrence', low: '2024-03-10T00:00:00.000Z', high: '2024-03-11T00:00:00.000Z' },
      { code: 'occurrence', low: '2024-03-12T00:00:00.000Z', high: '2024-03-13T00:00:00.000Z' },
    ]);
    expect(sr.reference).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'requester', targetType: 'Practitioner', targetId: 'd1' })]));

    const cn = extractIndexValues({
      resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/p1' },
      scope: { coding: [{ system: 'http://s', code: 'patient-privacy' }] }, category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      provision: { actor: [{ role: { text: 'r' }, reference: { reference: 'Practitioner/d1' } }] },
    });
    expect(cn.reference).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'actor', targetType: 'Practitioner', targetId: 'd1' }),
      expect.objectContaining({ code: 'patient', targetType: 'Patient', targetId: 'p1' }),
    ]));
    expect(cn.token).toContainEqual({ code: 'scope', system: 'http://s', value: 'patient-privacy', text: null });
  });

  it('Patient strings, tokens, identifier references', () => {
    const rows = extractIndexValues({
      resourceType: 'Patient', name: [{ family: 'Müller', given: ['Jöhn'] }], birthDate: '1970', gender: 'male',
      telecom: [{ system: 'phone', value: '555' }], identifier: [{ system: 'urn:mrn', value: 'M1', type: { text: 'MRN' } }],
      generalPractitioner: [{ identifier: { system: 'urn:npi', value: '1' } }], address: [{ city: 'Springfield' }],
    });
    expect(rows.string).toEqual(expect.arrayContaining([
      { code: 'family', normalized: 'muller', exact: 'Müller' }, { code: 'name', normalized: 'john', exact: 'Jöhn' },
      { code: 'address-city', normalized: 'springfield', exact: 'Springfield' },
    ]));
    expect(rows.date).toContainEqual({ code: 'birthdate', low: '1970-01-01T00:00:00.000Z', high: '1971-01-01T00:00:00.000Z' });
    expect(rows.token).toEqual(expect.arrayContaining([
      { code: 'phone', system: null, value: '555', text: null },
      { code: 'identifier', system: 'urn:mrn', value: 'M1', text: 'mrn' },
    ]));
    expect(rows.reference).toContainEqual({ code: 'general-practitioner', targetType: null, targetId: null, url: null, identifierSystem: 'urn:npi', identifierValue: '1' });
  });

  it('Observation quantities, decimals and composites', () => {
    const rows = extractIndexValues({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '2339-0' }] },
      valueQuantity: { value: 5.4, system: 'http://unitsofmeasure.org', code: 'mg' }, effectivePeriod: { start: '2024-02-01T10:00:00Z' },
    });
    expect(rows.quantity).toContainEqual({ code: 'value-quantity', low: 5.4, high: 5.4, system: 'http://unitsofmeasure.org', unitCode: 'mg', unit: null });
    expect(rows.date).toContainEqual({ code: 'date', low: '2024-02-01T10:00:00.000Z', high: 'infinity' });
    expect(rows.composite).toContainEqual(expect.objectContaining({ code: 'code-value-quantity', c1System: 'http://loinc.org', c1Value: '2339-0', c2Low: 5.4, c2Value: 'mg' }));
    const ra = extractIndexValues({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/1' }, prediction: [{ probabilityDecimal: 0.25 }] });
    expect(ra.number).toEqual([{ code: 'probability', low: 0.25, high: 0.25 }]);
  });

  it('every resource type has parameters, with definition urls', () => {
    const ps = searchParametersFor('CareTeam');
    expect(ps.map((p) => p.code)).toEqual(expect.arrayContaining(['_id', '_lastUpdated', '_tag', '_profile', '_security', 'patient', 'participant', 'status']));
    expect(ps.find((p) => p.code === 'participant')).toMatchObject({ type: 'reference', url: 'http://hl7.org/fhir/SearchParameter/CareTeam-participant' });
  });

  it('survives junk data without throwing', () => {
    const junk: Record<string, unknown> = { resourceType: 'Observation', valueQuantity: 'x', effectiveDateTime: 12, code: [1, 2], subject: { reference: 5 } };
    expect(() => extractIndexValues(junk)).not.toThrow();
    expect(extractIndexValues({})).toMatchObject({ token: [] });
  });
});

describe('index row deduplication', () => {
  it('drops exactly the rows whose JSON text repeats, over every official example', () => {
    const byJson = <T>(rows: T[]): T[] => {
      const seen = new Set<string>();
      return rows.filter((r) => !seen.has(JSON.stringify(r)) && Boolean(seen.add(JSON.stringify(r))));
    };
    const dir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
    let compared = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json') && x !== 'package.json')) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (text.length > 256 * 1024) continue;
      let rows: IndexRows;
      try {
        rows = extractIndexValues(JSON.parse(text) as Record<string, unknown>);
      } catch {
        continue;
      }
      for (const list of Object.values(rows) as Record<string, unknown>[][]) {
        // Repeats, near-repeats (a field undefined, null or NaN, which JSON writes alike) and tricky strings.
        const variants = list.flatMap((r) => [r, { ...r }, { ...r, extra: undefined }, Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? Number.NaN : v]))]);
        const tricky = [{ code: 'a', value: 'b:s1:c' }, { code: 'a:s1:b', value: 'c' }, { code: 'a', value: 'b:s1:c' }, { code: 'a', value: null }, { code: 'a', value: 'null' }];
        const all = [...variants, ...tricky];
        expect(dedupe(all)).toEqual(byJson(all));
        compared += all.length;
      }
    }
    expect(compared).toBeGreaterThan(10_000);
  });
});
