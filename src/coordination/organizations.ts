// Organization roles (Organization.type codings from the organization-role code system) and the
// organization an actor acts for.
import type { CareTeamParticipant, Organization, PractitionerRole, Reference } from '@medplum/fhirtypes';
import { CodeSystems } from './codes.js';
import type { OrganizationRole } from './codes.js';
import { parseRef } from './refs.js';
import type { RuleContext } from './rules/types.js';

type Reader = Pick<RuleContext, 'read'>;

/** Roles of `Organization/<id>`; empty when the organization is unknown or has no role coding. */
export async function organizationRoles(ctx: Reader, orgKey: string | undefined): Promise<Set<OrganizationRole>> {
  const ref = parseRef(orgKey);
  const roles = new Set<OrganizationRole>();
  if (ref?.type !== 'Organization') return roles;
  const org = (await ctx.read('Organization', ref.id)) as Organization | undefined;
  for (const type of org?.type ?? []) {
    for (const c of type.coding ?? []) {
      if (c.system === CodeSystems.organizationRole && c.code) roles.add(c.code as OrganizationRole);
    }
  }
  return roles;
}

export async function hasRole(ctx: Reader, orgKey: string | undefined, ...wanted: OrganizationRole[]): Promise<boolean> {
  const roles = await organizationRoles(ctx, orgKey);
  return wanted.some((r) => roles.has(r));
}

/**
 * The organization an actor acts for, as `Organization/<id>`: an Organization is itself, a
 * PractitionerRole acts for its `organization`. A bare Practitioner (or Patient, Device...) has no
 * organization in R4, so it yields undefined and rules needing an organization say so.
 */
export async function actorOrganization(ctx: Reader, actor: Reference | undefined): Promise<string | undefined> {
  const ref = parseRef(actor);
  if (!ref) return undefined;
  if (ref.type === 'Organization') return `Organization/${ref.id}`;
  if (ref.type === 'PractitionerRole') {
    const role = (await ctx.read('PractitionerRole', ref.id)) as PractitionerRole | undefined;
    const org = parseRef(role?.organization);
    return org?.type === 'Organization' ? `Organization/${org.id}` : undefined;
  }
  return undefined;
}

export function describeRoles(roles: ReadonlySet<string>): string {
  return roles.size === 0 ? 'no organization-role' : [...roles].join('/');
}

/**
 * "The participant's organization" as the contract defines it: a Practitioner member acts for its
 * `onBehalfOf`, a PractitionerRole member for its `PractitionerRole.organization`, an Organization
 * member for itself. Any other member (or a reference that is not a relative literal) has none. Only a
 * Practitioner member may carry onBehalfOf (R4 ctm-1), so onBehalfOf next to another member is ignored.
 */
export async function participantOrganization(ctx: Reader, participant: CareTeamParticipant): Promise<string | undefined> {
  const member = parseRef(participant.member);
  if (member?.type === 'Practitioner') {
    const org = parseRef(participant.onBehalfOf);
    return org?.type === 'Organization' ? `Organization/${org.id}` : undefined;
  }
  return actorOrganization(ctx, participant.member);
}

/**
 * What decides a participant's organization without reading anything, for the fact projection: the
 * organization itself for a Practitioner member (onBehalfOf) or an Organization member, and for a
 * PractitionerRole member the role (`PractitionerRole/<id>`), whose organization is read at check time.
 * Two holdings with the same value have the same organization whenever they are judged (the same role
 * reads the same organization), which is all the selection's otherOrgThan relies on; undefined when
 * nothing is stated.
 */
export function statedParticipantOrganization(participant: CareTeamParticipant): string | undefined {
  const member = parseRef(participant.member);
  if (member?.type === 'PractitionerRole') return `PractitionerRole/${member.id}`;
  const org = member?.type === 'Practitioner' ? parseRef(participant.onBehalfOf) : member?.type === 'Organization' ? member : undefined;
  return org?.type === 'Organization' ? `Organization/${org.id}` : undefined;
}
