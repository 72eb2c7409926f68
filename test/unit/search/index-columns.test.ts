import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { INDEX_FIELDS, indexColumnsOf } from '../../../src/fhir/search/index-columns.js';
import { extractIndexValues } from '../../../src/fhir/search/extract.js';
import type { IndexRows } from '../../../src/fhir/search/types.js';
import { indexInsertOf, num, ROW_BACKED, SPECS } from '../../../src/storage/search/write-index.js';

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

// SQL columns whose names are not the snake_case of their row field.
const RENAMED: Record<string, string> = { 'token.text': 'text_norm', 'string.normalized': 'value_norm', 'string.exact': 'value_exact' };
const snake = (field: string): string => field.replace(/[A-Z0-9]/g, (c) => `_${c.toLowerCase()}`).replace(/_(\d)/g, '$1');

describe('index columns: one field order (INDEX_FIELDS) for the single write and the import fragments', () => {
  it('each table\'s SQL columns name the fields of INDEX_FIELDS, in that order', () => {
    for (const spec of SPECS) {
      const fields = INDEX_FIELDS[spec.kind] as readonly string[];
      expect(spec.columns.map(([name]) => name)).toEqual(fields.map((f) => RENAMED[`${spec.kind}.${f}`] ?? snake(f)));
    }
  });

  it('the single write\'s columns are the import fragments (numbers as numeric text, _id and _lastUpdated left out)', () => {
    const kinds = new Set<keyof IndexRows>();
    for (const resource of [observation, riskAssessment, questionnaire]) {
      const rows = extractIndexValues(resource);
      const fragments = indexColumnsOf(rows);
      const insert = indexInsertOf(resource)!;
      for (const spec of SPECS) {
        const fragment = fragments[spec.kind];
        const table = insert.tables.find((t) => t.spec === spec);
        if (!fragment) {
          expect(table).toBeUndefined();
          continue;
        }
        kinds.add(spec.kind);
        const keep = fragment[0]!.map((code) => !ROW_BACKED.has(code as string));
        const expected = fragment.map((column, c) => column.filter((_v, r) => keep[r]).map((v) => (spec.columns[c]![1] === 'numeric' ? num(v as number | null) : v)));
        if (expected[0]!.length === 0) expect(table).toBeUndefined();
        else expect(table!.columns).toEqual(expected);
      }
    }
    expect([...kinds].sort()).toEqual(['composite', 'date', 'number', 'quantity', 'reference', 'string', 'token', 'uri']);
  });

  it('a value reaches the column of its field (spot checks written out)', () => {
    const insert = indexInsertOf(observation)!;
    const columnOf = (table: string, column: string): unknown[] => {
      const t = insert.tables.find((x) => x.spec.table === table)!;
      return t.columns[t.spec.columns.findIndex(([name]) => name === column)]!;
    };
    expect(columnOf('search_quantity', 'unit_code')).toContain('mm[Hg]');
    expect(columnOf('search_quantity', 'low')).toContain('120.5');
    expect(columnOf('search_reference', 'target_id')).toContain('p1');
    expect(columnOf('search_token', 'text_norm')).toContain('bp');
  });
});
