// The Care Planning and Coordination form as a FHIR document: a Bundle of type `document` whose first
// entry is a Composition (one section per part of the form, each with generated narrative and the
// resources it was taken from), followed by every resource the form shows.
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Composition, CompositionSection, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { CoordinationForm } from '../../coordination/form.js';
import { resourceKey } from '../../coordination/refs.js';
import { formSections, limitText, sectionNarrative, SECTION_TITLES } from './html.js';

/** LOINC 18776-5 "Plan of care note": the closest document type for a care planning form. */
const PLAN_OF_CARE = { system: 'http://loinc.org', code: '18776-5', display: 'Plan of care note' };
const EMPTY_REASON = 'http://terminology.hl7.org/CodeSystem/list-empty-reason';
const NOTHING_IN_FORCE = { coding: [{ system: EMPTY_REASON, code: 'nilknown', display: 'Nil Known' }], text: 'None in force' };
/** An empty section of a form that did not read the whole record: nothing in force among what it read. */
const NOT_ALL_READ = { coding: [{ system: EMPTY_REASON, code: 'unavailable', display: 'Unavailable' }], text: 'None in force among the records read' };
export const FORM_TITLE = 'Care Planning and Coordination form';

export interface DocumentContext {
  readonly baseUrl: string;
  readonly generatedAt: string;
  /** The day asked for (`date`): the Composition's event period is that day. */
  readonly date?: string;
}

/** Which sources each section lists as entries (the narrative rows name them too). */
function sectionSources(form: CoordinationForm): Record<string, readonly string[]> {
  const unique = (refs: string[]) => [...new Set(refs)];
  return {
    [SECTION_TITLES.member]: unique([form.member.reference, ...form.enrolments.map((e) => e.source)]),
    [SECTION_TITLES.leads]: unique(form.leads.map((l) => l.source)),
    [SECTION_TITLES.team]: unique(form.participants.map((p) => p.source)),
    [SECTION_TITLES.split]: unique(form.plans.map((p) => p.source)),
    [SECTION_TITLES.requests]: unique(form.requests.map((r) => r.source)),
    [SECTION_TITLES.consents]: unique(form.consents.map((c) => c.source)),
  };
}

/**
 * What the form left out (FormLimit) as warnings a program reads: an OperationOutcome in the document,
 * which the section 'Records not shown' lists as its entry.
 */
function limitsOutcome(form: CoordinationForm): OperationOutcome | undefined {
  if (form.limits.length === 0) return undefined;
  return {
    resourceType: 'OperationOutcome',
    id: randomUUID(),
    issue: form.limits.map((l) => ({ severity: 'warning', code: 'too-costly', diagnostics: limitText(l) })),
  };
}

export function formDocument(form: CoordinationForm, context: DocumentContext): Bundle {
  const outcome = limitsOutcome(form);
  const sources: Record<string, readonly string[]> = { ...sectionSources(form), ...(outcome ? { [SECTION_TITLES.limits]: [`urn:uuid:${outcome.id}`] } : {}) };
  const section: CompositionSection[] = formSections(form).map((s) => {
    const entry = (sources[s.title] ?? []).map((reference) => ({ reference }));
    return {
      title: s.title,
      text: { status: 'generated', div: sectionNarrative(s) },
      ...(entry.length > 0 ? { entry } : { emptyReason: s.notes?.length ? NOT_ALL_READ : NOTHING_IN_FORCE }),
    };
  });
  const compositionId = randomUUID();
  const composition: Composition = {
    resourceType: 'Composition',
    id: compositionId,
    status: 'final',
    type: { coding: [PLAN_OF_CARE], text: FORM_TITLE },
    subject: { reference: form.member.reference },
    date: context.generatedAt,
    author: [{ display: 'Concord (generated from the coordination record)' }],
    title: FORM_TITLE,
    ...(context.date ? { event: [{ period: { start: context.date, end: context.date } }] } : {}),
    section,
  };
  const id = randomUUID();
  const entry = (r: Resource): BundleEntry => ({ fullUrl: `${context.baseUrl}/${resourceKey(r)}`, resource: r });
  const warnings: BundleEntry[] = outcome ? [{ fullUrl: `urn:uuid:${outcome.id}`, resource: outcome }] : [];
  return {
    resourceType: 'Bundle',
    id,
    meta: { lastUpdated: context.generatedAt },
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` },
    type: 'document',
    timestamp: context.generatedAt,
    entry: [{ fullUrl: `urn:uuid:${compositionId}`, resource: composition }, ...warnings, ...form.sources.map(entry)],
  };
}
