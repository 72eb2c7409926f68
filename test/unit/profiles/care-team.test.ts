import type { CareTeam } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { careTeam } from './fixtures.js';
import { summary, validate } from './helpers.js';

type Participant = NonNullable<CareTeam['participant']>[number];

function lead(team: CareTeam): Participant {
  const p = team.participant?.[0];
  if (!p) throw new Error('fixture has no lead');
  return p;
}

function designation(team: CareTeam): NonNullable<Participant['extension']>[number] {
  const ext = lead(team).extension?.[1];
  if (!ext) throw new Error('fixture has no lead-designation');
  return ext;
}

describe('coordination-care-team', () => {
  it('accepts a valid team', () => {
    expect(validate(careTeam())).toEqual([]);
  });

  it('requires subject, as a Patient', () => {
    const team = careTeam();
    delete team.subject;
    expect(summary(validate(team))).toEqual(['required CareTeam.subject']);
    team.subject = { reference: 'Group/g1' };
    expect(summary(validate(team))).toEqual(['structure CareTeam.subject']);
  });

  it('requires status (a team without one would count as active for every rule)', () => {
    const team = careTeam();
    delete team.status;
    expect(summary(validate(team))).toEqual(['required CareTeam.status']);
  });

  it('requires onBehalfOf beside a Practitioner member only (cct-3): a PractitionerRole member acts for its organization', () => {
    const team = careTeam();
    delete team.participant?.[1]?.onBehalfOf;
    const issues = validate(team);
    expect(summary(issues)).toEqual(['invariant CareTeam.participant[1]']);
    expect(issues[0]?.diagnostics).toContain('cct-3');
    const p = team.participant?.[1];
    if (p) p.member = { reference: 'PractitionerRole/hh-cm-at-hh' };
    expect(validate(team)).toEqual([]);
  });

  it.each(['member', 'period'] as const)('requires participant.%s (nested)', (key) => {
    const team = careTeam();
    delete team.participant?.[1]?.[key];
    expect(summary(validate(team))).toEqual([`required CareTeam.participant[1].${key}`]);
  });

  it('requires participant.period.start (two levels down)', () => {
    const team = careTeam();
    const p = team.participant?.[1];
    if (p) p.period = { end: '2026-12-31' };
    expect(summary(validate(team))).toEqual(['required CareTeam.participant[1].period.start']);
  });

  it('requires onBehalfOf to be an Organization', () => {
    const team = careTeam();
    const p = team.participant?.[1];
    if (p) p.onBehalfOf = { reference: 'https://example.org/fhir/Practitioner/x' };
    expect(summary(validate(team))).toEqual(['structure CareTeam.participant[1].onBehalfOf']);
  });

  it('types coordination-scope as a Coding from the coordination-scope code system', () => {
    const team = careTeam();
    const ext = team.participant?.[1]?.extension?.[0];
    if (!ext) throw new Error('fixture');
    ext.valueCoding = { system: 'https://concord-fhir.org/fhir/CodeSystem/coordination-scope', code: 'everything' };
    expect(summary(validate(team))).toEqual(['code-invalid CareTeam.participant[1].extension[0].valueCoding']);
    delete ext.valueCoding;
    ext.valueString = 'ltc';
    expect(summary(validate(team))).toEqual(['structure CareTeam.participant[1].extension[0].valueString']);
  });

  it('cct-1: a lead care manager must carry lead-designation', () => {
    const team = careTeam();
    lead(team).extension = lead(team).extension?.slice(0, 1);
    expect(summary(validate(team))).toEqual(['invariant CareTeam.participant[0]']);
    expect(validate(team)[0]?.diagnostics).toContain('cct-1');
  });

  it('cct-2: the lead member is a Practitioner or PractitionerRole', () => {
    const team = careTeam();
    lead(team).member = { reference: 'RelatedPerson/daughter' };
    expect(summary(validate(team))).toEqual(['invariant CareTeam.participant[0]']);
    expect(validate(team)[0]?.diagnostics).toContain('cct-2');
    lead(team).member = { reference: 'PractitionerRole/cm-1' };
    expect(validate(team)).toEqual([]);
  });

  it.each([
    ['designatedBy', 'required'],
    ['basis', 'required'],
    ['reason', 'required'],
    ['date', 'required'],
  ])('lead-designation requires %s', (part, code) => {
    const team = careTeam();
    const ext = designation(team);
    ext.extension = ext.extension?.filter((e) => e.url !== part);
    expect(summary(validate(team))).toEqual([`${code} CareTeam.participant[0].extension[1].extension`]);
    expect(validate(team)[0]?.diagnostics).toContain(`'${part}'`);
  });

  it('lead-designation allows one reason, and types each part', () => {
    const team = careTeam();
    const ext = designation(team);
    ext.extension = [...(ext.extension ?? []), { url: 'reason', valueString: 'again' }];
    expect(summary(validate(team))).toEqual(['structure CareTeam.participant[0].extension[1].extension']);

    const typed = careTeam();
    const parts = designation(typed).extension ?? [];
    parts[0] = { url: 'designatedBy', valueReference: { reference: 'Practitioner/x' } };
    parts[2] = { url: 'basis', valueReference: { reference: 'Observation/x' } };
    parts[4] = { url: 'date', valueString: '2026-01-15' };
    expect(summary(validate(typed))).toEqual([
      'structure CareTeam.participant[0].extension[1].extension[0].valueReference',
      'structure CareTeam.participant[0].extension[1].extension[2].valueReference',
      'structure CareTeam.participant[0].extension[1].extension[4].valueString',
    ]);
  });

  it('lead-designation is complex: no value of its own', () => {
    const team = careTeam();
    designation(team).valueString = 'lead';
    expect(summary(validate(team))).toEqual(['structure CareTeam.participant[0].extension[1].value']);
  });

  it('allows at most one lead-designation per participant', () => {
    const team = careTeam();
    lead(team).extension?.push(designation(careTeam()));
    expect(summary(validate(team))).toEqual(['structure CareTeam.participant[0].extension']);
  });
});
