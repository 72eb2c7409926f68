// The only way the coordination rules see data. The storage layer implements it with SQL inside the
// write's transaction, after taking the per-member locks (see engine.ts membersOf), so what it returns
// is what the write will commit against.
import type { CarePlan, CareTeam, Consent, EpisodeOfCare, Resource, ServiceRequest } from '@medplum/fhirtypes';
import type { FactQuery } from './facts.js';
import { parseRef } from './refs.js';

/** A member's coordination resources: current, non-deleted versions whose subject/patient is the member. */
export interface MemberRecord {
  careTeams: CareTeam[];
  carePlans: CarePlan[];
  serviceRequests: ServiceRequest[];
  consents: Consent[];
  episodes: EpisodeOfCare[];
}

export type MemberRecordPart = keyof MemberRecord;

export interface CoordinationReader {
  /**
   * The member's current (non-deleted) CareTeams (subject), CarePlans (subject), ServiceRequests
   * (subject), Consents (patient) and EpisodesOfCare (patient) referencing `Patient/<patientId>`,
   * as visible in this transaction. Whether the proposed writes are already applied does not matter:
   * the engine overlays them (and their previous versions) itself. With `parts`, only those lists need
   * to be filled (the others may be empty).
   */
  memberRecord(patientId: string, parts?: readonly MemberRecordPart[]): Promise<MemberRecord>;
  /**
   * The member's current (non-deleted) CareTeams, ServiceRequests and CarePlans with a coordination
   * fact (facts.ts coordinationFacts of their stored state) matching any of the queries, in the same
   * order memberRecord lists them. A reader without it makes the engine read whole parts.
   */
  withFacts?(patientId: string, queries: readonly FactQuery[]): Promise<Resource[]>;
  /** The current version of any resource (Organization, Practitioner, PractitionerRole, ...), or undefined. */
  read(resourceType: string, id: string): Promise<Resource | undefined>;
}

/**
 * The only other types the rules read (RuleContext.read): organization roles, practitioner
 * qualifications, a role's organization. Reading any other type is an error (engine.ts), so that a batch
 * writing one of these is known to be able to change any verdict (the engine then reads whole records).
 */
export const REFERENCED_RESOURCE_TYPES: ReadonlySet<string> = new Set(['Organization', 'Practitioner', 'PractitionerRole']);

/**
 * The resources of REFERENCED_RESOURCE_TYPES that `value` refers to (relative references anywhere in it),
 * read as the rules read a reference (parseRef), so whoever reads them ahead warms exactly what the rules
 * will ask for. Keyed `Type/id`.
 */
export function rulesReferences(value: unknown): Map<string, { type: string; id: string }> {
  const out = new Map<string, { type: string; id: string }>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'reference' && typeof x === 'string') {
          const ref = parseRef(x);
          if (ref && REFERENCED_RESOURCE_TYPES.has(ref.type)) out.set(`${ref.type}/${ref.id}`, { type: ref.type, id: ref.id });
        } else {
          visit(x);
        }
      }
    }
  };
  visit(value);
  return out;
}

export const MEMBER_RESOURCE_TYPES = ['CareTeam', 'CarePlan', 'ServiceRequest', 'Consent', 'EpisodeOfCare'] as const;
export type MemberResourceType = (typeof MEMBER_RESOURCE_TYPES)[number];

const PART_OF_TYPE: Readonly<Record<string, MemberRecordPart>> = {
  CareTeam: 'careTeams',
  CarePlan: 'carePlans',
  ServiceRequest: 'serviceRequests',
  Consent: 'consents',
  EpisodeOfCare: 'episodes',
};

/** The record part a resource type belongs to, or undefined for types outside the member's record. */
export function partOfType(resourceType: string): MemberRecordPart | undefined {
  return PART_OF_TYPE[resourceType];
}

/** Appends the resource to the part of the record its type belongs to (other types are ignored). */
export function addToRecord(record: MemberRecord, resource: Resource): void {
  const part = partOfType(resource.resourceType);
  if (part) (record[part] as Resource[]).push(resource);
}

export function emptyRecord(): MemberRecord {
  return { careTeams: [], carePlans: [], serviceRequests: [], consents: [], episodes: [] };
}
