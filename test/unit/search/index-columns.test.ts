import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { INDEX_FIELDS, indexColumnsOf } from '../../../src/fhir/search/index-columns.js';
import { extractIndexValues } from '../../../src/fhir/search/extract.js';
import type { IndexRows } from '../../../src/fhir/search/types.js';
import { num, SPECS } from '../../../src/storage/search/write-index.js';

loadDefinitions();

// Rows of every kind (token, string, date, number, quantity, reference, uri, composite).
const observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure' }], text: 'BP' },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2026-01-02T03:04:05Z',
  valueQuantity: { value: 120.5, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  component: [{ code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]' } }],
  identifier: [{ system: 'urn:s', value: 'v' }],
};
const riskAssessment = { resourceType: 'RiskAssessment', id: 'r1', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 0.25 }] };
const questionnaire = { resourceType: 'Questionnaire', id: 'q1', status: 'active', url: 'http://example.org/q', name: 'Q', title: 'Intake' };

describe('index column fragments (what an import worker sends for a batch statement)', () => {
  it('hold, per table, exactly the column values the storage writes for the rows, in its column order', () => {
    const kinds = new Set<keyof IndexRows>();
    for (const resource of [observation, riskAssessment, questionnaire]) {
      const rows = extractIndexValues(resource);
      const columns = indexColumnsOf(rows);
      for (const spec of SPECS) {
        const expected = spec.values(rows).map((row) => row.map((v) => v ?? null));
        const fragment = columns[spec.kind];
        if (expected.length === 0) {
          expect(fragment).toBeUndefined();
          continue;
        }
        kinds.add(spec.kind);
        expect(fragment).toHaveLength(spec.columns.length);
        expect(INDEX_FIELDS[spec.kind]).toHaveLength(spec.columns.length);
        const asStored = fragment!.map((column, c) => (spec.columns[c]![1] === 'numeric' ? column.map((v) => num(v as number | null)) : column));
        const transposed = expected[0]!.map((_v, c) => expected.map((row) => row[c]));
        expect(asStored).toEqual(transposed);
      }
    }
    expect([...kinds].sort()).toEqual(['composite', 'date', 'number', 'quantity', 'reference', 'string', 'token', 'uri']);
  });
});
