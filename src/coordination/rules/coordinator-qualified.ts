// coordinator-qualified: for members enrolled in mn-msho, mn-msc-plus or mn-snbc, the lead is a
// PractitionerRole or Practitioner with a qualification from the MN list active during the lead period;
// for mn-msho and mn-msc-plus also certified-assessor. Sources (contract 2026-12): Practitioner.qualification,
// and for a PractitionerRole lead its NUCC specialty; certified-assessor from Practitioner.qualification only.
// Checked at every instant the member is enrolled while the lead serves (a requirement, so overlap:
// a lead is held to the list for the part of its period the member is enrolled).
// Source: Minnesota DHS Community-Based Services Manual, "Care coordination", section "Care coordinator
// qualifications": "A care coordinator must be one of the following qualified professionals: Social worker.
// Licensed social worker. Registered nurse. Physician's assistant. Nurse practitioner. Public health nurse.
// Physician." and "For Minnesota Senior Health Options (MSHO) and Minnesota Senior Care Plus (MSC+), all care
// coordinators ... must be certified assessors."
import type { Coding, Practitioner, PractitionerRole } from '@medplum/fhirtypes';
import { CERTIFIED_ASSESSOR, CodeSystems, MN_QUALIFYING_NUCC } from '../codes.js';
import { participants } from '../care-team.js';
import { enrolments } from '../enrolment.js';
import type { Range } from '../period.js';
import { coveredByUnion, intersect, periodRange } from '../period.js';
import { parseRef } from '../refs.js';
import type { Rule, RuleContext, Violation } from './types.js';

interface Held {
  readonly codings: readonly Coding[];
  readonly range: Range;
  /** Practitioner.qualification, or the lead PractitionerRole's specialty. */
  readonly from: 'qualification' | 'specialty';
}

const isProfessional = (c: Coding): boolean =>
  c.system === CodeSystems.nucc && !!c.code && ((MN_QUALIFYING_NUCC as readonly string[]).includes(c.code) || c.code.startsWith('20'));
const isAssessor = (c: Coding): boolean => c.system === CodeSystems.qualification && c.code === CERTIFIED_ASSESSOR;

/**
 * Qualifications of a lead as the contract names their sources: Practitioner.qualification (with its
 * period); for a PractitionerRole lead also its practitioner's, plus the role's NUCC `specialty` (as US
 * Core records it) valid for the role's period. PractitionerRole.code is a job, not a qualification.
 */
async function qualifications(ctx: RuleContext, type: string, id: string): Promise<Held[]> {
  const ofPractitioner = async (pid: string): Promise<Held[]> => {
    const p = (await ctx.read('Practitioner', pid)) as Practitioner | undefined;
    return (p?.qualification ?? []).map((q) => ({ codings: q.code.coding ?? [], range: periodRange(q.period), from: 'qualification' as const }));
  };
  if (type === 'Practitioner') return ofPractitioner(id);
  const role = (await ctx.read('PractitionerRole', id)) as PractitionerRole | undefined;
  if (!role) return [];
  const roleRange = periodRange(role.period);
  const own = (role.specialty ?? []).map((cc) => ({ codings: cc.coding ?? [], range: roleRange, from: 'specialty' as const }));
  const pid = parseRef(role.practitioner);
  const inherited = pid?.type === 'Practitioner' ? await ofPractitioner(pid.id) : [];
  return [...own, ...inherited.map((h) => ({ ...h, range: intersect(h.range, roleRange) ?? { start: 0, end: 0 } }))];
}

export const coordinatorQualified: Rule = {
  id: 'coordinator-qualified',
  summary:
    'In MSHO, MSC+ and SNBC the lead is a qualified professional (SW, LSW, RN, PHN, PA, NP, physician) throughout the lead period; in MSHO/MSC+ also a certified assessor.',
  source: 'Minnesota DHS CBSM "Care coordination", Care coordinator qualifications: "A care coordinator must be one of the following qualified professionals"',
  // EpisodeOfCare: enrolling a member in MSHO/MSC+/SNBC holds their existing lead to the list.
  appliesTo: ['CareTeam', 'EpisodeOfCare'],
  reads: ['careTeams', 'episodes'],
  // Each participant is judged on its own (and the enrolments): only written teams can newly fail,
  // unless an enrolment is written, which can fail any team.
  select: (batch) => (batch.types.has('EpisodeOfCare') ? {} : { careTeams: [] }),
  async check(ctx) {
    const enrolled = enrolments(ctx.record, 'mn-msho', 'mn-msc-plus', 'mn-snbc');
    if (enrolled.length === 0) return [];
    const out: Violation[] = [];
    for (const lead of (await participants(ctx)).filter((p) => p.activeTeam && p.isLead)) {
      for (const e of enrolled) {
        const window = intersect(lead.range, e.range);
        if (!window) continue;
        const member = parseRef(lead.participant.member);
        const episodeSite = (diagnostics: string) => ({ ref: e.ref, expression: e.path, diagnostics });
        const fail = (aspect: string, text: string, diagnostics: string): void => {
          out.push({
            key: `${lead.label}|${e.ref}|${aspect}`,
            text,
            sites: [
              { ref: lead.teamRef, expression: `${lead.path}.member`, diagnostics: `${diagnostics} (${e.ref}: ${e.program})` },
              episodeSite(`the lead on ${lead.label}: ${diagnostics}`),
            ],
          });
        };
        if (member?.type !== 'Practitioner' && member?.type !== 'PractitionerRole') {
          fail('member', 'An MN care coordinator must be a person: the lead must be a Practitioner or PractitionerRole.', `lead member is ${lead.member ?? 'missing'}`);
          continue;
        }
        const held = await qualifications(ctx, member.type, member.id);
        const ranges = (test: (c: Coding) => boolean, from?: Held['from']): Range[] =>
          held.filter((h) => (from === undefined || h.from === from) && h.codings.some(test)).map((h) => h.range);
        if (!coveredByUnion(window, ranges(isProfessional))) {
          fail(
            'professional',
            'An MN care coordinator must be a social worker, licensed social worker, registered nurse, public health nurse, physician assistant, nurse practitioner or physician for the whole lead assignment.',
            `${lead.member ?? ''} has no qualifying NUCC qualification covering the lead period ${lead.periodText}`,
          );
        }
        if ((e.program === 'mn-msho' || e.program === 'mn-msc-plus') && !coveredByUnion(window, ranges(isAssessor, 'qualification'))) {
          fail(
            'assessor',
            'In MSHO and MSC+ the care coordinator must also be a certified assessor for the whole lead assignment.',
            `${lead.member ?? ''} has no certified-assessor qualification covering the lead period ${lead.periodText}`,
          );
        }
      }
    }
    return out;
  },
};
