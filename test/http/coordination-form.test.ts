// $coordination-form over HTTP (authentication on, real PostgreSQL when available): the NY member's Care
// Planning and Coordination form as a FHIR document and as a printable page, with the same visibility as
// reading the member's records, and audited like a read.
import type { Bundle, CareTeam, Composition, CompositionSection, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessToken, bearer, registerClient, startAuthServer } from '../auth/support.js';
import { eventsFor } from '../audit/support.js';
import { clean, forMember } from '../e2e/coordination/support.js';
import { careTeam, episode, optOut, ORGS, PEOPLE, ROLES, serviceRequest, splitPlan } from '../unit/coordination/builders.js';
import type { TestServer } from '../support/server.js';

const M = 'cpc-1';
const OTHER = 'cpc-other';
const HOSTILE_NAME = '<script>alert("x")</script>';
const HOSTILE_REASON = "Primary needs: long term care </td><img src=x onerror=alert(1)> & 'more'";
const LATER = { start: '2026-08-01', end: '2030-12-31' };

let s: TestServer;
const tokens: Record<'admin' | 'plan' | 'hh' | 'outsider' | 'patientOnly', string> = { admin: '', plan: '', hh: '', outsider: '', patientOnly: '' };

function sharing(id: string, org: string): Resource {
  return {
    resourceType: 'Consent',
    id,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${M}` },
    policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
    provision: { type: 'permit', period: { start: '2026-01-01' }, actor: [{ role: { coding: [{ code: 'PRCP' }] }, reference: { reference: `Organization/${org}` } }] },
  };
}

function memberRecord(): Resource[] {
  const team = careTeam(
    `${M}-team`,
    [
      { member: ROLES.nyRnAtMltcp, onBehalfOf: ORGS.mltcp, lead: true, designatedBy: [ORGS.mltcp, ORGS.hh], scopes: ['ltc'] },
      { member: ROLES.nySwAtHh, onBehalfOf: ORGS.hh, scopes: ['bh-and-out-of-plan'] },
    ],
    { patient: M },
  );
  const reason = team.participant![0]!.extension![0]!.extension!.find((e) => e.url === 'reason')!;
  reason.valueString = HOSTILE_REASON;
  const plan = forMember(
    splitPlan(`${M}-plan`, {
      appendix: 'A',
      parties: [ORGS.mltcp, ORGS.hh],
      activities: [
        { service: 'T1019', benefit: 'in-plan', party: ORGS.mltcp },
        { service: 'G9001', benefit: 'out-of-plan', party: ORGS.hh },
      ],
    }),
    M,
  );
  plan.careTeam = [{ reference: `CareTeam/${M}-team` }];
  const basedOn = `CarePlan/${M}-plan`;
  // In the member's compartment and in another member's (a participant who is a member too): only who
  // sees both members sees it.
  const family: CareTeam = {
    resourceType: 'CareTeam',
    id: `${M}-family`,
    status: 'active',
    subject: { reference: `Patient/${M}` },
    participant: [{ member: { reference: `Patient/${OTHER}` }, period: { start: '2026-01-01' } }],
  };
  return [
    { resourceType: 'Patient', id: M, name: [{ family: HOSTILE_NAME, given: ['Ada'] }], birthDate: '1946-05-12', managingOrganization: { reference: `Organization/${ORGS.mltcp.id}` } },
    { resourceType: 'Patient', id: OTHER, name: [{ family: 'Hidden-Relative' }], managingOrganization: { reference: `Organization/${ORGS.hh2.id}` } },
    forMember(episode(`${M}-mltcp`, 'ny-mltcp', ORGS.mltcp), M),
    forMember(episode(`${M}-hh`, 'ny-health-home', ORGS.hh), M),
    team,
    plan,
    forMember(serviceRequest(`${M}-pcs-old`, { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn, category: 'community-ltss', period: { start: '2026-02-01', end: '2026-07-31' } }), M),
    forMember(serviceRequest(`${M}-pcs`, { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn, category: 'community-ltss', period: LATER }), M),
    forMember(serviceRequest(`${M}-hhcm`, { code: 'G9001', requester: ORGS.hh, basedOn, category: 'care-management', period: LATER }), M),
    forMember(serviceRequest(`${M}-pcs-done`, { code: 'T1019', requester: ROLES.nyRnAtMltcp, basedOn, category: 'community-ltss', status: 'completed', period: LATER }), M),
    { ...forMember(episode(`${M}-map-old`, 'ny-map', ORGS.map), M), status: 'finished' },
    forMember(optOut(`${M}-optout`, ORGS.ltssCp, '2026-01-01'), M),
    sharing(`${M}-share`, ORGS.hh2.id!),
    family,
  ];
}

const as = (token: string, url: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET', payload?: unknown) =>
  s.request({ method, url, headers: { ...bearer(token), ...(payload ? { 'content-type': 'application/fhir+json' } : {}), ...headers }, ...(payload ? { payload: payload } : {}) });

const FORM = `/fhir/Patient/${M}/$coordination-form`;

beforeAll(async () => {
  s = await startAuthServer();
  const token = async (id: string, organization?: string, scopes = 'system/*.cruds') =>
    accessToken(s, await registerClient(s, id, { scopes, ...(organization ? { organization } : {}) }), scopes);
  tokens.admin = await token('cpc-admin');
  tokens.plan = await token('cpc-plan', `Organization/${ORGS.mltcp.id}`);
  tokens.hh = await token('cpc-hh', `Organization/${ORGS.hh.id}`);
  tokens.outsider = await token('cpc-outsider', `Organization/${ORGS.aco.id}`);
  tokens.patientOnly = await token('cpc-patient-only', `Organization/${ORGS.mltcp.id}`, 'system/Patient.r');
  for (const r of [...Object.values(ORGS), ...Object.values(PEOPLE), ...Object.values(ROLES), ...memberRecord()]) {
    const res = await s.request({ method: 'PUT', url: `/fhir/${r.resourceType}/${r.id!}`, payload: clean(r), headers: { ...bearer(tokens.admin), 'content-type': 'application/fhir+json' } });
    if (res.statusCode >= 300) throw new Error(`seeding ${r.resourceType}/${r.id!}: ${res.statusCode} ${res.body}`);
  }
});
afterAll(async () => s.close());

function document(res: LightMyRequestResponse): { bundle: Bundle; composition: Composition; section: (title: string) => CompositionSection; refs: string[] } {
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  const bundle = JSON.parse(res.body) as Bundle;
  const composition = bundle.entry![0]!.resource as Composition;
  return {
    bundle,
    composition,
    section: (title) => {
      const found = composition.section!.find((x) => x.title === title);
      expect(found, title).toBeDefined();
      return found!;
    },
    refs: bundle.entry!.slice(1).map((e) => `${e.resource!.resourceType}/${e.resource!.id!}`),
  };
}

const entries = (section: CompositionSection) => (section.entry ?? []).map((e) => e.reference);

describe('$coordination-form as a FHIR document', () => {
  it('holds every section of the member\'s current coordination record, with the right values', async () => {
    const { bundle, composition, section, refs } = document(await as(tokens.plan, FORM));
    expect(bundle.type).toBe('document');
    expect(bundle.identifier?.value).toMatch(/^urn:uuid:/);
    expect(bundle.timestamp).toBeDefined();
    expect(composition.resourceType).toBe('Composition');
    expect(composition.subject?.reference).toBe(`Patient/${M}`);
    expect(composition.title).toBe('Care Planning and Coordination form');
    expect(composition.section!.map((x) => x.title)).toEqual(['Member', 'Lead care manager', 'Care team', 'Service split (ASA appendix)', 'Service requests', 'Consents and opt-outs']);
    for (const x of composition.section!) {
      expect(x.text?.status).toBe('generated');
      expect(x.text?.div).toMatch(/^<div xmlns="http:\/\/www.w3.org\/1999\/xhtml">/);
    }

    const member = section('Member');
    expect(entries(member)).toEqual([`Patient/${M}`, `EpisodeOfCare/${M}-mltcp`, `EpisodeOfCare/${M}-hh`]);
    expect(member.text!.div).toContain('ny-mltcp: VNS Health MLTC');
    expect(member.text!.div).toContain('ny-health-home: Coordinated Behavioral Care Health Home');

    const lead = section('Lead care manager');
    expect(entries(lead)).toEqual([`CareTeam/${M}-team`]);
    const leadDiv = lead.text!.div;
    expect(leadDiv).toContain('ny-rn-alvarez (VNS Health MLTC) [PractitionerRole/ny-rn-alvarez-vns]');
    expect(leadDiv).toContain('VNS Health MLTC [Organization/ny-vns-mltc]; Coordinated Behavioral Care Health Home [Organization/ny-cbc-hh]');
    expect(leadDiv).toContain('QuestionnaireResponse/cpc-form-1');
    expect(leadDiv).toContain('2026-01-05');
    expect(leadDiv).toContain('Primary needs: long term care &lt;/td&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;more&#39;');

    const team = section('Care team').text!.div;
    expect(team).toContain('<td>ltc</td>');
    expect(team).toContain('<td>bh-and-out-of-plan</td>');
    expect(team).toContain('ny-sw-okafor (Coordinated Behavioral Care Health Home) [PractitionerRole/ny-sw-okafor-cbc]');
    expect(team).toContain('lead-care-manager');
    expect(team).toContain('from 2026-01-01, ongoing');

    const split = section('Service split (ASA appendix)');
    expect(entries(split)).toEqual([`CarePlan/${M}-plan`]);
    // The plan, its appendix and its parties are shown once, spanning its services' rows.
    expect(split.text!.div).toMatch(new RegExp(`<td rowspan="(\\d+)">CarePlan/${M}-plan \\(active\\)</td><td rowspan="\\1">A</td>`));
    expect(split.text!.div.split(`CarePlan/${M}-plan (active)`)).toHaveLength(2);
    expect(split.text!.div).toContain('<td>HCPCS T1019</td><td>in-plan</td><td>VNS Health MLTC [Organization/ny-vns-mltc]</td>');
    expect(split.text!.div).toContain('<td>HCPCS G9001</td><td>out-of-plan</td><td>Coordinated Behavioral Care Health Home [Organization/ny-cbc-hh]</td>');

    const requests = section('Service requests');
    // The request that ended in July is not current, nor is the completed one.
    expect(entries(requests)).toEqual([`ServiceRequest/${M}-pcs`, `ServiceRequest/${M}-hhcm`]);
    expect(requests.text!.div).toContain('<td>HCPCS T1019</td><td>community-ltss</td><td>active</td><td>order</td><td>ny-rn-alvarez (VNS Health MLTC) [PractitionerRole/ny-rn-alvarez-vns]</td><td>from 2026-08-01 to 2030-12-31</td>');

    const consents = section('Consents and opt-outs');
    expect(entries(consents)).toEqual([`Consent/${M}-optout`, `Consent/${M}-share`]);
    expect(consents.text!.div).toContain('<td>Program opt-out</td><td>Boston Senior Home Care LTSS CP [Organization/ma-bshc-cp]</td><td>from 2026-01-01, ongoing</td>');
    expect(consents.text!.div).toContain('<td>Data sharing</td><td>Community Care Management Partners Health Home [Organization/ny-cmo-hh]</td>');

    // The resources themselves follow the Composition, with their server URLs.
    expect(refs).toEqual(expect.arrayContaining([`Patient/${M}`, `CareTeam/${M}-team`, `CarePlan/${M}-plan`, 'Organization/ny-vns-mltc', 'PractitionerRole/ny-rn-alvarez-vns', 'Practitioner/ny-rn-alvarez']));
    for (const past of [`ServiceRequest/${M}-pcs-old`, `ServiceRequest/${M}-pcs-done`, `EpisodeOfCare/${M}-map-old`]) expect(refs).not.toContain(past);
    expect(bundle.entry![1]!.fullUrl).toBe(`http://concord.test/fhir/Patient/${M}`);
    // The document is valid R4 (narrative XHTML included), as this server's own $validate judges it.
    const valid = await as(tokens.admin, '/fhir/Bundle/$validate', {}, 'POST', bundle);
    const issues = (JSON.parse(valid.body) as OperationOutcome).issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    expect(issues, valid.body).toEqual([]);
  });

  it('date shows the record in force on that day; POST takes it in a Parameters body', async () => {
    const get = document(await as(tokens.plan, `${FORM}?date=2026-03-01`));
    expect(entries(get.section('Service requests'))).toEqual([`ServiceRequest/${M}-pcs-old`]);
    expect(get.composition.event?.[0]?.period).toEqual({ start: '2026-03-01', end: '2026-03-01' });
    const post = document(await as(tokens.plan, FORM, {}, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'date', valueDate: '2026-03-01' }] }));
    expect(entries(post.section('Service requests'))).toEqual([`ServiceRequest/${M}-pcs-old`]);
    const form = await s.request({ method: 'POST', url: FORM, headers: { ...bearer(tokens.plan), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'date=2026-03-01' });
    expect(entries(document(form).section('Service requests'))).toEqual([`ServiceRequest/${M}-pcs-old`]);
    // Before anything started: every section is empty, and says so.
    const before = document(await as(tokens.plan, `${FORM}?date=2020-01-01`));
    expect(entries(before.section('Lead care manager'))).toEqual([]);
    expect(before.section('Lead care manager').emptyReason?.coding?.[0]?.code).toBe('nilknown');
    expect(before.section('Lead care manager').text!.div).toContain('None in force.');
  });
});

describe('$coordination-form as a printable page', () => {
  it('answers HTML for Accept: text/html and _format=html, every value escaped, under a strict CSP', async () => {
    const browser = await as(tokens.plan, FORM, { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    const format = await as(tokens.plan, `${FORM}?_format=html`);
    for (const res of [browser, format]) {
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
      expect(csp).not.toContain('unsafe');
      const html = res.body;
      expect(html).toMatch(/^<!DOCTYPE html>/);
      // Nothing runs and nothing is fetched: no script, no external asset of any kind.
      expect(html).not.toMatch(/<(script|img|link|iframe|object|embed|base)\b/i);
      expect(html).not.toMatch(/<[^>]*\s(src|href|on[a-z]+)=/i);
      expect(html).not.toMatch(/url\(|@import/i);
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
      expect(html).toContain('&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &#39;more&#39;');
      for (const title of ['Member', 'Lead care manager', 'Care team', 'Service split (ASA appendix)', 'Service requests', 'Consents and opt-outs', 'Signatures']) {
        expect(html).toContain(`<h2>${title}</h2>`);
      }
      expect(html).toContain('@page');
      // Both ASA parties sign.
      expect(html).toContain('<span>VNS Health MLTC [Organization/ny-vns-mltc]: signature</span>');
      expect(html).toContain('<span>Coordinated Behavioral Care Health Home [Organization/ny-cbc-hh]: signature</span>');
      expect(html).toMatch(/Generated at \d{4}-\d{2}-\d{2}T[\d:.]+Z by http:\/\/concord.test\/fhir/);
    }
    // A JSON client still gets the document.
    expect((await as(tokens.plan, FORM, { accept: 'application/fhir+json' })).headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect((await as(tokens.plan, FORM, { accept: 'application/xml' })).statusCode).toBe(406);
  });
});

describe('$coordination-form access', () => {
  it('an organization without access to the member gets what a read gets, and no data', async () => {
    const read = await as(tokens.outsider, `/fhir/Patient/${M}`);
    const unknownForm = await as(tokens.outsider, '/fhir/Patient/nobody/$coordination-form');
    for (const res of [await as(tokens.outsider, FORM), await as(tokens.outsider, `${FORM}?_format=html`)]) {
      expect(res.statusCode).toBe(read.statusCode);
      expect(res.statusCode).toBe(404);
      const outcome = JSON.parse(res.body) as OperationOutcome;
      expect(outcome.issue[0]!.code).toBe((JSON.parse(unknownForm.body) as OperationOutcome).issue[0]!.code);
      expect(res.body).not.toMatch(/alert|VNS|cpc-1-team|T1019/);
    }
  });

  it('an entry in another member\'s record the caller cannot see is left out', async () => {
    expect((await as(tokens.plan, `/fhir/CareTeam/${M}-family`)).statusCode).toBe(404);
    const plan = await as(tokens.plan, FORM);
    expect(plan.body).not.toContain(`${M}-family`);
    expect(plan.body).not.toContain(OTHER);
    expect((await as(tokens.plan, `${FORM}?_format=html`)).body).not.toContain(OTHER);
    // Who sees both members sees it.
    const admin = document(await as(tokens.admin, FORM));
    expect(entries(admin.section('Care team'))).toContain(`CareTeam/${M}-family`);
    expect(admin.section('Care team').text!.div).toContain(`Patient/${OTHER}`);
  });

  it('needs search on the record\'s types, not only Patient read', async () => {
    expect((await as(tokens.patientOnly, `/fhir/Patient/${M}`)).statusCode).toBe(200);
    const res = await as(tokens.patientOnly, FORM);
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('system/EpisodeOfCare.s');
  });
});

describe('$coordination-form errors', () => {
  it('404 OperationOutcome for an unknown member', async () => {
    const res = await as(tokens.admin, '/fhir/Patient/nobody/$coordination-form');
    expect(res.statusCode).toBe(404);
    expect((JSON.parse(res.body) as OperationOutcome).issue[0]!.code).toBe('not-found');
  });

  it('400 OperationOutcome for bad parameters', async () => {
    for (const [url, method, body] of [
      [`${FORM}?date=2026-13-45`, 'GET'],
      [`${FORM}?date=2026-03`, 'GET'],
      [`${FORM}?date=2026-03-01T00:00:00Z`, 'GET'],
      [`${FORM}?date=2026-03-01&date=2026-03-02`, 'GET'],
      [`${FORM}?dat=2026-03-01`, 'GET'],
      [FORM, 'POST', { resourceType: 'Patient' }],
      [FORM, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'date', valueDate: 'soon' }] }],
      [FORM, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'date', valueInteger: 3 }] }],
      [FORM, 'POST', { resourceType: 'Parameters', parameter: [null] }],
      [FORM, 'POST', { resourceType: 'Parameters', parameter: [{ name: 'date' }, 7] }],
      [FORM, 'POST', { resourceType: 'Parameters', parameter: { name: 'date', valueDate: 'soon' } }],
    ] as const) {
      const res = await as(tokens.plan, url, {}, method, body);
      expect(res.statusCode, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
      const outcome = JSON.parse(res.body) as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue[0]!.code).toBe('invalid');
    }
  });
});

describe('$coordination-form is advertised', () => {
  it('in the CapabilityStatement (on Patient) and the OpenAPI document (GET and POST on an instance)', async () => {
    const capability = JSON.parse((await s.request({ method: 'GET', url: '/fhir/metadata' })).body) as { rest: { resource: { type: string; operation?: { name: string; definition: string }[] }[] }[] };
    const patient = capability.rest[0]!.resource.find((r) => r.type === 'Patient')!;
    expect(patient.operation).toContainEqual(expect.objectContaining({ name: 'coordination-form', definition: 'https://concord-fhir.org/fhir/OperationDefinition/coordination-form' }));
    expect(capability.rest[0]!.resource.find((r) => r.type === 'CareTeam')!.operation?.map((o) => o.name)).not.toContain('coordination-form');
    const doc = JSON.parse((await s.request({ method: 'GET', url: '/fhir/openapi.json' })).body) as { paths: Record<string, Record<string, { parameters?: { name?: string; $ref?: string }[]; responses: Record<string, { content?: Record<string, unknown> }> }>> };
    const path = doc.paths['/Patient/{id}/$coordination-form']!;
    expect(Object.keys(path).sort()).toEqual(['get', 'post']);
    expect(path.get!.parameters?.map((p) => p.name ?? p.$ref)).toEqual(['#/components/parameters/id', 'date', '_format']);
    expect(Object.keys(path.get!.responses['200']!.content!)).toContain('text/html');
    expect(doc.paths['/Patient/$coordination-form']).toBeUndefined();
  });
});

describe('$coordination-form audit', () => {
  it('writes one AuditEvent like a read: the member and every resource the form showed, no more', async () => {
    const before = (await eventsFor(s, `Patient/${M}`)).length;
    await as(tokens.hh, FORM);
    const events = await eventsFor(s, `Patient/${M}`);
    expect(events.length).toBe(before + 1);
    const event = events.at(-1)!;
    expect(event.action).toBe('R');
    expect(event.subtype?.map((c) => c.code)).toEqual(['read', 'coordination-form']);
    expect(event.agent?.some((a) => a.who?.reference === `Organization/${ORGS.hh.id}`)).toBe(true);
    const what = (event.entity ?? []).map((e) => e.what?.reference);
    expect(what).toEqual(expect.arrayContaining([`Patient/${M}/_history/1`, `CareTeam/${M}-team/_history/1`, `CarePlan/${M}-plan/_history/1`, `ServiceRequest/${M}-pcs/_history/1`, `Consent/${M}-optout/_history/1`]));
    expect(what.some((w) => w?.includes(`${M}-family`) || w?.includes(`${M}-pcs-old`))).toBe(false);
    // The event holds references, never the form or the resources' content.
    expect(JSON.stringify(event)).not.toContain('alert');
  });
});
