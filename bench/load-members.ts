// Generator of coordination-shaped members, loaded through transaction Bundles over HTTP.
//
//   npx tsx bench/load-members.ts --members N [--url http://127.0.0.1:8080/fhir] [--concurrency 4]
//                                 [--members-per-bundle 1] [--start-at 0] [--max-seconds 3600]
//
// A shared directory (NY MLTC partial capitation plans, Health Homes, a licensed home care agency,
// their care managers as Practitioner + PractitionerRole, the Care Planning and Coordination form) is
// created once, as one transaction of conditional creates (so running again finds it). Each member is
// then one transaction Bundle of 11 resources shaped like the `ny` seed scenario (scripts/seed/), which
// passes every Concord profile and coordination rule:
//   Patient, 2 EpisodeOfCare (ny-health-home + ny-mltcp), QuestionnaireResponse (the form: the lead's
//   basis), CareTeam (MLTCP, lead care manager with lead-designation, scopes ltc + care-transitions),
//   CareTeam (Health Home, scope bh-and-out-of-plan), CarePlan (service-split, Appendix A, 6 services),
//   3 ServiceRequests (T1019, S5100, S5170 basedOn the plan, requested by the plan's care manager),
//   Consent (data sharing with the plan and the Health Home).
// Members are deterministic in their index (`--start-at` continues a load). A progress line (members,
// resources, resources/s, ETA) goes to stderr.
import type { Bundle, BundleEntry, OperationOutcome, QuestionnaireResponse, Reference, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { hcpcs, npi, nucc, program, seedUrl } from '../scripts/seed/fhir.js';
import { flags } from './args.js';
import {
  address,
  careTeam,
  dataSharingConsent,
  enrolment,
  organization,
  patient,
  perWeek,
  practitioner,
  practitionerRole,
  serviceRequest,
  serviceSplitPlan,
} from '../scripts/seed/resources.js';

export const RESOURCES_PER_MEMBER = 11;
export const PLANS = 6;
export const HEALTH_HOMES = 6;
export const ROLES_PER_ORG = 4;

const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';
const CPC_FORM_URL = seedUrl('Questionnaire/ny-care-planning-and-coordination');
const NY_CIN = seedUrl('sid/ny-medicaid-cin');

export const SERVICES = {
  personalCare: hcpcs('T1019', 'Personal care services, per 15 minutes'),
  adultDay: hcpcs('S5100', 'Day care services, adult; per 15 minutes'),
  meals: hcpcs('S5170', 'Home delivered meals, including preparation; per meal'),
  pers: hcpcs('S5161', 'Emergency response system; service fee, per month'),
  bhCounseling: hcpcs('H0004', 'Behavioral health counseling and therapy, per 15 minutes'),
  peerSupport: hcpcs('H0038', 'Self-help/peer services, per 15 minutes'),
};

export interface Directory {
  plans: string[];
  healthHomes: string[];
  lhcsa: string;
  /** PractitionerRole ids per plan / per Health Home. */
  planRoles: string[][];
  hhRoles: string[][];
}

/** What the queries need to know about a loaded member (all ids are logical ids). */
export interface MemberRef {
  index: number;
  patient: string;
  plan: string;
  healthHome: string;
  leadRole: string;
  hhRole: string;
  planTeam: string;
  hhTeam: string;
  carePlan: string;
}

// ---- HTTP ---------------------------------------------------------------------------------------------

export class LoadError extends Error {}

export async function postBundle(base: string, bundle: Bundle): Promise<Bundle> {
  const res = await fetch(base, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json', prefer: 'return=minimal' },
    body: JSON.stringify(bundle),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let body: Bundle | OperationOutcome | undefined;
  try {
    body = text ? (JSON.parse(text) as Bundle | OperationOutcome) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok && body?.resourceType === 'Bundle') return body;
  const issues =
    body?.resourceType === 'OperationOutcome'
      ? (body.issue ?? []).map((i) => `${i.details?.coding?.map((c) => c.code).join(',') || i.code} ${i.expression?.join(',') ?? ''} ${i.diagnostics ?? ''}`).join(' | ')
      : text.slice(0, 500);
  throw new LoadError(`HTTP ${res.status}: ${issues}`);
}

/** `Type/id` of each entry of a transaction-response (from response.location). */
function locations(response: Bundle): string[] {
  return (response.entry ?? []).map((e) => {
    // 201: response.location; an ifNoneExist match (200) carries only the entry's fullUrl.
    const loc = e.response?.location ?? e.fullUrl ?? '';
    const m = /([A-Za-z]+)\/([^/]+)(?:\/_history\/[^/]+)?$/.exec(loc);
    return m ? `${m[1]}/${m[2]}` : '';
  });
}

const idOf = (typeAndId: string | undefined): string => {
  const id = typeAndId?.split('/')[1];
  if (!id) throw new LoadError(`missing location in transaction-response: '${typeAndId}'`);
  return id;
};

// ---- directory ----------------------------------------------------------------------------------------

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function directoryBundle(): Bundle {
  const entry: BundleEntry[] = [];
  const add = (resource: Resource, identifierValue: string): Reference<never> => {
    const fullUrl = `urn:uuid:${randomUUID()}`;
    entry.push({
      fullUrl,
      resource,
      request: { method: 'POST', url: resource.resourceType, ifNoneExist: `identifier=${encodeURIComponent(`${NPI_SYSTEM}|${identifierValue}`)}` },
    });
    return { reference: fullUrl };
  };
  const orgWithRoles = (kind: 'plan' | 'hh', k: number): void => {
    const base = kind === 'plan' ? 700000000 + k * 100 : 710000000 + k * 100;
    const npiOrg = npi(String(base));
    const org = add(
      organization({
        name: kind === 'plan' ? `Bench MLTC Plan ${k + 1}` : `Bench Health Home ${k + 1}`,
        role: kind === 'plan' ? ['mltcp-plan', 'MLTC partial capitation plan'] : ['health-home', 'Health Home'],
        npiBase: String(base),
        address: address(`${100 + k} Bench Street`, 'Bronx', 'NY', `104${pad(k, 2)}`),
        phone: `+1-718-555-${pad(1000 + k, 4)}`,
      }),
      npiOrg,
    );
    for (let r = 0; r < ROLES_PER_ORG; r++) {
      const pBase = String(base + 1 + r);
      const pract = add(
        practitioner({
          given: kind === 'plan' ? 'Nora' : 'Sam',
          family: `Bench${kind === 'plan' ? 'Plan' : 'Hh'}${k}x${r}`,
          suffix: kind === 'plan' ? 'RN' : 'LCSW',
          gender: r % 2 === 0 ? 'female' : 'male',
          npiBase: pBase,
          phone: `+1-718-555-${pad(2000 + k * 10 + r, 4)}`,
          qualifications: [
            kind === 'plan'
              ? { code: nucc('163W00000X', 'Registered Nurse'), period: { start: '2010-01-01' } }
              : { code: nucc('1041C0700X', 'Clinical Social Worker'), period: { start: '2012-01-01' } },
          ],
        }),
        npi(pBase),
      );
      // PractitionerRole has an identifier too: reuse the practitioner's NPI with a role suffix system.
      const roleResource = {
        ...practitionerRole({ practitioner: pract, organization: org, title: kind === 'plan' ? 'MLTC care manager (RN)' : 'Health Home care manager', start: '2019-01-01' }),
        identifier: [{ system: NPI_SYSTEM, value: `${npi(pBase)}-role` }],
      };
      add(roleResource, `${npi(pBase)}-role`);
    }
  };
  for (let k = 0; k < PLANS; k++) orgWithRoles('plan', k);
  for (let k = 0; k < HEALTH_HOMES; k++) orgWithRoles('hh', k);
  add(
    organization({
      name: 'Bench Home Attendant Services',
      role: ['ltss-provider', 'LTSS provider'],
      npiBase: '720000000',
      address: address('1 Bench Plaza', 'Bronx', 'NY', '10471'),
      phone: '+1-718-555-0999',
    }),
    npi('720000000'),
  );
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

export async function loadDirectory(base: string): Promise<Directory> {
  const bundle = directoryBundle();
  const locs = locations(await postBundle(base, bundle));
  const dir: Directory = { plans: [], healthHomes: [], lhcsa: '', planRoles: [], hhRoles: [] };
  // Entries come as: organization, then its practitioners and roles; roles belong to the last organization.
  let current: string[] | undefined;
  (bundle.entry ?? []).forEach((e, i) => {
    const loc = locs[i];
    const r = e.resource as Resource & { type?: { coding?: { code?: string }[] }[] };
    if (r.resourceType === 'Organization') {
      const role = r.type?.[0]?.coding?.[0]?.code;
      current = [];
      if (role === 'mltcp-plan') {
        dir.plans.push(idOf(loc));
        dir.planRoles.push(current);
      } else if (role === 'health-home') {
        dir.healthHomes.push(idOf(loc));
        dir.hhRoles.push(current);
      } else dir.lhcsa = idOf(loc);
    } else if (r.resourceType === 'PractitionerRole') {
      current?.push(idOf(loc));
    }
  });
  if (dir.plans.length !== PLANS || dir.healthHomes.length !== HEALTH_HOMES || !dir.lhcsa) throw new LoadError('directory incomplete');
  return dir;
}

// ---- members ------------------------------------------------------------------------------------------

interface MemberEntries {
  entries: BundleEntry[];
  /** Indexes (within entries) of the resources a MemberRef needs. */
  at: { patient: number; planTeam: number; hhTeam: number; carePlan: number };
  ref: Omit<MemberRef, 'patient' | 'planTeam' | 'hhTeam' | 'carePlan'>;
}

const NEEDS = [
  'Needs hands-on help with bathing, dressing and meal preparation after a stroke; lives alone. Depression stable, treated at an OMH clinic.',
  'Needs help with transfers and toileting (Parkinson disease); caregiver daughter works days. Anxiety disorder followed by a clinic.',
  'Needs supervision and meal preparation (mild cognitive impairment); bipolar disorder stable on medication.',
];

/** The 11 resources of member `index` (deterministic in the index) as transaction entries. */
export function memberEntries(index: number, dir: Directory): MemberEntries {
  const p = index % PLANS;
  const h = Math.floor(index / PLANS) % HEALTH_HOMES;
  const plan = dir.plans[p]!;
  const hh = dir.healthHomes[h]!;
  const leadRole = dir.planRoles[p]![index % ROLES_PER_ORG]!;
  const hhRole = dir.hhRoles[h]![Math.floor(index / 7) % ROLES_PER_ORG]!;
  const planRef: Reference<never> = { reference: `Organization/${plan}` };
  const hhRef: Reference<never> = { reference: `Organization/${hh}` };
  const leadRef: Reference<never> = { reference: `PractitionerRole/${leadRole}` };
  const hhRoleRef: Reference<never> = { reference: `PractitionerRole/${hhRole}` };
  const lhcsaRef: Reference<never> = { reference: `Organization/${dir.lhcsa}` };

  const entries: BundleEntry[] = [];
  const add = (resource: Resource): Reference<never> => {
    const fullUrl = `urn:uuid:${randomUUID()}`;
    entries.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
    return { reference: fullUrl };
  };
  const month = (index % 9) + 1; // enrolment months vary: Jan..Sep 2025
  const mm = pad(month, 2);
  const needs = NEEDS[index % NEEDS.length]!;
  const subject = add(
    patient({
      given: ['Carmen', 'James', 'Rosa', 'Walter', 'Mei', 'Luis'][index % 6]!,
      family: `Member${index}`,
      gender: index % 2 === 0 ? 'female' : 'male',
      birthDate: `19${40 + (index % 20)}-${pad((index % 12) + 1, 2)}-${pad((index % 28) + 1, 2)}`,
      medicaidId: { system: NY_CIN, value: `BM${pad(index, 8)}` },
      address: address(`${1 + (index % 2000)} Grand Concourse`, 'Bronx', 'NY', '10457'),
      phone: `+1-718-555-${pad(index % 10000, 4)}`,
    }),
  );
  add(enrolment({ patient: subject, program: program('ny-health-home', 'NY Health Home'), managingOrganization: hhRef, period: { start: '2024-10-01' }, careManager: hhRoleRef }));
  add(enrolment({ patient: subject, program: program('ny-mltcp', 'NY MLTC partial capitation'), managingOrganization: planRef, period: { start: `2025-${mm}-01` }, careManager: leadRef }));
  const form: QuestionnaireResponse = {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${CPC_FORM_URL}|2023-01`,
    status: 'completed',
    subject,
    authored: `2025-${mm}-15T15:30:00-05:00`,
    author: leadRef,
    item: [
      { linkId: 'plan', answer: [{ valueReference: planRef }] },
      { linkId: 'health-home', answer: [{ valueReference: hhRef }] },
      { linkId: 'appendix', answer: [{ valueString: 'A' }] },
      { linkId: 'primary-needs', answer: [{ valueString: needs }] },
      { linkId: 'lead-care-manager', answer: [{ valueReference: leadRef }] },
      { linkId: 'plan-agrees', answer: [{ valueBoolean: true }] },
      { linkId: 'hh-agrees', answer: [{ valueBoolean: true }] },
    ],
  };
  const basis = add(form);
  const planTeam = add(
    careTeam({
      name: 'MLTC care management team',
      subject,
      managingOrganization: planRef,
      start: `2025-${mm}-01`,
      reason: 'Coordination of long term care services and supports',
      participants: [
        {
          member: leadRef,
          start: `2025-${mm}-15`,
          scopes: ['ltc', 'care-transitions'],
          lead: { designatedBy: [planRef, hhRef], basis, reason: needs, date: `2025-${mm}-15` },
        },
      ],
    }),
  );
  const hhTeam = add(
    careTeam({
      name: 'Health Home care management team',
      subject,
      managingOrganization: hhRef,
      start: '2024-10-01',
      reason: 'Behavioral health and services outside the MLTC benefit package',
      participants: [{ member: hhRoleRef, start: '2024-10-01', scopes: ['bh-and-out-of-plan'] }],
    }),
  );
  const carePlan = add(
    serviceSplitPlan({
      title: 'Person-centered service plan with ASA Appendix A (MLTCP / Health Home)',
      description: 'In-plan long term care by the MLTCP; behavioral health and out-of-plan services by the Health Home.',
      appendix: 'A',
      parties: [planRef, hhRef],
      subject,
      start: `2025-${mm}-15`,
      author: leadRef,
      careTeams: [planTeam, hhTeam],
      activities: [
        { service: SERVICES.personalCare, benefit: 'in-plan', responsibleParty: planRef, description: 'Personal care aide, 20 hours per week' },
        { service: SERVICES.adultDay, benefit: 'in-plan', responsibleParty: planRef, description: 'Social adult day program, 2 days per week' },
        { service: SERVICES.meals, benefit: 'in-plan', responsibleParty: planRef, description: 'Home-delivered meals, 5 per week' },
        { service: SERVICES.pers, benefit: 'in-plan', responsibleParty: planRef, description: 'Personal emergency response system' },
        { service: SERVICES.bhCounseling, benefit: 'out-of-plan', responsibleParty: hhRef, description: 'Outpatient psychotherapy at an OMH-licensed clinic' },
        { service: SERVICES.peerSupport, benefit: 'out-of-plan', responsibleParty: hhRef, description: 'Peer support' },
      ],
    }),
  );
  const auth = { start: '2026-10-01', end: '2027-03-31' };
  add(serviceRequest({ subject, code: SERVICES.personalCare, category: 'community-ltss', requester: leadRef, occurrencePeriod: auth, authoredOn: '2026-09-24', basedOn: [carePlan], quantityRatio: perWeek(20, 'hours', 'h'), performer: [lhcsaRef] }));
  add(serviceRequest({ subject, code: SERVICES.adultDay, category: 'community-ltss', requester: leadRef, occurrencePeriod: auth, authoredOn: '2026-09-24', basedOn: [carePlan], quantityRatio: perWeek(2, 'days', 'd') }));
  add(serviceRequest({ subject, code: SERVICES.meals, category: 'community-ltss', requester: leadRef, occurrencePeriod: auth, authoredOn: '2026-09-24', basedOn: [carePlan], quantityRatio: perWeek(5, 'meals', '{meal}') }));
  add(dataSharingConsent({ patient: subject, date: `2025-${mm}-15`, organization: planRef, actors: [planRef, hhRef] }));
  return { entries, at: { patient: 0, planTeam: 4, hhTeam: 5, carePlan: 6 }, ref: { index, plan, healthHome: hh, leadRole, hhRole } };
}

// ---- the load loop ----------------------------------------------------------------------------------------

export interface LoadOptions {
  base: string;
  directory: Directory;
  /** Member indexes [startAt, startAt + members). */
  startAt: number;
  members: number;
  concurrency: number;
  membersPerBundle: number;
  /** Stop starting new bundles after this many seconds (a bound for long loads). */
  maxSeconds: number;
  /** Stop after a bundle fails this many times in total. */
  maxFailures?: number;
  progress?: (p: LoadProgress) => void;
  /** Milliseconds between progress callbacks. */
  progressEveryMs?: number;
}

export interface LoadProgress {
  members: number;
  resources: number;
  bundles: number;
  failures: number;
  seconds: number;
  resourcesPerSecond: number;
  /** Seconds left at the current rate (NaN before the first bundle). */
  etaSeconds: number;
  targetMembers: number;
}

export interface LoadResult extends LoadProgress {
  loaded: MemberRef[];
  /** Latency of each bundle (ms). */
  bundleMs: number[];
  errors: string[];
  stoppedBy: 'done' | 'time' | 'failures';
}

export async function loadMembers(o: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  const loaded: MemberRef[] = [];
  const bundleMs: number[] = [];
  const errors: string[] = [];
  let next = o.startAt;
  const end = o.startAt + o.members;
  let resources = 0;
  let bundles = 0;
  let failures = 0;
  let stoppedBy: LoadResult['stoppedBy'] = 'done';
  const maxFailures = o.maxFailures ?? 20;
  const snapshot = (): LoadProgress => {
    const seconds = (performance.now() - started) / 1000;
    const rate = resources / Math.max(seconds, 1e-9);
    const done = loaded.length;
    return {
      members: done,
      resources,
      bundles,
      failures,
      seconds,
      resourcesPerSecond: rate,
      etaSeconds: done > 0 ? ((o.members - done) * seconds) / done : Number.NaN,
      targetMembers: o.members,
    };
  };
  const timer = o.progress ? setInterval(() => o.progress?.(snapshot()), o.progressEveryMs ?? 2000) : undefined;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failures >= maxFailures) {
        stoppedBy = 'failures';
        return;
      }
      if ((performance.now() - started) / 1000 >= o.maxSeconds) {
        if (next < end) stoppedBy = 'time';
        return;
      }
      if (next >= end) return;
      const first = next;
      const count = Math.min(o.membersPerBundle, end - first);
      next += count;
      const parts = Array.from({ length: count }, (_, k) => memberEntries(first + k, o.directory));
      const entry = parts.flatMap((m) => m.entries);
      const t0 = performance.now();
      try {
        const locs = locations(await postBundle(o.base, { resourceType: 'Bundle', type: 'transaction', entry }));
        bundleMs.push(performance.now() - t0);
        let offset = 0;
        for (const m of parts) {
          loaded.push({
            ...m.ref,
            patient: idOf(locs[offset + m.at.patient]),
            planTeam: idOf(locs[offset + m.at.planTeam]),
            hhTeam: idOf(locs[offset + m.at.hhTeam]),
            carePlan: idOf(locs[offset + m.at.carePlan]),
          });
          offset += m.entries.length;
        }
        resources += entry.length;
        bundles++;
      } catch (err) {
        failures++;
        if (errors.length < 20) errors.push(`members ${first}..${first + count - 1}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  } finally {
    if (timer) clearInterval(timer);
  }
  return { ...snapshot(), loaded, bundleMs, errors, stoppedBy };
}

export function formatProgress(p: LoadProgress, label = 'load'): string {
  const eta = Number.isFinite(p.etaSeconds) ? `${Math.floor(p.etaSeconds / 60)}m${pad(Math.round(p.etaSeconds % 60), 2)}s` : '?';
  return (
    `[${label}] ${p.members}/${p.targetMembers} members, ${p.resources} resources, ${p.resourcesPerSecond.toFixed(0)} resources/s, ` +
    `${p.bundles} bundles, ${p.failures} failed, ${p.seconds.toFixed(0)} s, ETA ${eta}`
  );
}

// ---- CLI ------------------------------------------------------------------------------------------------

async function cli(): Promise<void> {
  const argv = process.argv.slice(2);
  const { value, num: number } = flags(argv);
  const num = (name: string, fallback: number, min: number): number => number(name, fallback, min, true);
  const base = (value('url') ?? process.env.CONCORD_URL ?? 'http://127.0.0.1:8080/fhir').replace(/\/+$/, '');
  if (!/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(`${base}/`)) throw new Error(`--url must point at 127.0.0.1, got ${base}`);
  const members = num('members', 100, 1);
  const directory = await loadDirectory(base);
  const tty = process.stderr.isTTY;
  const result = await loadMembers({
    base,
    directory,
    startAt: num('start-at', 0, 0),
    members,
    concurrency: num('concurrency', 4, 1),
    membersPerBundle: num('members-per-bundle', 1, 1),
    maxSeconds: num('max-seconds', 3600, 1),
    progress: (p) => process.stderr.write(tty ? `\r${formatProgress(p)}   ` : `${formatProgress(p)}\n`),
  });
  process.stderr.write(`${tty ? '\n' : ''}${formatProgress(result)} — stopped: ${result.stoppedBy}\n`);
  for (const e of result.errors) process.stderr.write(`  ${e}\n`);
  if (result.failures > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
