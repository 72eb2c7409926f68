// ServiceRequest facts the rules share: occurrence range, service codings, requester organization.
import type { Coding, ServiceRequest } from '@medplum/fhirtypes';
import type { Range } from './period.js';
import { ALWAYS, instantRange, periodRange } from './period.js';

/** occurrencePeriod, else occurrenceDateTime as one instant (its whole precision); no occurrence = unbounded. */
export function occurrenceRange(sr: ServiceRequest): Range {
  if (sr.occurrencePeriod) return periodRange(sr.occurrencePeriod);
  if (sr.occurrenceDateTime) return instantRange(sr.occurrenceDateTime);
  return ALWAYS;
}

export function describeOccurrence(sr: ServiceRequest): string {
  const p = sr.occurrencePeriod;
  if (p?.start && p.end) return `from ${p.start} to ${p.end}`;
  if (p?.start) return `from ${p.start}, ongoing`;
  if (p?.end) return `until ${p.end}`;
  if (sr.occurrenceDateTime) return `on ${sr.occurrenceDateTime}`;
  return 'with no dates';
}

export const codingKey = (c: Coding): string | undefined => (c.system && c.code ? `${c.system}|${c.code}` : undefined);

export function codingKeys(cc: { coding?: Coding[] } | undefined): Set<string> {
  const out = new Set<string>();
  for (const c of cc?.coding ?? []) {
    const k = codingKey(c);
    if (k) out.add(k);
  }
  return out;
}

export function sharesCoding(a: ReadonlySet<string>, b: ReadonlySet<string>): string | undefined {
  for (const k of a) if (b.has(k)) return k;
  return undefined;
}

/** `HCPCS T1019`-style wording of a coding key. */
export function describeCodingKey(key: string): string {
  const [system, code] = key.split('|');
  const name =
    system === 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets'
      ? 'HCPCS'
      : system === 'http://www.ama-assn.org/go/cpt'
        ? 'CPT'
        : system;
  return `${name} ${code ?? ''}`.trim();
}

export function describeService(cc: { coding?: Coding[]; text?: string } | undefined): string {
  const first = [...codingKeys(cc)][0];
  return first ? describeCodingKey(first) : (cc?.text ?? 'an uncoded service');
}
