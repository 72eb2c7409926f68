// lead-documented: a lead carries lead-designation with designatedBy, basis, reason, date; where the
// member's active teams include both a plan (mltcp-plan/map-plan) and a health-home, both are among
// designatedBy.
// Source: NY DOH guidance "Providing Care Coordination and Management to Medicaid Members Enrolled in MLTC
// Plans and Health Homes", paragraph on the lead care manager: "It will be the joint responsibility of both
// parties to determine which care manager will serve as the lead care manager for each consumer. This
// decision will be based on the primary needs of the client and must be documented on the Care Planning and
// Coordination form."
import type { Extension } from '@medplum/fhirtypes';
import { Extensions } from '../codes.js';
import type { ParticipantView } from '../care-team.js';
import { participants } from '../care-team.js';
import { firstExtension, subExtensions } from '../extensions.js';
import { organizationRoles } from '../organizations.js';
import { isEmpty, overlaps, periodRange } from '../period.js';
import { parseRef, refKey, resourceKey } from '../refs.js';
import { isActiveCareTeam, isInError } from '../status.js';
import type { Rule, RuleContext, Site, Violation } from './types.js';
import { factsOf, overlapping } from './types.js';

const BASIS_TYPES = new Set(['DocumentReference', 'QuestionnaireResponse']);

function missingParts(ext: Extension | undefined): string[] {
  if (!ext) return ['designatedBy', 'basis', 'reason', 'date'];
  const missing: string[] = [];
  const designatedBy = subExtensions(ext, 'designatedBy');
  if (designatedBy.length === 0 || designatedBy.some((e) => parseRef(e.valueReference)?.type !== 'Organization')) {
    missing.push('designatedBy');
  }
  const basis = subExtensions(ext, 'basis');
  if (basis.length !== 1 || !BASIS_TYPES.has(parseRef(basis[0]?.valueReference)?.type ?? '')) missing.push('basis');
  const reason = subExtensions(ext, 'reason');
  if (reason.length !== 1 || !reason[0]?.valueString?.trim()) missing.push('reason');
  const date = subExtensions(ext, 'date');
  if (date.length !== 1 || !date[0]?.valueDate) missing.push('date');
  return missing;
}

interface Presence {
  readonly org: string;
  readonly where: string;
  readonly site: Site | undefined;
}

/** Plans and Health Homes on the member's active teams while the lead serves. */
async function partiesDuringLead(ctx: RuleContext, lead: ParticipantView, all: readonly ParticipantView[]) {
  const plans: Presence[] = [];
  const homes: Presence[] = [];
  const add = async (org: string, where: string, site: Site | undefined): Promise<void> => {
    const roles = await organizationRoles(ctx, org);
    if (roles.has('mltcp-plan') || roles.has('map-plan')) plans.push({ org, where, site });
    if (roles.has('health-home')) homes.push({ org, where, site });
  };
  for (const p of all) {
    if (!p.activeTeam || !p.org || !overlaps(p.range, lead.range)) continue;
    const site: Site = {
      ref: p.teamRef,
      expression: p.orgPath,
      diagnostics: `the lead on ${lead.label} was not designated by ${p.org}`,
    };
    await add(p.org, p.label, site);
  }
  for (const team of ctx.record.careTeams) {
    if (isInError(team) || !isActiveCareTeam(team) || !overlaps(periodRange(team.period), lead.range)) continue;
    for (const [i, ref] of (team.managingOrganization ?? []).entries()) {
      const org = refKey(ref);
      if (org) await add(org, `${resourceKey(team)} managingOrganization[${i}]`, undefined);
    }
  }
  return { plans, homes };
}

export const leadDocumented: Rule = {
  id: 'lead-documented',
  summary:
    'A lead carries lead-designation (designatedBy, basis, reason, date); when the member has both a plan and a Health Home, both designated the lead.',
  source:
    'NY DOH MLTC Plans and Health Homes guidance, paragraph on the lead care manager: "joint responsibility of both parties ... must be documented on the Care Planning and Coordination form"',
  appliesTo: ['CareTeam'],
  reads: ['careTeams'],
  // A written lead is judged on the teams during its period; a written team can change the joint
  // designation owed by a stored lead during the team's period, which is judged on that lead's teams
  // (hence transitive).
  select: (batch) => ({
    careTeams: [...overlapping(factsOf(batch, 'lead'), 'team', ''), ...overlapping(factsOf(batch, 'team'), 'lead', '')],
  }),
  selectTransitive: true,
  async check(ctx) {
    const all = await participants(ctx);
    const out: Violation[] = [];
    for (const lead of all.filter((p) => p.isLead)) {
      const designation = firstExtension(lead.participant, Extensions.leadDesignation);
      const extPath = designation ? `${lead.path}.extension[${designation.index}]` : `${lead.path}.extension`;
      const missing = missingParts(designation?.value);
      if (missing.length > 0) {
        out.push({
          key: `${lead.label}|parts|${missing.join(',')}`,
          text:
            'A lead care manager must be documented with the Care Planning and Coordination form: who designated the ' +
            'lead (designatedBy), the form itself (basis), the member\'s primary needs (reason) and the date.',
          sites: [{ ref: lead.teamRef, expression: extPath, diagnostics: `lead-designation is missing ${missing.join(', ')}` }],
        });
      }
      if (!lead.activeTeam || isEmpty(lead.range)) continue;
      const designatedBy = new Set(
        subExtensions(designation?.value, 'designatedBy').flatMap((e) => refKey(e.valueReference) ?? []),
      );
      const { plans, homes } = await partiesDuringLead(ctx, lead, all);
      if (plans.length === 0 || homes.length === 0) continue;
      for (const [label, group] of [
        ['plan', plans],
        ['Health Home', homes],
      ] as const) {
        if (group.some((g) => designatedBy.has(g.org))) continue;
        const orgs = [...new Set(group.map((g) => g.org))].sort();
        out.push({
          key: `${lead.label}|joint|${label}|${orgs.join(',')}`,
          text:
            'The member has both an MLTC/MAP plan and a Health Home, so the lead care manager must be designated ' +
            'jointly: both organizations must be listed in designatedBy.',
          sites: [
            {
              ref: lead.teamRef,
              expression: extPath,
              diagnostics: `the ${label} ${group.map((g) => `${g.org} (${g.where})`).join(', ')} is not among designatedBy`,
            },
            ...group.flatMap((g) => (g.site ? [g.site] : [])),
          ],
        });
      }
    }
    return out;
  },
};
