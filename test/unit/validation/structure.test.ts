// Structural rules: those medplum's validator enforces (kept as regression tests of the integration) and those
// it lets through, which this module adds (each verified to pass medplum 4.5.2 unreported).
import { describe, expect, it } from 'vitest';
import { validateResource } from '../../../src/fhir/validation/index.js';
import { expectIssue } from './assertions.js';
import { carePlan, copy, patient } from './fixtures.js';

const withPatient = (extra: Record<string, unknown>): Record<string, unknown> => ({ ...copy(patient), ...extra });

describe('validateResource: rules enforced through the medplum validator', () => {
  it('rejects unknown elements, top-level and nested, instead of dropping them', () => {
    expectIssue(withPatient({ foo: 1 }), 'structure', 'Patient.foo');
    expectIssue(withPatient({ name: [{ family: 'Lee', nickname: 'Annie' }] }), 'structure', 'Patient.name[0].nickname');
    expectIssue(withPatient({ deceasedFoo: true }), 'structure', 'Patient.deceasedFoo');
  });

  it('rejects wrong JSON types for primitives', () => {
    expectIssue(withPatient({ active: 'yes' }), 'structure', 'Patient.active');
    expectIssue(withPatient({ multipleBirthInteger: '2' }), 'structure', 'Patient.multipleBirth[x]');
    expectIssue(withPatient({ multipleBirthInteger: 2.5 }), 'structure', 'Patient.multipleBirth[x]');
  });

  it('rejects cardinality violations', () => {
    const noStatus = copy(carePlan) as unknown as Record<string, unknown>;
    delete noStatus['status'];
    expectIssue(noStatus, 'structure', 'CarePlan.status');
    expectIssue(withPatient({ gender: ['female'] }), 'structure', 'Patient.gender');
    expectIssue(withPatient({ name: { family: 'Lee' } }), 'structure', 'Patient.name');
  });

  it.each([
    ['date', { birthDate: '1950-13-01' }, 'Patient.birthDate'],
    ['dateTime', { deceasedDateTime: '2020-01-01T10:00' }, 'Patient.deceased[x]'],
    ['instant', { meta: { lastUpdated: '2020-01-01' } }, 'Patient.meta.lastUpdated'],
    ['uri', { implicitRules: 'http://example.org/a rule' }, 'Patient.implicitRules'],
    ['code', { gender: ' female' }, 'Patient.gender'],
    ['string', { name: [{ family: '   ' }] }, 'Patient.name[0].family'],
  ])('rejects a malformed %s', (_type, extra, expression) => {
    expectIssue(withPatient(extra), 'structure', expression);
  });

  it('rejects null values', () => {
    expectIssue(withPatient({ gender: null }), 'structure', 'Patient.gender');
  });

  it('reports invariants with their expression', () => {
    const cp = copy(carePlan);
    cp.activity = [{ reference: { reference: 'ServiceRequest/sr-1' }, detail: { status: 'completed' } }];
    const found = expectIssue(cp, 'invariant', 'CarePlan.activity[0]');
    expect(found.diagnostics).toContain('cpl-3');
    expect(found.diagnostics).toContain('detail.empty() or reference.empty()');
    expectIssue(withPatient({ extension: [{ url: 'http://example.org/x' }] }), 'invariant', 'Patient.extension[0]');
  });

  it('reports dom-2 for contained resources that contain resources', () => {
    const nested = withPatient({
      contained: [{ resourceType: 'Organization', id: 'org', name: 'X', contained: [{ resourceType: 'Organization', id: 'o2', name: 'Y' }] }],
    });
    expect(expectIssue(nested, 'invariant', 'Patient').diagnostics).toContain('dom-2');
  });

  it('returns errors only, never medplum warnings', () => {
    const issues = validateResource(withPatient({ multipleBirthBoolean: true, multipleBirthInteger: 2, foo: 1 }));
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.severity === 'error')).toBe(true);
  });
});

describe('validateResource: rules medplum lets through', () => {
  it('rejects empty strings, which medplum reads as absent', () => {
    expectIssue(withPatient({ gender: '' }), 'structure', 'Patient.gender');
    expectIssue(withPatient({ name: [{ family: 'Lee', given: ['Ann', ''] }] }), 'structure', 'Patient.name[0].given[1]');
    expectIssue(withPatient({ id: '' }), 'structure', 'Patient.id');
  });

  it('does not also report an empty code as an unknown code', () => {
    const issues = validateResource(withPatient({ gender: '' }));
    expect(issues.map((i) => i.code)).toEqual(['structure']);
  });

  it('rejects empty arrays', () => {
    expectIssue(withPatient({ name: [] }), 'structure', 'Patient.name');
    expectIssue(withPatient({ name: [{ family: 'Lee', given: [] }] }), 'structure', 'Patient.name[0].given');
  });

  it('rejects empty objects and id-only elements (ele-1)', () => {
    expectIssue(withPatient({ maritalStatus: {} }), 'invariant', 'Patient.maritalStatus');
    expectIssue(withPatient({ maritalStatus: { id: 'm1' } }), 'invariant', 'Patient.maritalStatus');
    const cp = copy(carePlan) as unknown as Record<string, unknown>;
    cp['activity'] = [{ detail: {} }];
    expectIssue(cp, 'invariant', 'CarePlan.activity[0].detail');
    expectIssue(withPatient({ _birthDate: {} }), 'invariant', 'Patient._birthDate');
  });

  it('reports an empty object inside an array once', () => {
    const issues = validateResource(withPatient({ name: [{}] }));
    expect(issues.filter((i) => i.expression?.includes('Patient.name[0]'))).toHaveLength(1);
  });

  it('rejects a malformed Resource.id, including in contained resources', () => {
    expectIssue(withPatient({ id: 'a b' }), 'structure', 'Patient.id');
    expectIssue(withPatient({ id: 'x'.repeat(65) }), 'structure', 'Patient.id');
    const p = withPatient({ contained: [{ resourceType: 'Organization', id: 'org_1', name: 'X' }], managingOrganization: { reference: '#org_1' } });
    expectIssue(p, 'structure', 'Patient.contained[0].id');
  });

  it('rejects primitives and arrays where a complex element is expected', () => {
    expectIssue(withPatient({ name: [5] }), 'structure', 'Patient.name[0]');
    expectIssue(withPatient({ meta: 5 }), 'structure', 'Patient.meta');
    expectIssue(withPatient({ maritalStatus: [['x']] }), 'structure', 'Patient.maritalStatus[0]');
  });

  it('rejects keys that are Object.prototype member names', () => {
    expectIssue(withPatient({ constructor: 1 }), 'structure', 'Patient.constructor');
    expectIssue(withPatient({ name: [{ family: 'Lee', toString: 'x' }] }), 'structure', 'Patient.name[0].toString');
    expectIssue(JSON.parse('{"resourceType":"Patient","__proto__":{"x":1}}'), 'structure', 'Patient.__proto__');
  });

  it('rejects malformed primitive extensions without medplum crash text', () => {
    const issues = validateResource(withPatient({ active: true, _active: 5 }));
    expect(issues).toEqual([expect.objectContaining({ code: 'structure', expression: ['Patient._active'] })]);
    expectIssue(withPatient({ name: [{ given: ['a'], _given: ['x'] }] }), 'structure', 'Patient.name[0]._given');
  });

  it('rejects two types for one choice element, which medplum only warns about', () => {
    expectIssue(withPatient({ multipleBirthBoolean: true, multipleBirthInteger: 2 }), 'structure', 'Patient.multipleBirth[x]');
  });

  it('rejects references to resource types the element does not allow', () => {
    const found = expectIssue(withPatient({ generalPractitioner: [{ reference: 'Observation/1' }] }), 'structure', 'Patient.generalPractitioner[0]');
    expect(found.diagnostics).toContain('Organization, Practitioner, PractitionerRole');
    expectIssue(withPatient({ generalPractitioner: [{ reference: 'https://other.example/fhir/Group/1/_history/2' }] }), 'structure', 'Patient.generalPractitioner[0]');
    expectIssue(withPatient({ generalPractitioner: [{ reference: 'Group?identifier=x' }] }), 'structure', 'Patient.generalPractitioner[0]');
  });

  it('accepts references it cannot judge', () => {
    for (const reference of ['Practitioner/1', 'urn:uuid:2b1f6c1e-8f0e-4a55-9b48-53e1c8e7e0a1', 'https://x.example/fhir/Practitioner/9']) {
      expect(validateResource(withPatient({ generalPractitioner: [{ reference }] }))).toEqual([]);
    }
    const cp = copy(carePlan);
    cp.activity = [{ outcomeReference: [{ reference: 'Observation/1' }] }]; // Reference(Any)
    expect(validateResource(cp)).toEqual([]);
  });

  it('rejects contained resources of unknown type with an expression', () => {
    const issues = validateResource(withPatient({ contained: [{ resourceType: 'Foo', id: 'org' }] }));
    expect(issues.find((i) => i.code === 'invalid')).toMatchObject({ severity: 'error', expression: ['Patient.contained[0]'] });
    expect(issues.every((i) => i.expression)).toBe(true);
  });

  it('rejects unreferenced or id-less contained resources (dom-3)', () => {
    const unreferenced = withPatient({ managingOrganization: { reference: 'Organization/o1' } });
    expect(expectIssue(unreferenced, 'invariant', 'Patient.contained[0]').diagnostics).toContain('dom-3');
    const noId = withPatient({ contained: [{ resourceType: 'Organization', name: 'X' }] });
    expectIssue(noId, 'invariant', 'Patient.contained[0]');
  });

  it('accepts a contained resource that refers back to its container', () => {
    const p = withPatient({
      managingOrganization: undefined,
      contained: [{ resourceType: 'RelatedPerson', id: 'rp', patient: { reference: '#' } }],
    });
    expect(validateResource(JSON.parse(JSON.stringify(p)))).toEqual([]);
  });

  it('rejects narrative that is not an XHTML div', () => {
    expectIssue(withPatient({ text: { status: 'generated', div: 'plain text' } }), 'invariant', 'Patient.text.div');
    expectIssue(withPatient({ text: { status: 'generated', div: '<div>no namespace</div>' } }), 'invariant', 'Patient.text.div');
  });
});

describe('CareTeam ctm-1 (onBehalfOf only beside a Practitioner)', () => {
  const team = (memberRef: string) => ({
    resourceType: 'CareTeam',
    subject: { reference: 'Patient/1' },
    participant: [{ member: { reference: memberRef }, onBehalfOf: { reference: 'Organization/1' } }],
  });

  it('refuses onBehalfOf beside a PractitionerRole member (ctm-1 no longer waived: the role acts for its organization)', () => {
    const issues = validateResource(team('PractitionerRole/1'));
    expect(issues.map((i) => i.code)).toContain('invariant');
    expect(issues[0]!.diagnostics).toContain('ctm-1');
  });

  it('accepts onBehalfOf beside a Practitioner member', () => {
    expect(validateResource(team('Practitioner/1'))).toEqual([]);
  });

  it('still refuses onBehalfOf beside a Patient member (ctm-1)', () => {
    const issues = validateResource(team('Patient/2'));
    expect(issues.map((i) => i.code)).toContain('invariant');
    expect(issues[0]!.diagnostics).toContain('ctm-1');
  });
});
