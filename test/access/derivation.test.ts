// What the access projections derive from one resource (src/access/compartment.ts, relationships.ts):
// the contract's relationships and nothing more.
import type { Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { compartmentMembers } from '../../src/access/compartment.js';
import { accessRows } from '../../src/access/relationships.js';
import { episode, observation, optOut, sharingConsent } from './support.js';

loadDefinitions();
const rows = (r: unknown) => accessRows(r as Resource).map((x) => `${x.memberId} ${x.actor} ${x.deny ? 'deny' : 'grant'}`);

describe('compartment members', () => {
  it('follows CompartmentDefinition/patient', () => {
    expect(compartmentMembers({ resourceType: 'Patient', id: 'p', link: [{ other: { reference: 'Patient/q' }, type: 'seealso' }] })).toEqual(['p', 'q']);
    expect(compartmentMembers({ ...observation('o', 'p', { system: 's', code: 'c' }), performer: [{ reference: 'Patient/q' }, { reference: 'Practitioner/x' }], focus: [{ reference: 'Patient/z' }] })).toEqual(['p', 'q']);
    expect(compartmentMembers({ resourceType: 'CareTeam', subject: { reference: 'Patient/p' }, participant: [{ member: { reference: 'Organization/o' } }] })).toEqual(['p']);
    // Another server's Patient is no local member; directory and conformance resources belong to nobody.
    expect(compartmentMembers({ ...observation('o', 'p', { system: 's', code: 'c' }), subject: { reference: 'https://elsewhere.example/fhir/Patient/p' } })).toEqual([]);
    expect(compartmentMembers({ resourceType: 'Organization', id: 'o' })).toEqual([]);
    expect(compartmentMembers({ resourceType: 'PractitionerRole', id: 'r', organization: { reference: 'Organization/o' } })).toEqual([]);
  });
});

describe('relationships', () => {
  it('an enrolment: active, with a program coding, managed by an organization', () => {
    expect(rows(episode('e', 'p', 'o'))).toEqual(['p Organization/o grant']);
    expect(rows({ ...episode('e', 'p', 'o'), status: 'finished' })).toEqual([]);
    expect(rows({ ...episode('e', 'p', 'o'), type: [] })).toEqual([]);
  });

  it('care team participants by their organization, while the team is active', () => {
    const team = {
      resourceType: 'CareTeam',
      status: 'active',
      subject: { reference: 'Patient/p' },
      participant: [
        { member: { reference: 'Practitioner/x' }, onBehalfOf: { reference: 'Organization/o1' } },
        { member: { reference: 'PractitionerRole/r' } },
        { member: { reference: 'Organization/o2' } },
        { member: { reference: 'Practitioner/y' } },
      ],
    };
    expect(rows(team)).toEqual(['p Organization/o1 grant', 'p PractitionerRole/r grant', 'p Organization/o2 grant']);
    expect(rows({ ...team, status: 'inactive' })).toEqual([]);
    expect(rows({ ...team, status: 'entered-in-error' })).toEqual([]);
  });

  it('service request requester and performers unless entered in error', () => {
    const sr = { resourceType: 'ServiceRequest', status: 'completed', intent: 'order', subject: { reference: 'Patient/p' }, requester: { reference: 'PractitionerRole/r' }, performer: [{ reference: 'Organization/o' }, { reference: 'Practitioner/x' }] };
    expect(rows(sr)).toEqual(['p PractitionerRole/r grant', 'p Organization/o grant']);
    expect(rows({ ...sr, status: 'entered-in-error' })).toEqual([]);
  });

  it('data-sharing consents grant, opt-outs deny, other consents do neither', () => {
    expect(rows(sharingConsent('c', 'p', 'o'))).toEqual(['p Organization/o grant']);
    expect(rows({ ...sharingConsent('c', 'p', 'o'), status: 'inactive' })).toEqual([]);
    expect(rows({ ...sharingConsent('c', 'p', 'o'), provision: { type: 'deny', actor: sharingConsent('c', 'p', 'o').provision.actor } })).toEqual([]);
    expect(rows(optOut('c', 'p', 'o'))).toEqual(['p Organization/o deny']);
    expect(rows({ ...optOut('c', 'p', 'o'), status: 'inactive' })).toEqual([]);
  });

  it('a Patient\'s managing organization (extension of the contract)', () => {
    expect(rows({ resourceType: 'Patient', id: 'p', managingOrganization: { reference: 'Organization/o' } })).toEqual(['p Organization/o grant']);
    expect(rows({ resourceType: 'Patient', id: 'p' })).toEqual([]);
    expect(rows({ resourceType: 'Observation', subject: { reference: 'Patient/p' }, performer: [{ reference: 'Organization/o' }] })).toEqual([]);
  });
});
