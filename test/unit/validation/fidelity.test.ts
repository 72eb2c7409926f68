// Where R4 and medplum 4.5.2's validator disagree: valid R4 it refuses (whitespace in base64Binary, narrative
// over 1 MB, ras-2 on a prediction without probability) and invalid R4 it accepts (impossible dates, per-1).
import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { expectIssue } from './assertions.js';

const XHTML = 'http://www.w3.org/1999/xhtml';
const observation = (extra: Record<string, unknown>): Record<string, unknown> => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'weight' },
  ...extra,
});

describe('valid R4 that medplum alone refuses', () => {
  it('accepts base64Binary with line breaks and spaces (R4 and XML Schema allow whitespace)', () => {
    expect(validateResource({ resourceType: 'Binary', contentType: 'text/plain', data: 'SGVs\nbG8g\r\nV29y bGQh' })).toEqual([]);
    expect(validateResource({ resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueBase64Binary: ' QUJD\n\tREVG ' }] })).toEqual([]);
    expect(validateResource({ resourceType: 'Patient', photo: [{ data: 'ab+/\nQUI=' }] })).toEqual([]);
  });

  it('still refuses base64Binary that is not base64 once whitespace is ignored', () => {
    expectIssue({ resourceType: 'Binary', contentType: 'text/plain', data: 'SGVs\nbG8' }, 'structure', 'Binary.data');
    expectIssue({ resourceType: 'Binary', contentType: 'text/plain', data: 'SGVs\nbG8*' }, 'structure', 'Binary.data');
    expectIssue({ resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueBase64Binary: 'QU JD=' }] }, 'structure', 'Patient.extension[0].value[x]');
  });

  it('accepts a narrative div over 1 MB: the 1 MB limit is for string, not xhtml', () => {
    const div = `<div xmlns="${XHTML}"><p>${'row '.repeat(300_000)}</p></div>`;
    expect(div.length).toBeGreaterThan(1024 * 1024);
    expect(validateResource({ resourceType: 'Patient', text: { status: 'generated', div } })).toEqual([]);
    const contained = { resourceType: 'Patient', id: 'p', text: { status: 'generated', div } };
    expect(validateResource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: '#p' }, contained: [contained] })).toEqual([]);
  });

  it('keeps the 1 MB limit on strings', () => {
    expectIssue({ resourceType: 'Patient', name: [{ family: 'x'.repeat(1024 * 1024 + 1) }] }, 'too-long', 'Patient.name[0].family');
  });

  it('reads whitespace as R4 (XML Schema) does: a no-break space is content, not whitespace', () => {
    const codeSystem = (code: string, display?: string) => ({
      resourceType: 'CodeSystem',
      status: 'draft',
      content: 'complete',
      concept: [{ code, ...(display === undefined ? {} : { display }) }],
    });
    // As in HL7's v2-0550 CodeSystem: codes 'CHEST\u00a0' and '\u00a0'.
    expect(validateResource(codeSystem('CHEST\u00a0'))).toEqual([]);
    expect(validateResource(codeSystem('\u00a0', 'External Jugular'))).toEqual([]);
    expect(validateResource(codeSystem('ok', '\u00a0'))).toEqual([]);
    expectIssue(codeSystem('a  b'), 'structure', 'CodeSystem.concept[0].code');
    expectIssue(codeSystem(' a'), 'structure', 'CodeSystem.concept[0].code');
    expectIssue(codeSystem('ok', ' \t '), 'structure', 'CodeSystem.concept[0].display');
  });

  it('ras-2: accepts a prediction without probability, refuses a probabilityDecimal over 100', () => {
    const risk = (prediction: unknown[]) => ({ resourceType: 'RiskAssessment', status: 'final', subject: { reference: 'Patient/p' }, prediction });
    expect(validateResource(risk([{ outcome: { text: 'Unknown risk' } }]))).toEqual([]);
    expect(validateResource(risk([{ qualitativeRisk: { text: 'moderate' } }, { probabilityDecimal: 100 }]))).toEqual([]);
    expect(validateResource(risk([{ probabilityRange: { low: { value: 10, unit: '%', system: 'http://unitsofmeasure.org', code: '%' } } }]))).toEqual([]);
    expectIssue(risk([{ outcome: { text: 'x' } }, { probabilityDecimal: 100.5 }]), 'invariant', 'RiskAssessment.prediction[1]');
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'http://example.org/RiskAssessment/r', resource: risk([{ outcome: { text: 'x' } }]) }] };
    expect(validateResource(bundle)).toEqual([]);
  });
});

describe('invalid R4 that medplum alone accepts', () => {
  it.each([
    ['date', { resourceType: 'Patient', birthDate: '2026-02-29' }, 'Patient.birthDate', 'February 2026 has 28 days'],
    ['date', { resourceType: 'Patient', birthDate: '2026-06-31' }, 'Patient.birthDate', 'June 2026 has 30 days'],
    ['dateTime', observation({ effectiveDateTime: '2026-06-31T10:00:00Z' }), 'Observation.effective.ofType(dateTime)', 'June 2026 has 30 days'],
    ['instant', observation({ issued: '2026-02-29T10:00:00.000Z' }), 'Observation.issued', 'February 2026 has 28 days'],
    ['Period.start', { resourceType: 'Patient', name: [{ family: 'Lee', period: { start: '2026-09-31' } }] }, 'Patient.name[0].period.start', 'September 2026 has 30 days'],
    ['extension dateTime', { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueDateTime: '2025-02-29' }] }, 'Patient.extension[0].value.ofType(dateTime)', 'February 2025 has 28 days'],
  ])('refuses an impossible %s', (_what, resource, expression, reason) => {
    const found = expectIssue(resource, 'structure', expression);
    expect(found.diagnostics).toContain(reason);
  });

  it('refuses month 13 and hour 25 once, without a second issue restating them', () => {
    const issues = validateResource({ resourceType: 'Patient', birthDate: '2026-13-01' });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.diagnostics).toContain('there is no month 13');
    expect(validateResource(observation({ effectiveDateTime: '2026-01-01T25:00:00Z' }))).toHaveLength(1);
  });

  it('accepts 29 February in leap years', () => {
    expect(validateResource({ resourceType: 'Patient', birthDate: '2024-02-29' })).toEqual([]);
    expect(validateResource(observation({ effectiveDateTime: '2000-02-29T23:59:59+14:00' }))).toEqual([]);
  });

  it('per-1: refuses a Period whose end is before its start, wherever a Period appears', () => {
    expectIssue(observation({ effectivePeriod: { start: '2026-06-15', end: '2026-06-14' } }), 'invariant', 'Observation.effective.ofType(Period)');
    expectIssue({ resourceType: 'Patient', name: [{ family: 'Lee', period: { start: '2026-06', end: '2026-05-31' } }] }, 'invariant', 'Patient.name[0].period');
    const timing = { repeat: { boundsPeriod: { start: '2026-06-15T10:00:00Z', end: '2026-06-15T09:59:59Z' } } };
    expectIssue(observation({ effectiveTiming: timing }), 'invariant', 'Observation.effective.ofType(Timing).repeat.bounds.ofType(Period)');
  });

  it('per-1 compares at the precision given: only an end certainly before the start fails', () => {
    const ok = [
      { start: '2026-06', end: '2026-06-15' },
      { start: '2026-06-15', end: '2026-06' },
      { start: '2026-06-15', end: '2026-06-15' },
      { start: '2026-06-15T10:00:00Z', end: '2026-06-15' },
      { start: '2026-06-15T10:00:00Z', end: '2026-06-15T10:00:00Z' },
      // Different zones, same instant order: 10:00+02:00 is 08:00Z, before 09:00Z.
      { start: '2026-06-15T10:00:00+02:00', end: '2026-06-15T09:00:00Z' },
      // A date next to a zoned time could be in any zone; 2026-06-16 starts at 2026-06-15T10:00Z in UTC+14.
      { start: '2026-06-16', end: '2026-06-15T22:00:00Z' },
      { start: '2026-06-15' },
      { end: '2020' },
    ];
    for (const period of ok) expect(validateResource(observation({ effectivePeriod: period })), JSON.stringify(period)).toEqual([]);
  });
});
