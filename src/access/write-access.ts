// "A client writes only as its organization" (the contract's Access section), plus what keeps writes
// from reaching records the client may not see (docs/adr/0008). Pure decisions over a reader; the
// interaction layer calls this inside the write's transaction, after the current version was found
// visible (an invisible one answers 404 before this runs).
import type { Resource } from '@medplum/fhirtypes';
import { Extensions } from '../coordination/codes.js';
import { actorOrganization, participantOrganization } from '../coordination/organizations.js';
import { refKey } from '../coordination/refs.js';
import { compartmentMembers } from './compartment.js';
import type { Viewer } from './viewer.js';

export interface WriteAccessReader {
  /** Unfiltered read inside the write's transaction (a participant's PractitionerRole, ...). */
  read(resourceType: string, id: string): Promise<Resource | undefined>;
  /** Whether the viewer sees every one of these members now. */
  canSee(members: readonly string[]): Promise<boolean>;
  /** The `organization` references of the current PractitionerRoles naming this Practitioner. */
  practitionerRoleOrganizations(practitionerId: string): Promise<(string | undefined)[]>;
}

export interface WriteAttempt {
  resourceType: string;
  id: string;
  /** The resource as it would be stored; undefined for a delete. */
  resource?: Resource;
  /** The current version (not deleted), undefined for a create. */
  previous?: Resource;
}

/** Why the viewer may not make this write (an OperationOutcome `forbidden` message), or undefined. */
export async function writeRefusal(viewer: Viewer, write: WriteAttempt, reader: WriteAccessReader): Promise<string | undefined> {
  const own = viewer.organization;
  const { resource, previous } = write;
  if (resource) {
    const refusal = await memberRefusal(own, resource, previous, reader);
    if (refusal) return refusal;
  }
  for (const state of [resource, resource ? undefined : previous]) {
    if (!state) continue;
    const refusal = await actsForRefusal(own, state, reader);
    if (refusal) return refusal;
  }
  // Directory records: the organization's edit of them must keep them its own.
  if (previous && resource) {
    const before = await directoryRefusal(own, previous, reader, write.id);
    if (before) return before;
  }
  return undefined;
}

/** Every member the written resource belongs to must already be visible (no writing into others' records). */
async function memberRefusal(own: string, resource: Resource, previous: Resource | undefined, reader: WriteAccessReader): Promise<string | undefined> {
  let members = compartmentMembers(resource);
  if (resource.resourceType === 'Patient' && !previous) {
    // Registering a new member: the registering organization names itself as the manager, which is
    // the relationship that lets it see the member from now on.
    if (refKey((resource).managingOrganization) !== own) {
      return `A Patient registered by ${own}'s client must name ${own} as managingOrganization`;
    }
    members = members.filter((m) => m !== resource.id);
  }
  if (members.length > 0 && !(await reader.canSee(members))) {
    return `${own} has no relationship with ${members.map((m) => `Patient/${m}`).join(', ')}; it cannot write their records`;
  }
  return undefined;
}

/** The organization-specific part: participants, requesters, designators and directory records. */
async function actsForRefusal(own: string, state: Resource, reader: WriteAccessReader): Promise<string | undefined> {
  switch (state.resourceType) {
    case 'CareTeam': {
      const team = state;
      const orgs = new Set<string | undefined>();
      for (const p of team.participant ?? []) {
        orgs.add(await participantOrganization(reader, p));
        for (const ext of p.extension ?? []) {
          if (ext.url !== Extensions.leadDesignation) continue;
          for (const sub of ext.extension ?? []) if (sub.url === 'designatedBy') orgs.add(refKey(sub.valueReference));
        }
      }
      return orgs.has(own) ? undefined : `${own} is neither the organization of a participant nor a designator of the lead in CareTeam/${state.id ?? ''}; it writes CareTeams only as its organization`;
    }
    case 'ServiceRequest': {
      const requester = await actorOrganization(reader, (state).requester);
      return requester === own ? undefined : `The requester of ServiceRequest/${state.id ?? ''} does not act for ${own}; it writes ServiceRequests only as its organization`;
    }
    default:
      return directoryRefusal(own, state, reader, state.id ?? '');
  }
}

async function directoryRefusal(own: string, state: Resource, reader: WriteAccessReader, id: string): Promise<string | undefined> {
  switch (state.resourceType) {
    case 'Organization':
      return `Organization/${id}` === own ? undefined : `${own} edits only its own Organization record`;
    case 'PractitionerRole':
      return refKey((state).organization) === own ? undefined : `PractitionerRole/${id} is not a role of ${own}`;
    case 'Location':
      return refKey((state).managingOrganization) === own ? undefined : `Location/${id} is not managed by ${own}`;
    case 'Practitioner': {
      // A Practitioner has no organization in R4: it is another organization's while one of its roles is.
      const orgs = await reader.practitionerRoleOrganizations(id);
      return orgs.every((o) => o === own) ? undefined : `Practitioner/${id} has roles with other organizations than ${own}`;
    }
    default:
      return undefined;
  }
}
