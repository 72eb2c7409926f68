// A small vocabulary for writing the Postman collection (v2.1) in TypeScript: requests, the clients they
// act as, and the pm.test assertions they carry. The collection JSON under postman/ is generated from it
// (`npm run postman:build`) and committed, so Postman users import a plain file.

export const CONCORD = 'https://concord-fhir.org/fhir';
export const RULE_SYSTEM = `${CONCORD}/CodeSystem/rule`;
export const FHIR_JSON = 'application/fhir+json';

/** Who a request acts as: the administrative client, one organization's client, or nobody. */
export interface Actor {
  /** Variable prefix: `<key>ClientId`, `<key>ClientSecret`, `<key>Token`. */
  key: string;
  /** What the Token request says it is. */
  label: string;
  /** The organization the client is registered for (undefined: administrative). */
  organization?: string;
}

export const ADMIN: Actor = { key: 'admin', label: 'the administrative client' };

export interface Request {
  name: string;
  /** Why a care manager (or their system) would send it, in plain words. Markdown. */
  description: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Relative to {{baseUrl}} (`Patient?name=x`), or a whole URL starting with `{{`. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Form fields (the token endpoint). */
  form?: Record<string, string>;
  /** Default: the collection's OAuth 2.0 (administrative client). */
  as?: Actor | 'none' | { basic: Actor };
  /** Lines of the test script (pm.test calls). */
  tests: string[];
}

export interface Folder {
  name: string;
  description: string;
  items: Request[];
}

const js = (v: unknown): string => JSON.stringify(v);

// ---- assertions ----------------------------------------------------------------------------------------

export const status = (code: number): string => `pm.test(${js(`status ${code}`)}, function () { pm.response.to.have.status(${code}); });`;

/** A test with its own body lines. */
export const test = (name: string, ...lines: string[]): string => [`pm.test(${js(name)}, function () {`, ...lines.map((l) => `  ${l}`), '});'].join('\n');

export const json = 'const body = pm.response.json();';

/**
 * The refusal of a coordination rule: the status, an OperationOutcome whose issue carries the rule id in
 * details.coding (system and code), the issue code, an expression and diagnostics naming the holder.
 * `diagnosticsInclude` are strings the diagnostics must mention (e.g. the resource already holding the role).
 */
export function refused(rule: string, options: { status?: number; code?: string; expression?: string; diagnosticsInclude?: string[] } = {}): string {
  const st = options.status ?? 422;
  const lines = [
    `pm.response.to.have.status(${st});`,
    json,
    `pm.expect(body.resourceType).to.eql('OperationOutcome');`,
    `const issue = body.issue.find(function (i) { return ((i.details || {}).coding || []).some(function (c) { return c.system === ${js(RULE_SYSTEM)} && c.code === ${js(rule)}; }); });`,
    `pm.expect(issue, 'an issue carrying rule ${rule}').to.be.an('object');`,
    `pm.expect(issue.severity).to.eql('error');`,
    `pm.expect(issue.code).to.eql(${js(options.code ?? 'business-rule')});`,
    `pm.expect(issue.details.text, 'what to do, in words').to.be.a('string').and.not.empty;`,
    options.expression ? `pm.expect(issue.expression).to.include(${js(options.expression)});` : `pm.expect(issue.expression).to.be.an('array').and.not.empty;`,
    `pm.expect(issue.diagnostics).to.be.a('string');`,
    ...(options.diagnosticsInclude ?? []).map((s) => `pm.expect(issue.diagnostics).to.include(${s.startsWith('pm.') ? s : js(s)});`),
  ];
  return test(`${st}: refused with rule ${rule}`, ...lines);
}

/** A plain FHIR error (not a rule): status and issue code. */
export const outcome = (st: number, code: string): string =>
  test(`${st} with an OperationOutcome (${code})`, `pm.response.to.have.status(${st});`, json, `pm.expect(body.resourceType).to.eql('OperationOutcome');`, `pm.expect(body.issue[0].code).to.eql(${js(code)});`);

/** A transaction-response whose entries all have the given status. */
export const transactionAll = (entryStatus: string, count: number): string =>
  test(
    `transaction-response with ${count} entries, each ${entryStatus}`,
    `pm.response.to.have.status(200);`,
    json,
    `pm.expect(body.type).to.eql('transaction-response');`,
    `pm.expect(body.entry).to.have.lengthOf(${count});`,
    `body.entry.forEach(function (e) { pm.expect(e.response.status).to.match(/^${entryStatus}/); });`,
  );

/** A PUT that created the resource under the id it names: Location is version 1 of that URL. */
export const createdHere = test(
  'created under the id sent (Location, version 1)',
  `pm.expect(pm.response.headers.get('Location')).to.include(pm.request.url.getPath() + '/_history/1');`,
  json,
  `pm.expect(pm.request.url.getPath()).to.match(new RegExp('/' + body.resourceType + '/' + body.id + '$'));`,
);

/** Stores body.id in a collection variable. */
export const saveId = (variable: string): string =>
  test(`keeps the new id in {{${variable}}}`, json, `pm.expect(body.id).to.be.a('string');`, `pm.collectionVariables.set(${js(variable)}, body.id);`);

// ---- resource pieces ------------------------------------------------------------------------------------

export const profile = (id: string) => ({ profile: [`${CONCORD}/StructureDefinition/${id}`] });
export const coding = (cs: string, code: string, display?: string) => ({ system: `${CONCORD}/CodeSystem/${cs}`, code, ...(display ? { display } : {}) });
export const concept = (cs: string, code: string, display?: string) => ({ coding: [coding(cs, code, display)] });
export const ref = (reference: string) => ({ reference });
export const HCPCS = 'http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets';
export const NUCC = 'http://nucc.org/provider-taxonomy';
export const hcpcs = (code: string, display: string) => ({ coding: [{ system: HCPCS, code, display }] });

export const scope = (code: string) => ({ url: `${CONCORD}/StructureDefinition/coordination-scope`, valueCoding: coding('coordination-scope', code) });

export function leadDesignation(d: { designatedBy: string[]; basis: string; reason: string; date: string }) {
  return {
    url: `${CONCORD}/StructureDefinition/lead-designation`,
    extension: [
      ...d.designatedBy.map((o) => ({ url: 'designatedBy', valueReference: ref(o) })),
      { url: 'basis', valueReference: ref(d.basis) },
      { url: 'reason', valueString: d.reason },
      { url: 'date', valueDate: d.date },
    ],
  };
}

export const LEAD_ROLE = [concept('care-team-role', 'lead-care-manager')];

export function organization(id: string, name: string, role: string) {
  return { resourceType: 'Organization', id, name, active: true, type: [concept('organization-role', role)] };
}

export function enrolment(id: string, patient: string, program: string, org: string, start: string) {
  return {
    resourceType: 'EpisodeOfCare',
    id,
    status: 'active',
    type: [concept('program', program)],
    patient: ref(`Patient/${patient}`),
    managingOrganization: ref(`Organization/${org}`),
    period: { start },
  };
}

/** A transaction Bundle of PUTs (client-chosen ids). */
export type Resource = { resourceType: string; id: string; [key: string]: unknown };

export function putBundle(resources: Resource[]) {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({ request: { method: 'PUT', url: `${r.resourceType}/${r.id}` }, resource: r })),
  };
}

export const put = (resource: Resource): Pick<Request, 'method' | 'url' | 'body'> => ({
  method: 'PUT',
  url: `${resource.resourceType}/${resource.id}`,
  body: resource,
});

/** The request that gets an access token with a client secret (client_secret_basic) for one actor. */
export function tokenRequest(actor: Actor, why: string): Request {
  return {
    name: `Get a token for ${actor.label}`,
    description: `${why}\n\nOAuth 2.0 client credentials (SMART Backend Services) with a client secret sent as HTTP Basic (\`{{${actor.key}ClientId}}\` / \`{{${actor.key}ClientSecret}}\`): the same exchange Postman's own OAuth 2.0 helper performs (Authorization tab → Get New Access Token). The token is kept in \`{{${actor.key}Token}}\`; it lives five minutes, so run this again when requests start answering 401.`,
    method: 'POST',
    url: '{{tokenUrl}}',
    form: { grant_type: 'client_credentials', scope: 'system/*.cruds' },
    as: { basic: actor },
    tests: [
      status(200),
      test(
        'a bearer token with the granted scopes',
        json,
        `pm.expect(body.token_type.toLowerCase()).to.eql('bearer');`,
        `pm.expect(body.access_token).to.be.a('string').and.not.empty;`,
        `pm.expect(body.expires_in).to.be.a('number').and.above(0);`,
        `pm.expect(body.scope.split(' ')).to.include('system/*.cruds');`,
        `pm.collectionVariables.set(${js(`${actor.key}Token`)}, body.access_token);`,
      ),
    ],
  };
}
