// The Care Planning and Coordination form's assembly (what is "in force") and its escaping, without a server.
import type { Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { FormAssembler, directoryReferences, type Directory } from '../../../src/coordination/form.js';
import { emptyRecord, addToRecord } from '../../../src/coordination/reader.js';
import { escapeText, formPage, sectionNarrative, formSections } from '../../../src/fhir/coordination-form/html.js';
import { careTeam, ORGS, PEOPLE, ROLES, MEMBER } from './builders.js';

const patient: Patient = { resourceType: 'Patient', id: MEMBER, name: [{ family: 'Rivera', given: ['Carmen'] }] };
const directory: Directory = new Map<string, Resource>([...Object.values(ORGS), ...Object.values(PEOPLE), ...Object.values(ROLES)].map((r) => [`${r.resourceType}/${r.id!}`, r]));
const NOW = Date.parse('2026-12-02T12:00:00Z');
const at = { start: NOW, end: NOW + 1 };

function recordOf(...resources: Resource[]) {
  const record = emptyRecord();
  for (const r of resources) addToRecord(record, r);
  return record;
}

describe('FormAssembler', () => {
  it('shows participants in force only: ended participants, inactive teams and teams entered in error are left out; a team without status counts', async () => {
    const current = careTeam('t-current', [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] },
      { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'], period: { start: '2026-01-01', end: '2026-06-30' } },
    ]);
    const { status: _dropped, ...noStatus } = careTeam('t-no-status', [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh2, scopes: ['care-transitions'] }]);
    const inactive = careTeam('t-inactive', [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh2 }], { status: 'inactive' });
    const wrong = careTeam('t-error', [{ member: PEOPLE.nySw, onBehalfOf: ORGS.hh2 }], { status: 'entered-in-error' });
    const form = await new FormAssembler(directory, at).assemble(patient, recordOf(current, noStatus, inactive, wrong));
    expect(form.participants.map((p) => `${p.source} ${p.member.reference ?? ''}`)).toEqual(['CareTeam/t-current PractitionerRole/ny-rn-alvarez-vns', 'CareTeam/t-no-status Practitioner/ny-sw-okafor']);
    expect(form.leads).toHaveLength(1);
    expect(form.leads[0]!.designatedBy.map((d) => d.reference)).toEqual(['Organization/ny-vns-mltc', 'Organization/ny-cbc-hh']);
    expect(form.leads[0]!.organization?.display).toBe('VNS Health MLTC');
    // The signatories fall back to the lead's designators when no split plan names the ASA parties.
    expect(form.signatories.map((d) => d.reference)).toEqual(['Organization/ny-vns-mltc', 'Organization/ny-cbc-hh']);
    expect(form.sources.map((r) => `${r.resourceType}/${r.id!}`)).toEqual(expect.arrayContaining(['Patient/member-1', 'CareTeam/t-current', 'CareTeam/t-no-status', 'Organization/ny-cmo-hh']));
    expect(form.sources.map((r) => r.id)).not.toContain('t-inactive');
    // On a day in the spring, the Health Home's participant is in force too.
    const spring = Date.parse('2026-03-01T00:00:00Z');
    const before = await new FormAssembler(directory, { start: spring, end: spring + 86_400_000 }).assemble(patient, recordOf(current));
    expect(before.participants).toHaveLength(2);
  });

  it('names what the directory holds and reads a role\'s practitioner and organization in a second round', () => {
    const record = recordOf(careTeam('t', [{ member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp }]));
    expect(directoryReferences(record)).toEqual(['PractitionerRole/ny-rn-alvarez-vns']);
    const round2 = directoryReferences(record, new Map([['PractitionerRole/ny-rn-alvarez-vns', ROLES.nyRnAtMltcp]]));
    expect(round2.sort()).toEqual(['Organization/ny-vns-mltc', 'Practitioner/ny-rn-alvarez', 'PractitionerRole/ny-rn-alvarez-vns']);
  });

  it('a PractitionerRole that names itself as its practitioner is named once, not followed for ever', async () => {
    const loop = { resourceType: 'PractitionerRole', id: 'loop', practitioner: { reference: 'PractitionerRole/loop' }, organization: { reference: 'Organization/ny-cbc-hh' } } as Resource;
    const form = await new FormAssembler(new Map([...directory, ['PractitionerRole/loop', loop]]), at).assemble(patient, recordOf(careTeam('t', [{ member: loop }])));
    expect(form.participants[0]!.member).toEqual({ reference: 'PractitionerRole/loop', display: 'PractitionerRole/loop (Coordinated Behavioral Care Health Home)' });
  });
});

describe('escaping', () => {
  it('escapes the five XML characters and replaces what XML cannot hold', () => {
    expect(escapeText(`<a href="x">&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
    expect(escapeText('a\u0001b\u000Bc\tok\n')).toBe('a\uFFFDb\uFFFDc\tok\n');
    expect(escapeText('lone \uD800 pair \uD83D\uDE00 low \uDC00')).toBe('lone \uFFFD pair \uD83D\uDE00 low \uFFFD');
  });

  it('a hostile member name stays text in the narrative and on the page', async () => {
    const hostile: Patient = { ...patient, name: [{ family: '</td></tr></table><script>x()</script>' }] };
    const form = await new FormAssembler(directory, at).assemble(hostile, emptyRecord());
    const narrative = sectionNarrative(formSections(form)[0]!);
    expect(narrative).not.toContain('<script');
    expect(narrative).toContain('&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;');
    const page = formPage(form, { baseUrl: 'http://concord.test/fhir', generatedAt: '2026-12-02T12:00:00.000Z' });
    expect(page).not.toContain('<script');
    // With nobody to name, the signature lines still name both parties generically.
    expect(page).toContain('<span>MLTCP / MAP plan: signature</span>');
    expect(page).toContain('<span>Health Home: signature</span>');
  });
});
