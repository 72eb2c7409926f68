// Random member records and batches for the selection tests (unit: selection-equivalence, storage:
// coordination-facts): teams with leads and scopes of many organizations, orders, plans, enrolments,
// opt-outs; creates, updates with status and period changes, deletes. Deterministic per seed.
import type { CarePlan, CareTeam, Organization, Period, Resource } from '@medplum/fhirtypes';
import type { ProgramCode } from '../../../src/coordination/codes.js';
import type { ProposedWrite } from '../../../src/coordination/engine.js';
import type { ParticipantSpec } from './builders.js';
import { careTeam, comprehensivePlan, create, episode, optOut, org, ORGS, PEOPLE, remove, ROLES, serviceRequest, splitPlan, update } from './builders.js';

/** Deterministic PRNG (mulberry32), so a failure names a reproducible seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private n = 0;
  constructor(
    readonly random: () => number,
    readonly f: Flavour,
  ) {}
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  some<T>(list: readonly T[], p: number): T[] {
    return list.filter(() => this.chance(p));
  }
  id(prefix: string): string {
    return `${prefix}-${++this.n}`;
  }
  // Few distinct dates, so that periods overlap, touch and nest often.
  period(): Period | undefined {
    if (this.chance(0.2)) return undefined;
    const days = ['2025-01-01', '2025-06-30', '2025-07-01', '2026-01-01', '2026-03-31', '2026-04-01', '2026-12-31'];
    const a = this.pick(days);
    const b = this.pick(days);
    const [start, end] = a <= b ? [a, b] : [b, a];
    if (this.chance(0.3)) return { start };
    if (this.chance(0.1)) return { end };
    return { start, end };
  }
}

const people = [...Object.values(ROLES), ...Object.values(PEOPLE)];
const services = ['T1019', 'S5170', 'H0004'];

/** Pools to draw from. The state-specific flavours make the rarer interactions (MN waivers, NY joint designation) common. */
interface Flavour {
  orgs: readonly Organization[];
  scopes: readonly string[];
  programs: readonly ProgramCode[];
  leadChance: number;
  /** Enrolments every record starts with (random periods), besides random ones. */
  enrolled: readonly ProgramCode[];
  writeTypes: readonly string[];
}
const FLAVOURS: readonly Flavour[] = [
  {
    orgs: [ORGS.mltcp, ORGS.map, ORGS.hh, ORGS.hh2, ORGS.aco, ORGS.mco, ORGS.ltssCp, ORGS.asap, ORGS.mnMco, ORGS.mnMco2, ORGS.county, ORGS.tribe],
    scopes: ['ltc', 'bh-and-out-of-plan', 'comprehensive', 'medical', 'ltss-navigation', 'waiver-case-management', 'care-transitions'],
    programs: ['ny-mltcp', 'ny-map', 'ny-health-home', 'ma-aco', 'mn-msho', 'mn-msc-plus', 'mn-snbc', 'mn-elderly-waiver', 'mn-disability-waiver'],
    leadChance: 0.35,
    enrolled: [],
    writeTypes: ['CareTeam', 'CareTeam', 'ServiceRequest', 'ServiceRequest', 'CarePlan', 'EpisodeOfCare', 'Consent'],
  },
  {
    orgs: [ORGS.mnMco, ORGS.mnMco2, ORGS.county, ORGS.tribe],
    scopes: ['waiver-case-management', 'waiver-case-management', 'comprehensive'],
    programs: ['mn-msho', 'mn-msc-plus', 'mn-elderly-waiver', 'mn-elderly-waiver', 'mn-disability-waiver'],
    leadChance: 0.5,
    enrolled: ['mn-msho', 'mn-elderly-waiver'],
    writeTypes: ['CareTeam', 'CareTeam', 'ServiceRequest', 'EpisodeOfCare'],
  },
  {
    orgs: [ORGS.mltcp, ORGS.map, ORGS.hh, ORGS.hh2],
    scopes: ['ltc', 'bh-and-out-of-plan'],
    programs: ['ny-mltcp', 'ny-health-home'],
    leadChance: 0.5,
    enrolled: ['ny-mltcp', 'ny-health-home'],
    writeTypes: ['CareTeam', 'CareTeam', 'CareTeam', 'CarePlan'],
  },
];

function randomTeam(g: Gen, id: string): CareTeam {
  const specs: ParticipantSpec[] = Array.from({ length: 1 + Math.floor(g.random() * 3) }, () => {
    const onBehalfOf = g.chance(0.8) ? g.pick(g.f.orgs) : undefined;
    const period = g.period();
    return {
      member: g.pick(people),
      ...(onBehalfOf ? { onBehalfOf } : {}),
      lead: g.chance(g.f.leadChance),
      designatedBy: g.some(g.f.orgs, 0.3),
      ...(g.chance(0.1) ? { designation: false as const } : {}),
      scopes: [...new Set(g.some(g.f.scopes, 0.3))],
      ...(period ? { period } : {}),
    };
  });
  const teamPeriod = g.period();
  const team = careTeam(id, specs, {
    status: g.pick(['active', 'active', 'proposed', 'suspended', 'inactive', 'entered-in-error'] as const),
    ...(teamPeriod ? { period: teamPeriod } : {}),
  });
  if (g.chance(0.4)) team.managingOrganization = [{ reference: `Organization/${g.pick(g.f.orgs).id ?? ''}` }];
  return team;
}

function randomRequest(g: Gen, id: string, existing: readonly Resource[]): Resource {
  const others = existing.filter((r) => r.resourceType === 'ServiceRequest');
  const period = g.period();
  const replaced = others.length > 0 && g.chance(0.15) ? g.pick(others) : undefined;
  return serviceRequest(id, {
    code: g.pick(services),
    requester: g.pick([...people, ...g.f.orgs]),
    intent: g.pick(['order', 'order', 'original-order', 'proposal', 'plan'] as const),
    status: g.pick(['active', 'active', 'on-hold', 'draft', 'completed', 'revoked', 'entered-in-error'] as const),
    ...(period ? { period } : { occurrenceDateTime: g.pick(['2025-07-01', '2026-04-01']) }),
    ...(g.chance(0.5) ? { category: g.pick(['hcbs-waiver', 'community-ltss', 'state-plan-ltss', 'behavioral-health']) } : {}),
    ...(g.chance(0.3) ? { basedOn: 'CarePlan/plan-1' } : {}),
    ...(replaced ? { replaces: `ServiceRequest/${replaced.id ?? ''}` } : {}),
  });
}

function randomPlan(g: Gen, id: string): CarePlan {
  const period = g.period() ?? { start: '2025-01-01' };
  const status = g.pick(['active', 'active', 'on-hold', 'completed', 'revoked'] as const);
  if (g.chance(0.5)) return comprehensivePlan(id, period, status);
  return splitPlan(id, {
    appendix: g.pick(['A', 'B', undefined] as const),
    parties: g.some([ORGS.mltcp, ORGS.map, ORGS.hh], 0.6),
    activities: services.filter(() => g.chance(0.6)).map((service) => ({ service, benefit: g.pick(['in-plan', 'out-of-plan']), party: g.pick([ORGS.mltcp, ORGS.hh]) })),
    status,
    period,
    comprehensive: g.chance(0.5),
  });
}

function randomResource(g: Gen, type: string, id: string, existing: readonly Resource[], program?: ProgramCode): Resource {
  switch (type) {
    case 'CareTeam':
      return randomTeam(g, id);
    case 'ServiceRequest':
      return randomRequest(g, id, existing);
    case 'CarePlan':
      return randomPlan(g, id);
    case 'EpisodeOfCare':
      return episode(id, program ?? g.pick(g.f.programs), g.pick(g.f.orgs), g.period() ?? {}, g.pick(['active', 'active', 'finished'] as const));
    default:
      return optOut(id, g.pick(g.f.orgs), g.pick(['2025-01-01', '2026-01-01']), g.pick(['active', 'inactive'] as const));
  }
}

const prefixOf: Record<string, string> = { CareTeam: 'team', ServiceRequest: 'sr', CarePlan: 'plan', EpisodeOfCare: 'ep', Consent: 'consent' };

export function scenario(seed: number): { stored: Resource[]; writes: ProposedWrite[] } {
  const g = new Gen(rng(seed), FLAVOURS[seed % FLAVOURS.length] as Flavour);
  const stored: Resource[] = [];
  const add = (type: string, program?: ProgramCode): void => {
    stored.push(randomResource(g, type, `${prefixOf[type] ?? 'x'}-${stored.length + 1}`, stored, program));
  };
  for (const program of g.f.enrolled) add('EpisodeOfCare', program);
  for (let i = 0; i < 4 + Math.floor(g.random() * 8); i++) add('CareTeam');
  for (let i = 0; i < 3 + Math.floor(g.random() * 8); i++) add('ServiceRequest');
  for (let i = 0; i < Math.floor(g.random() * 3); i++) add('CarePlan');
  for (let i = 0; i < Math.floor(g.random() * 4); i++) add('EpisodeOfCare');
  if (g.chance(0.3)) add('Consent');

  // Mostly team and request writes (what the selection serves), sometimes plans, enrolments, opt-outs.
  const writeTypes = g.f.writeTypes;
  const writes: ProposedWrite[] = [];
  const touched = new Set<string>();
  for (let i = 0; i < 1 + Math.floor(g.random() * 3); i++) {
    const type = g.pick(writeTypes);
    const candidates = stored.filter((r) => r.resourceType === type && !touched.has(r.id ?? ''));
    const op = candidates.length === 0 ? 'create' : g.pick(['create', 'create', 'update', 'update', 'delete'] as const);
    if (op === 'create') {
      writes.push(create(randomResource(g, type, g.id(`new-${prefixOf[type] ?? 'x'}`), stored)));
      continue;
    }
    const previous = g.pick(candidates);
    touched.add(previous.id ?? '');
    writes.push(op === 'delete' ? remove(previous) : update(randomResource(g, type, previous.id ?? '', stored), previous));
  }
  // Sometimes the batch also edits what the rules read besides the member's record: an organization's
  // role or a practitioner's qualifications (a transaction Bundle may carry both).
  if (g.chance(0.15)) {
    const o = g.pick(g.f.orgs);
    const role = g.pick(['mltcp-plan', 'health-home', 'mco', 'county', 'ltss-cp', 'aco'] as const);
    writes.push(update(org(o.id ?? '', role, o.name ?? ''), o));
  } else if (g.chance(0.1)) {
    const p = g.pick(Object.values(PEOPLE));
    writes.push(update({ ...p, qualification: [] }, p));
  }
  return { stored, writes };
}

