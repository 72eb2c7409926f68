// Building blocks of the seed scenarios: a builder that turns named resources into transaction Bundles
// with urn:uuid fullUrls and conditional creates, plus small helpers for the Concord codes.
//
// Every seeded resource carries
//   - an identifier in SEED_IDENTIFIER_SYSTEM whose value is its seed key (e.g. `ny-org-mltcp`): the
//     entry is a conditional create (`ifNoneExist: identifier=<system>|<key>`), so a second run matches
//     instead of creating;
//   - a meta.tag in SEED_TAG_SYSTEM naming the scenario, so the seeded data can be found and counted.
// Inside one Bundle resources refer to each other by urn:uuid; a resource from an earlier Bundle of the
// scenario is referred to by a conditional reference (`Organization?identifier=<system>|<key>`), which
// the server resolves to the stored id.
import { createHash } from 'node:crypto';
import type {
  Bundle,
  BundleEntry,
  CodeableConcept,
  Coding,
  DocumentReference,
  Extension,
  Organization,
  QuestionnaireResponse,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import {
  CODE_SYSTEM_URLS,
  CONCORD_BASE,
  EXTENSION_URLS,
  EXTERNAL_SYSTEM_URLS,
  LEAD_DESIGNATION_PARTS,
  SERVICE_SPLIT_PARTS,
} from '../../src/fhir/profiles/urls.js';

/** Seed data lives next to, not inside, the contract's namespace (its URLs are public API). */
const SEED_BASE = `${new URL(CONCORD_BASE).origin}/seed`;
export const SEED_IDENTIFIER_SYSTEM = `${SEED_BASE}/identifier`;
export const SEED_TAG_SYSTEM = `${SEED_BASE}/scenario`;
/** Namespace for the seed's own identifier systems (state Medicaid ids) and canonical urls. */
export const seedUrl = (path: string): string => `${SEED_BASE}/${path}`;

export const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const LOINC = 'http://loinc.org';

export type ScenarioName = 'ny' | 'ma' | 'mn';

interface Registered {
  type: string;
  bundle: number;
  fullUrl: string;
}

/** One named Bundle of a scenario (a step of the progress output). */
export interface SeedBundle {
  label: string;
  bundle: Bundle;
}

/**
 * Collects a scenario's resources bundle by bundle. `ref(key)` gives a Reference valid where it is used:
 * the urn:uuid inside the same Bundle, a conditional reference to an earlier one.
 */
export class ScenarioBuilder {
  private readonly registry = new Map<string, Registered>();
  private readonly bundles: SeedBundle[] = [];
  private current: BundleEntry[] | undefined;

  constructor(readonly scenario: ScenarioName) {}

  /** Starts the next Bundle; resources added from now on go into it. */
  bundle(label: string): this {
    const entry: BundleEntry[] = [];
    this.bundles.push({ label, bundle: { resourceType: 'Bundle', type: 'transaction', entry } });
    this.current = entry;
    return this;
  }

  /** Adds a resource under a scenario-unique key as a conditional create; returns its Reference. */
  add<T extends Resource>(key: string, resource: T, display?: string): Reference<T> {
    if (!this.current) throw new Error('call bundle() before add()');
    if (this.registry.has(key)) throw new Error(`seed key '${key}' is used twice`);
    const fullUrl = `urn:uuid:${uuidFor(`${this.scenario}/${key}`)}`;
    this.registry.set(key, { type: resource.resourceType, bundle: this.bundles.length - 1, fullUrl });
    const seedId = { system: SEED_IDENTIFIER_SYSTEM, value: key };
    const withBookkeeping = {
      ...resource,
      meta: { ...resource.meta, tag: [...(resource.meta?.tag ?? []), { system: SEED_TAG_SYSTEM, code: this.scenario }] },
      identifier: identifierFor(resource, seedId),
    } as Resource;
    this.current.push({
      fullUrl,
      resource: withBookkeeping,
      request: {
        method: 'POST',
        url: resource.resourceType,
        ifNoneExist: `identifier=${encodeURIComponent(`${SEED_IDENTIFIER_SYSTEM}|${key}`)}`,
      },
    });
    return this.ref<T>(key, display);
  }

  /**
   * A Reference to an added resource. It holds a placeholder that build() rewrites for the Bundle it ends
   * up in: the urn:uuid within the same Bundle, a conditional reference to an earlier Bundle.
   */
  ref<T extends Resource = Resource>(key: string, display?: string): Reference<T> {
    if (!this.registry.has(key)) throw new Error(`seed key '${key}' is not defined (yet)`);
    const reference = `${PLACEHOLDER}${key}`;
    return display ? { reference, display } : { reference };
  }

  build(): SeedBundle[] {
    return this.bundles.map((b, index) => ({ ...b, bundle: this.resolve(b.bundle, index) }));
  }

  private resolve(bundle: Bundle, index: number): Bundle {
    return rewriteReferences(bundle, (placeholder) => {
      const key = placeholder.slice(PLACEHOLDER.length);
      const r = this.registry.get(key)!;
      if (r.bundle > index) throw new Error(`seed key '${key}' is used before the Bundle that creates it`);
      return r.bundle === index ? r.fullUrl : `${r.type}?identifier=${encodeURIComponent(`${SEED_IDENTIFIER_SYSTEM}|${key}`)}`;
    });
  }
}

const PLACEHOLDER = 'seed-key:';

/** A copy of value with every `reference` that holds a placeholder replaced. */
function rewriteReferences<T>(value: T, replace: (placeholder: string) => string): T {
  if (Array.isArray(value)) return value.map((v: unknown) => rewriteReferences(v, replace)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'reference' && typeof v === 'string' && v.startsWith(PLACEHOLDER) ? replace(v) : rewriteReferences(v, replace);
  }
  return out as T;
}

/**
 * Identifier is 0..* on most resources but 0..1 on QuestionnaireResponse; the seed identifier is added
 * in front of the resource's own identifiers.
 */
function identifierFor(resource: Resource, seedId: { system: string; value: string }): unknown {
  if (resource.resourceType === 'QuestionnaireResponse') return seedId;
  const own = (resource as { identifier?: unknown[] }).identifier ?? [];
  return [seedId, ...own];
}

/** A stable RFC 4122 (version 5 style) UUID for a seed key, so the Bundles are reproducible. */
function uuidFor(name: string): string {
  const h = createHash('sha1').update(`concord-seed:${name}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A 10-digit NPI with a valid Luhn check digit (over the 80840 prefix) from a 9-digit base. */
export function npi(base9: string): string {
  if (!/^\d{9}$/.test(base9)) throw new Error(`NPI base must be 9 digits: ${base9}`);
  const digits = `80840${base9}`.split('').map(Number);
  let sum = 0;
  // Double every second digit from the right of the payload (the check digit will be appended).
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits[i]!;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${base9}${(10 - (sum % 10)) % 10}`;
}

// ---- Concord codes ------------------------------------------------------------------------------------

export const coding = (system: string, code: string, display?: string): Coding => (display ? { system, code, display } : { system, code });
export const concept = (system: string, code: string, display?: string): CodeableConcept => ({
  coding: [coding(system, code, display)],
  ...(display ? { text: display } : {}),
});

export const orgRole = (code: string, display: string): CodeableConcept => concept(CODE_SYSTEM_URLS.organizationRole, code, display);
export const program = (code: string, display: string): CodeableConcept => concept(CODE_SYSTEM_URLS.program, code, display);
export const serviceCategory = (code: string): CodeableConcept => concept(CODE_SYSTEM_URLS.serviceCategory, code);
export const hcpcs = (code: string, display: string): CodeableConcept => concept(EXTERNAL_SYSTEM_URLS.hcpcs, code, display);
export const cpt = (code: string, display: string): CodeableConcept => concept(EXTERNAL_SYSTEM_URLS.cpt, code, display);
export const nucc = (code: string, display: string): CodeableConcept => concept(EXTERNAL_SYSTEM_URLS.nuccTaxonomy, code, display);
export const certifiedAssessor = (): CodeableConcept => concept(CODE_SYSTEM_URLS.qualification, 'certified-assessor', 'Certified assessor (MnCHOICES)');
export const leadCareManagerRole = (): CodeableConcept => concept(CODE_SYSTEM_URLS.careTeamRole, 'lead-care-manager', 'Lead care manager');
export const comprehensiveCategory = (): CodeableConcept => concept(CODE_SYSTEM_URLS.carePlanCategory, 'comprehensive', 'Comprehensive plan of care');

export const scopeExtension = (code: string): Extension => ({
  url: EXTENSION_URLS.coordinationScope,
  valueCoding: coding(CODE_SYSTEM_URLS.coordinationScope, code),
});

export function leadDesignation(opts: { designatedBy: Reference<Organization>[]; basis: Reference<DocumentReference | QuestionnaireResponse>; reason: string; date: string }): Extension {
  return {
    url: EXTENSION_URLS.leadDesignation,
    extension: [
      ...opts.designatedBy.map((r) => ({ url: LEAD_DESIGNATION_PARTS.designatedBy, valueReference: r })),
      { url: LEAD_DESIGNATION_PARTS.basis, valueReference: opts.basis },
      { url: LEAD_DESIGNATION_PARTS.reason, valueString: opts.reason },
      { url: LEAD_DESIGNATION_PARTS.date, valueDate: opts.date },
    ],
  };
}

export const asaAppendix = (code: 'A' | 'B'): Extension => ({
  url: EXTENSION_URLS.asaAppendix,
  valueCoding: coding(CODE_SYSTEM_URLS.asaAppendix, code, code === 'A' ? 'Appendix A (MLTCP)' : 'Appendix B (MAP)'),
});

export const asaParty = (org: Reference<Organization>): Extension => ({ url: EXTENSION_URLS.asaParties, valueReference: org });

export function serviceSplit(service: CodeableConcept, benefit: 'in-plan' | 'out-of-plan', responsibleParty: Reference<Organization>): Extension {
  return {
    url: EXTENSION_URLS.serviceSplit,
    extension: [
      { url: SERVICE_SPLIT_PARTS.service, valueCodeableConcept: service },
      { url: SERVICE_SPLIT_PARTS.benefit, valueCoding: coding(CODE_SYSTEM_URLS.benefitSplit, benefit) },
      { url: SERVICE_SPLIT_PARTS.responsibleParty, valueReference: responsibleParty },
    ],
  };
}
