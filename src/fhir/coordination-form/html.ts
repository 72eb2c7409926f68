// The Care Planning and Coordination form as text people read: each section as an XHTML table (the
// Composition's narrative and the printable page share it) and the printable page itself. Every value
// is escaped here, once, and nothing the page shows is fetched from elsewhere (inline CSS only).
import { createHash } from 'node:crypto';
import type { CoordinationForm, FormLimit, Party } from '../../coordination/form.js';

/** XML-illegal characters (C0 controls except tab/newline/return, U+FFFE/U+FFFF, lone surrogates). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point: XML cannot hold them
const XML_ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text as XHTML/HTML character data or an attribute value. Only the five XML entities are used (FHIR
 * narrative is XML without a DTD, so named HTML entities would not parse).
 */
export function escapeText(value: string): string {
  return value.replace(XML_ILLEGAL, '\uFFFD').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

export interface FormSection {
  /** Stable: clients find sections of the document by this title (docs/coordination-form.md). */
  readonly title: string;
  readonly columns: readonly string[];
  /** Plain text cells, escaped when rendered. */
  readonly rows: readonly (readonly string[])[];
  /**
   * How many leading columns describe a group of rows (a plan and its services): consecutive rows with the
   * same leading cells show them once, spanning the group, so a printed plan is not repeated per service.
   */
  readonly groupColumns?: number;
  /** Set when the record was larger than the form reads: what this section may be missing (FormLimit). */
  readonly notes?: readonly string[];
}

const party = (p: Party | undefined): string => (p ? (p.reference && p.reference !== p.display ? `${p.display} [${p.reference}]` : p.display) : '');
const parties = (ps: readonly Party[]): string => ps.map(party).join('; ');

export const SECTION_TITLES = {
  member: 'Member',
  leads: 'Lead care manager',
  team: 'Care team',
  split: 'Service split (ASA appendix)',
  requests: 'Service requests',
  consents: 'Consents and opt-outs',
  /** Present only when the member's record was larger than one form reads (FORM_MAX_RECORDS). */
  limits: 'Records not shown',
} as const;

/** The sections a record type's rows appear in. */
const SECTIONS_OF_TYPE: Readonly<Record<string, readonly string[]>> = {
  EpisodeOfCare: [SECTION_TITLES.member],
  CareTeam: [SECTION_TITLES.leads, SECTION_TITLES.team],
  CarePlan: [SECTION_TITLES.split],
  ServiceRequest: [SECTION_TITLES.requests],
  Consent: [SECTION_TITLES.consents],
};

/** In words: what a limit left out. The FHIR document's OperationOutcome says the same. */
export function limitText(limit: FormLimit): string {
  if (limit.resourceType === undefined) {
    return `The record names ${limit.notRead ?? 0} more Organization, Practitioner or PractitionerRole resources than the ${limit.limit} the form reads: those show as their references, not their names.`;
  }
  return `The member's record holds more than ${limit.limit} ${limit.resourceType} resources the form could show; only ${limit.limit} were read, so rows taken from the others are missing.`;
}

function limitsSection(limits: readonly FormLimit[]): FormSection {
  return {
    title: SECTION_TITLES.limits,
    columns: ['Records', 'Read at most', 'Not shown'],
    rows: limits.map((l) => [l.resourceType ?? 'Directory (Organization, Practitioner, PractitionerRole)', String(l.limit), limitText(l)]),
  };
}

/** The form's sections in print order: what was left out first, so nobody reads a partial form as whole. */
export function formSections(form: CoordinationForm): FormSection[] {
  const notes = new Map<string, string[]>();
  for (const l of form.limits) for (const title of SECTIONS_OF_TYPE[l.resourceType ?? ''] ?? []) notes.set(title, [...(notes.get(title) ?? []), limitText(l)]);
  const sections = recordSections(form).map((s) => (notes.has(s.title) ? { ...s, notes: notes.get(s.title)! } : s));
  return form.limits.length > 0 ? [limitsSection(form.limits), ...sections] : sections;
}

function recordSections(form: CoordinationForm): FormSection[] {
  const m = form.member;
  return [
    {
      title: SECTION_TITLES.member,
      columns: ['Member', 'Birth date', 'Gender', 'Identifiers', 'Enrolments'],
      rows: [[`${m.name} [${m.reference}]`, m.birthDate ?? '', m.gender ?? '', m.identifiers.join('; '), form.enrolments.map((e) => `${e.program}: ${party(e.organization)} ${e.period}`).join('; ')]],
    },
    {
      title: SECTION_TITLES.leads,
      columns: ['Lead care manager', 'Organization', 'Designated by', 'Basis', 'Reason (primary needs)', 'Designated on', 'Period', 'Source'],
      rows: form.leads.map((l) => [party(l.careManager), party(l.organization), parties(l.designatedBy), party(l.basis), l.reason ?? '', l.date ?? '', l.period, l.source]),
    },
    {
      title: SECTION_TITLES.team,
      columns: ['Participant', 'Organization', 'Role', 'Coordination scopes', 'Period', 'Source'],
      rows: form.participants.map((p) => [party(p.member), party(p.organization), p.roles.join('; '), p.scopes.join(', '), p.period, p.source]),
    },
    {
      title: SECTION_TITLES.split,
      columns: ['Plan', 'ASA appendix', 'Parties', 'Service', 'Benefit', 'Responsible party', 'Period'],
      groupColumns: 3,
      rows: form.plans.flatMap((p) => {
        const head = [`${p.source} (${p.status})`, p.appendix ?? '', parties(p.parties)];
        if (p.services.length === 0) return [[...head, '', '', '', p.period]];
        return p.services.map((s) => [...head, s.service, s.benefit ?? '', party(s.responsibleParty), p.period]);
      }),
    },
    {
      title: SECTION_TITLES.requests,
      columns: ['Service', 'Category', 'Status', 'Intent', 'Requester', 'Period', 'Source'],
      rows: form.requests.map((r) => [r.code, r.categories.join('; '), r.status, r.intent, party(r.requester), r.period, r.source]),
    },
    {
      title: SECTION_TITLES.consents,
      columns: ['Kind', 'Organizations', 'Period', 'Source'],
      rows: form.consents.map((c) => [c.kind === 'opt-out' ? 'Program opt-out' : 'Data sharing', parties(c.organizations), c.period, c.source]),
    },
  ];
}

/** How many rows from `start` share the first `n` cells of the row at `start`. */
function groupLength(rows: FormSection['rows'], start: number, n: number): number {
  let end = start + 1;
  while (end < rows.length && rows[end]!.slice(0, n).every((cell, i) => cell === rows[start]![i])) end++;
  return end - start;
}

function table(section: FormSection): string {
  const notes = (section.notes ?? []).map((n) => `<p>${escapeText(n)}</p>`).join('');
  if (section.rows.length === 0) return `<p>${section.notes?.length ? 'None in force among the records read.' : 'None in force.'}</p>${notes}`;
  const head = section.columns.map((c) => `<th>${escapeText(c)}</th>`).join('');
  const n = section.groupColumns ?? 0;
  const cells = (r: readonly string[], from: number, span = 1) =>
    r.slice(from, from === 0 ? n || undefined : undefined).map((cell) => `<td${span > 1 ? ` rowspan="${span}"` : ''}>${escapeText(cell)}</td>`).join('');
  const body: string[] = [];
  for (let i = 0; i < section.rows.length; ) {
    const span = n > 0 ? groupLength(section.rows, i, n) : 1;
    section.rows.slice(i, i + span).forEach((r, k) => body.push(`<tr>${k === 0 && n > 0 ? cells(r, 0, span) : ''}${cells(r, n)}</tr>`));
    i += span;
  }
  return `${notes}<table><thead><tr>${head}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

/** A Composition.section.text.div: the section's table as FHIR XHTML narrative. */
export function sectionNarrative(section: FormSection): string {
  return `<div xmlns="http://www.w3.org/1999/xhtml">${table(section)}</div>`;
}

const CSS = `
@page { size: letter; margin: 14mm; }
* { box-sizing: border-box; }
body { font: 10pt/1.35 Georgia, "Times New Roman", serif; color: #000; background: #fff; margin: 0; }
main.form { max-width: 190mm; margin: 0 auto; padding: 8mm 0; page-break-after: always; break-after: page; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #000; break-after: avoid; page-break-after: avoid; }
p.meta { margin: 0; font-size: 9pt; }
table { width: 100%; border-collapse: collapse; font-size: 8.5pt; }
th, td { border: 1px solid #555; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
/* Long references may break anywhere so a wide table still fits the page; the minimum keeps short columns (dates, codes) legible. */
th { min-width: 16mm; overflow-wrap: normal; }
th { background: #eee; }
tr { break-inside: avoid; page-break-inside: avoid; }
section.signatures { break-inside: avoid; page-break-inside: avoid; }
div.signature { display: flex; gap: 6mm; margin: 9mm 0 0; }
div.signature span { flex: 1; border-top: 1px solid #000; padding-top: 1mm; font-size: 8.5pt; }
footer { margin-top: 8mm; font-size: 8pt; color: #333; }
@media screen { body { background: #f4f4f4; } main.form { background: #fff; padding: 10mm 12mm; margin: 6mm auto; } }
`.trim();

/**
 * The page's Content-Security-Policy: nothing may load or run; only the one inline style block, pinned
 * by its hash.
 */
export const FORM_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export interface PageContext {
  /** The server's FHIR base URL. */
  readonly baseUrl: string;
  readonly generatedAt: string;
  /** The day the form shows, when one was asked for. */
  readonly date?: string;
}

function signatureBlock(signatories: readonly Party[]): string {
  // Both parties sign; with no ASA parties or designators recorded, the lines are labelled generically.
  const names = signatories.length > 0 ? signatories.map(party) : ['MLTCP / MAP plan', 'Health Home'];
  const lines = names.map((n) => `<div class="signature"><span>${escapeText(n)}: signature</span><span>Name and title</span><span>Date</span></div>`).join('');
  return `<section class="signatures"><h2>Signatures</h2>${lines}</section>`;
}

/** The printable page: one member, the form's sections, signature lines, when and where it was generated. */
export function formPage(form: CoordinationForm, context: PageContext): string {
  const sections = formSections(form)
    .map((s) => `<section><h2>${escapeText(s.title)}</h2>${table(s)}</section>`)
    .join('');
  const asOf = context.date ? `Record in force on ${context.date}` : `Record in force at ${context.generatedAt}`;
  const title = `Care Planning and Coordination form: ${form.member.name}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeText(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head><body><main class="form">',
    `<h1>Care Planning and Coordination form</h1>`,
    `<p class="meta">${escapeText(`${form.member.name} (${form.member.reference}). ${asOf}.`)}</p>`,
    sections,
    signatureBlock(form.signatories),
    `<footer>${escapeText(`Generated at ${context.generatedAt} by ${context.baseUrl} from ${context.baseUrl}/${form.member.reference}`)}</footer>`,
    '</main></body></html>',
  ].join('\n');
}
