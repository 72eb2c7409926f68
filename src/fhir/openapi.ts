// An OpenAPI 3.0 description of the REST surface, derived from the CapabilityStatement the server
// serves at /metadata (resource types, interactions, search parameters, operations, profiles, the SMART
// token endpoint): nothing here is written per resource type, so the two cannot disagree.
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;

const SMART_OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';
const FHIR_JSON = 'application/fhir+json';

/** The scope permission each interaction needs (src/auth/authorize.ts). */
const SCOPE_OF: Record<string, string> = {
  read: 'r',
  vread: 'r',
  'history-instance': 'r',
  'search-type': 's',
  'history-type': 's',
  create: 'c',
  update: 'u',
  patch: 'u',
  delete: 'd',
};

const ref = (kind: 'parameters' | 'responses' | 'schemas' | 'requestBodies', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** The FHIR JSON body of a response or request: any resource, checked by the server (profiles in the tag). */
function fhirContent(schema: string): Json {
  return { [FHIR_JSON]: { schema: ref('schemas', schema) }, 'application/json': { schema: ref('schemas', schema) } };
}

/** A success response: one shared component per body kind keeps the document small (~150 types). */
function ok(_description: string, schema: 'Resource' | 'Bundle' | 'OperationOutcome' | 'Created' = 'Resource'): Json {
  return ref('responses', schema);
}

function errors(...codes: string[]): Json {
  return Object.fromEntries(codes.map((c) => [c, ref('responses', `E${c}`)]));
}

function scopeNote(type: string, interaction: string, extra = ''): string {
  const p = SCOPE_OF[interaction];
  return p ? `Scope: \`system/${type}.${p}\`${extra}.` : '';
}

interface Op {
  summary: string;
  description?: string;
  interaction: string;
  parameters?: Json[];
  requestBody?: Json;
  responses: Json;
}

function operation(type: string, tag: string, op: Op, secured: boolean, variant: string): Json {
  const note = secured ? scopeNote(type, op.interaction) : '';
  const description = [op.description, note].filter((t) => t).join('\n\n');
  return {
    tags: [tag],
    summary: op.summary,
    operationId: `${op.interaction}-${type}${variant}`.replace(/[^A-Za-z0-9_-]/g, '_'),
    ...(description ? { description } : {}),
    ...(op.parameters?.length ? { parameters: op.parameters } : {}),
    ...(op.requestBody ? { requestBody: op.requestBody } : {}),
    responses: op.responses,
  };
}

/** `<Type>.<name>` component parameters: each type's search parameters, defined once, referred to by its searches. */
function searchParameterComponents(resources: CapabilityStatementRestResource[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const r of resources) {
    for (const p of r.searchParam ?? []) {
      out[`${r.type}.${p.name}`] = { name: p.name, in: 'query', required: false, description: `${p.type ?? ''} search parameter${p.documentation ? `: ${p.documentation}` : ''}`, schema: { type: 'string' } };
    }
  }
  return out;
}

function searchParameters(resource: CapabilityStatementRestResource): Json[] {
  return (resource.searchParam ?? []).map((p) => ref('parameters', `${resource.type}.${p.name}`));
}

const CRITERIA = { name: 'criteria', in: 'query', required: true, description: 'Search criteria: any search parameter of the type (as for its search), e.g. identifier=system|value', style: 'form', explode: true, schema: { type: 'object', additionalProperties: { type: 'string' } } };

const RESULT_PARAMETERS = ['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total'].map((n) => ref('parameters', n));

/** The paths of one resource type, for the interactions and operations the CapabilityStatement lists. */
function typePaths(resource: CapabilityStatementRestResource, secured: boolean): Record<string, Json> {
  const type = resource.type;
  const has = new Set((resource.interaction ?? []).map((i) => i.code));
  const profiles = resource.supportedProfile ?? [];
  const profileNote = profiles.length ? `Concord profiles: ${profiles.join(', ')}.` : undefined;
  const paths: Record<string, Json> = {};
  const add = (path: string, method: string, op: Op) => {
    // Two paths serve search (GET and POST _search) and $validate (type and instance level).
    // Type-level PUT and DELETE are the conditional forms.
    const variant = path.endsWith('/_search') ? '-post' : /\{id\}\/\$/.test(path) ? '-instance' : path === `/${type}` && (method === 'put' || method === 'delete') ? '-conditional' : '';
    paths[path] = { ...(paths[path] ?? {}), [method]: operation(type, type, op, secured, variant) };
  };
  const body = (_description: string): Json => ref('requestBodies', 'Resource');
  const search = searchParameters(resource);

  if (has.has('search-type')) {
    add(`/${type}`, 'get', { summary: `Search ${type}`, interaction: 'search-type', parameters: [...search, ...RESULT_PARAMETERS], responses: { 200: ok('A searchset Bundle', 'Bundle'), ...errors('400', '401', '403') } });
    add(`/${type}/_search`, 'post', {
      summary: `Search ${type} (parameters in a form body)`,
      interaction: 'search-type',
      requestBody: { required: false, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } } } },
      responses: { 200: ok('A searchset Bundle', 'Bundle'), ...errors('400', '401', '403') },
    });
  }
  if (has.has('create')) {
    const conditional = resource.conditionalCreate ? [ref('parameters', 'If-None-Exist')] : [];
    add(`/${type}`, 'post', {
      summary: `Create a ${type}${resource.conditionalCreate ? ' (conditional with If-None-Exist)' : ''}`,
      interaction: 'create',
      ...(profileNote ? { description: profileNote } : {}),
      parameters: [...conditional, ref('parameters', 'Prefer')],
      requestBody: body(`A ${type} resource`),
      responses: { 200: ok('An existing resource matched If-None-Exist'), 201: ok('Created', 'Created'), ...errors('400', '401', '403', '409', '412', '422') },
    });
  }
  if (has.has('update') && resource.conditionalUpdate) {
    add(`/${type}`, 'put', { summary: `Conditional update of a ${type} ([type]?criteria)`, interaction: 'update', description: 'The query string holds the search criteria; one match is updated, none creates.', parameters: [CRITERIA, ref('parameters', 'If-Match')], requestBody: body(`A ${type} resource`), responses: { 200: ok('Updated'), 201: ok('Created', 'Created'), ...errors('400', '401', '403', '412', '422') } });
  }
  if (has.has('delete') && resource.conditionalDelete && resource.conditionalDelete !== 'not-supported') {
    add(`/${type}`, 'delete', { summary: `Conditional delete of a ${type} ([type]?criteria)`, interaction: 'delete', parameters: [CRITERIA], responses: { 200: ok('Nothing matched, or an OperationOutcome was asked for', 'OperationOutcome'), 204: { description: 'Deleted' }, ...errors('400', '401', '403', '412') } });
  }
  if (has.has('history-type')) {
    add(`/${type}/_history`, 'get', { summary: `History of all ${type} resources`, interaction: 'history-type', parameters: [ref('parameters', '_count'), ref('parameters', '_since')], responses: { 200: ok('A history Bundle', 'Bundle'), ...errors('401', '403') } });
  }
  const id = ref('parameters', 'id');
  if (has.has('read')) add(`/${type}/{id}`, 'get', { summary: `Read a ${type}`, interaction: 'read', parameters: [id, ref('parameters', '_summary'), ref('parameters', '_elements')], responses: { 200: ok(`The ${type}`), ...errors('401', '403', '404', '410') } });
  if (has.has('update')) {
    add(`/${type}/{id}`, 'put', { summary: `Update a ${type}${resource.updateCreate ? ' (or create it with this id)' : ''}`, interaction: 'update', ...(profileNote ? { description: profileNote } : {}), parameters: [id, ref('parameters', 'If-Match'), ref('parameters', 'Prefer')], requestBody: body(`A ${type} resource with this id`), responses: { 200: ok('Updated'), 201: ok('Created', 'Created'), ...errors('400', '401', '403', '409', '412', '422') } });
  }
  if (has.has('patch')) {
    add(`/${type}/{id}`, 'patch', {
      summary: `Patch a ${type} (JSON Patch)`,
      interaction: 'patch',
      parameters: [id, ref('parameters', 'If-Match'), ref('parameters', 'Prefer')],
      requestBody: { required: true, content: { 'application/json-patch+json': { schema: { type: 'array', items: { type: 'object' } } } } },
      responses: { 200: ok('Patched'), ...errors('400', '401', '403', '404', '409', '412', '422') },
    });
  }
  if (has.has('delete')) add(`/${type}/{id}`, 'delete', { summary: `Delete a ${type}`, interaction: 'delete', parameters: [id, ref('parameters', 'If-Match')], responses: { 204: { description: 'Deleted' }, ...errors('401', '403', '409', '412') } });
  if (has.has('history-instance')) add(`/${type}/{id}/_history`, 'get', { summary: `History of one ${type}`, interaction: 'history-instance', parameters: [id, ref('parameters', '_count'), ref('parameters', '_since')], responses: { 200: ok('A history Bundle', 'Bundle'), ...errors('401', '403', '404') } });
  if (has.has('vread')) add(`/${type}/{id}/_history/{vid}`, 'get', { summary: `Read one version of a ${type}`, interaction: 'vread', parameters: [id, ref('parameters', 'vid')], responses: { 200: ok(`That version of the ${type}`), ...errors('401', '403', '404', '410') } });
  for (const o of resource.operation ?? []) {
    const name = `$${o.name}`;
    if (o.name === 'coordination-form') {
      // Instance level only, GET or POST, and answers a document Bundle or a printable HTML page.
      const date = { name: 'date', in: 'query', required: false, description: 'A day (YYYY-MM-DD): the record in force on that day instead of now', schema: { type: 'string', format: 'date' } };
      const format = { name: '_format', in: 'query', required: false, description: 'html for the printable page (or send Accept: text/html); json (default) for the FHIR document', schema: { type: 'string' } };
      const responses = { 200: { description: 'A document Bundle (Composition first), or the printable HTML page', content: { ...fhirContent('Bundle'), 'text/html': { schema: { type: 'string' } } } }, ...errors('400', '401', '403', '404', '410') };
      const scopes = secured ? `\n\nScope: \`system/${type}.r\`, search on EpisodeOfCare, CareTeam, CarePlan, ServiceRequest and Consent, read on Organization, Practitioner and PractitionerRole.` : '';
      const op = { summary: `${name}: the member's Care Planning and Coordination form`, interaction: o.name, description: `${o.documentation ?? ''} OperationDefinition ${o.definition}.${scopes}`, responses };
      add(`/${type}/{id}/${name}`, 'get', { ...op, parameters: [id, date, format] });
      add(`/${type}/{id}/${name}`, 'post', { ...op, interaction: `${o.name}-post`, parameters: [id, format], requestBody: { required: false, description: 'A Parameters resource with date (valueDate)', content: fhirContent('Resource') } });
      continue;
    }
    const op = (interaction: string): Op => ({
      summary: `${name} on ${type}`,
      interaction,
      description: `OperationDefinition ${o.definition}.${o.name === 'validate' && secured ? ` Needs the scope of the write it simulates (mode create: \`system/${type}.c\`, update: \`.u\`, delete: \`.d\`).` : ''}`,
      requestBody: ref('requestBodies', 'Parameters'),
      responses: { 200: ok('An OperationOutcome', 'OperationOutcome'), ...errors('400', '401', '403') },
    });
    add(`/${type}/${name}`, 'post', op(o.name));
    add(`/${type}/{id}/${name}`, 'post', { ...op(o.name), parameters: [id] });
  }
  return paths;
}

function components(tokenUrl: string | undefined, resources: CapabilityStatementRestResource[]): Json {
  const query = (name: string, description: string, schema: Json = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
  const header = (name: string, description: string) => ({ name, in: 'header', required: false, description, schema: { type: 'string' } });
  const outcome = (description: string) => ({ description, content: fhirContent('OperationOutcome') });
  return {
    schemas: {
      Resource: { type: 'object', description: 'A FHIR R4 resource in JSON; validated against R4 and the Concord profiles it claims', required: ['resourceType'], properties: { resourceType: { type: 'string' }, id: { type: 'string' } }, additionalProperties: true },
      Bundle: { type: 'object', required: ['resourceType', 'type'], properties: { resourceType: { type: 'string', enum: ['Bundle'] }, type: { type: 'string' }, total: { type: 'integer' }, link: { type: 'array', items: { type: 'object' } }, entry: { type: 'array', items: { type: 'object' } } }, additionalProperties: true },
      OperationOutcome: { type: 'object', required: ['resourceType', 'issue'], properties: { resourceType: { type: 'string', enum: ['OperationOutcome'] }, issue: { type: 'array', items: { type: 'object', properties: { severity: { type: 'string' }, code: { type: 'string' }, diagnostics: { type: 'string' }, expression: { type: 'array', items: { type: 'string' } } } } } }, additionalProperties: true },
    },
    requestBodies: {
      Resource: { required: true, description: 'A FHIR resource of the path\'s type', content: fhirContent('Resource') },
      Parameters: { required: false, description: 'The resource to check, or a Parameters resource (resource, mode, profile)', content: fhirContent('Resource') },
    },
    parameters: {
      id: { name: 'id', in: 'path', required: true, description: 'Logical id', schema: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } },
      vid: { name: 'vid', in: 'path', required: true, description: 'Version id', schema: { type: 'string' } },
      _count: query('_count', 'Page size', { type: 'integer', minimum: 0 }),
      _sort: query('_sort', 'Sort keys, comma-separated; a leading - sorts descending'),
      _include: query('_include', 'SourceType:param[:TargetType] resources to include'),
      _revinclude: query('_revinclude', 'SourceType:param resources referring to the matches'),
      _summary: query('_summary', 'true | text | data | count | false'),
      _elements: query('_elements', 'Top-level elements to return, comma-separated'),
      _total: query('_total', 'none | estimate | accurate'),
      _since: query('_since', 'Only versions after this instant', { type: 'string', format: 'date-time' }),
      'If-Match': header('If-Match', 'Version-aware update: W/"<versionId>"'),
      'If-None-Exist': header('If-None-Exist', 'Conditional create: search criteria (e.g. identifier=system|value)'),
      Prefer: header('Prefer', 'return=minimal | representation | OperationOutcome; handling=strict | lenient'),
      ...searchParameterComponents(resources),
    },
    responses: {
      Resource: { description: 'The resource (Prefer: return=representation, the default)', content: fhirContent('Resource') },
      Created: { description: 'Created', headers: { Location: { schema: { type: 'string' } }, ETag: { schema: { type: 'string' } } }, content: fhirContent('Resource') },
      Bundle: { description: 'A Bundle (searchset, history, or the response to a transaction or batch)', content: fhirContent('Bundle') },
      OperationOutcome: { description: 'An OperationOutcome', content: fhirContent('OperationOutcome') },
      E400: outcome('Invalid request (OperationOutcome)'),
      E401: outcome('No or invalid access token (WWW-Authenticate: Bearer)'),
      E403: outcome('The access token lacks the scope this interaction needs'),
      E404: outcome('Not found'),
      E409: outcome('Conflict, including coordination rules refused after the request arrived'),
      E410: outcome('Deleted'),
      E412: outcome('Precondition failed (If-Match, or conditional criteria matched several)'),
      E422: outcome('Unprocessable: validation or a coordination rule refused the resource'),
    },
    ...(tokenUrl
      ? {
          securitySchemes: {
            smart: {
              type: 'oauth2',
              description: 'SMART Backend Services: client credentials with a signed JWT assertion (RS384/ES384), or a client secret where the client was registered with one. Scopes: system/<Type|*>.<cruds subset> (v2) or .read/.write/.* (v1).',
              flows: { clientCredentials: { tokenUrl, scopes: { 'system/*.cruds': 'Every interaction on every type', 'system/*.rs': 'Read and search every type', 'system/*.read': 'Read and search every type (SMART v1)', 'system/*.write': 'Create, update and delete every type (SMART v1)' } } },
            },
          },
        }
      : {}),
  };
}

/** The Bulk Data $import operation: kick-off, status (poll, cancel) and the per-input error files. */
function importPaths(secured: boolean): Record<string, Json> {
  const tag = 'System';
  const admin = secured ? { description: 'Administrative clients only: no organization, and `system/*.cu` or more (e.g. `system/*.cruds`).' } : {};
  const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const json = (description: string): Json => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
  return {
    '/$import': {
      post: {
        tags: [tag],
        summary: 'Bulk Data $import: load NDJSON inputs (one resource type per input) asynchronously',
        operationId: 'import',
        ...admin,
        parameters: [{ name: 'Prefer', in: 'header', required: true, schema: { type: 'string', enum: ['respond-async'] } }],
        requestBody: { required: true, content: fhirContent('Resource') },
        responses: {
          202: { description: 'Accepted; Content-Location names the status endpoint', headers: { 'Content-Location': { schema: { type: 'string' } } } },
          ...errors('400', '401', '403'),
        },
      },
    },
    '/$import-status/{id}': {
      get: {
        tags: [tag],
        summary: 'Status of a $import job: 202 with X-Progress while it runs, 200 with the completion body',
        operationId: 'import-status',
        ...admin,
        parameters: [id],
        responses: { 200: json('Completion: output (counts per input) and error (OperationOutcome NDJSON files)'), 202: { description: 'Running', headers: { 'X-Progress': { schema: { type: 'string' } } } }, ...errors('400', '401', '403', '404') },
      },
      delete: { tags: [tag], summary: 'Cancel a $import job (lines already committed stay stored)', operationId: 'import-cancel', ...admin, parameters: [id], responses: { 202: ok('Cancelled', 'OperationOutcome'), ...errors('401', '403', '404') } },
    },
    '/$import-status/{id}/errors/{index}': {
      get: {
        tags: [tag],
        summary: "A $import input's rejected lines: one OperationOutcome per line (extensions: line, resource, rule)",
        operationId: 'import-errors',
        ...admin,
        parameters: [id, { name: 'index', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { 200: { description: 'NDJSON', content: { 'application/fhir+ndjson': { schema: { type: 'string' } } } }, ...errors('401', '403', '404') },
      },
    },
  };
}

/** The path of the token endpoint relative to the server (`/fhir` base -> `/auth/token` beside it). */
function tokenPath(tokenUrl: string, base: string): { servers: Json[]; path: string } {
  const at = tokenUrl.lastIndexOf('/auth/token');
  const server = at >= 0 ? tokenUrl.slice(0, at) : base.replace(/\/fhir$/, '');
  return { servers: [{ url: server === '' ? '/' : server }], path: '/auth/token' };
}

/**
 * The OpenAPI 3.0.3 document of a CapabilityStatement's first rest entry. `baseUrl` is the server URL
 * (absolute, or `/fhir` for a document served to whatever host the client used).
 */
export function buildOpenApi(capability: CapabilityStatement, baseUrl: string): Json {
  const rest = capability.rest?.[0];
  const tokenUrl = rest?.security?.extension?.find((e) => e.url === SMART_OAUTH_URIS)?.extension?.find((e) => e.url === 'token')?.valueUri;
  const secured = tokenUrl !== undefined;
  const system = new Set((rest?.interaction ?? []).map((i) => i.code));
  const paths: Record<string, Json> = {};
  const open = { security: [] as Json[] };
  const tag = 'System';
  paths['/metadata'] = { get: { tags: [tag], summary: 'CapabilityStatement', operationId: 'capabilities', ...open, responses: { 200: ok('The CapabilityStatement') } } };
  paths['/openapi.json'] = { get: { tags: [tag], summary: 'This OpenAPI document', operationId: 'openapi', ...open, responses: { 200: { description: 'OpenAPI 3.0 JSON', content: { 'application/json': { schema: { type: 'object' } } } } } } };
  if (system.has('search-system')) {
    paths['/'] = { get: { tags: [tag], summary: 'Search across types (_type limits them)', operationId: 'search-system', parameters: [{ name: '_type', in: 'query', required: false, schema: { type: 'string' } }, ...RESULT_PARAMETERS], ...(secured ? { description: 'Scope: `system/<Type>.s` on each `_type`, else `system/*.s`.' } : {}), responses: { 200: ok('A searchset Bundle', 'Bundle'), ...errors('400', '401', '403') } } };
  }
  if (system.has('transaction') || system.has('batch')) {
    paths['/'] = {
      ...(paths['/'] ?? {}),
      post: { tags: [tag], summary: 'Transaction or batch Bundle', operationId: 'transaction', ...(secured ? { description: 'Each entry needs the scope of its own interaction; conditional references and criteria need search on the types they search.' } : {}), requestBody: { required: true, content: fhirContent('Bundle') }, responses: { 200: ok('The transaction-response or batch-response Bundle', 'Bundle'), ...errors('400', '401', '403', '409', '412', '422') } },
    };
  }
  if (system.has('search-system')) {
    paths['/_search'] = { post: { tags: [tag], summary: 'Search across types (parameters in a form body)', operationId: 'search-system-post', requestBody: { required: false, content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', additionalProperties: { type: 'string' } } } } }, responses: { 200: ok('A searchset Bundle', 'Bundle'), ...errors('400', '401', '403') } } };
  }
  if (system.has('history-system')) paths['/_history'] = { get: { tags: [tag], summary: 'History of every resource', operationId: 'history-system', parameters: [ref('parameters', '_count'), ref('parameters', '_since')], ...(secured ? { description: 'Scope: `system/*.s`.' } : {}), responses: { 200: ok('A history Bundle', 'Bundle'), ...errors('401', '403') } } };
  if (secured) {
    paths['/.well-known/smart-configuration'] = { get: { tags: ['Authentication'], summary: 'SMART configuration (Backend Services)', operationId: 'smart-configuration', ...open, responses: { 200: { description: 'SMART configuration', content: { 'application/json': { schema: { type: 'object' } } } } } } };
    const token = tokenPath(tokenUrl, baseUrl);
    paths[token.path] = {
      servers: token.servers,
      post: {
        tags: ['Authentication'],
        summary: 'Token endpoint (client_credentials)',
        operationId: 'token',
        ...open,
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['grant_type'],
                properties: { grant_type: { type: 'string', enum: ['client_credentials'] }, scope: { type: 'string' }, client_assertion_type: { type: 'string' }, client_assertion: { type: 'string' }, client_id: { type: 'string' }, client_secret: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          200: { description: 'An access token', content: { 'application/json': { schema: { type: 'object', properties: { access_token: { type: 'string' }, token_type: { type: 'string' }, expires_in: { type: 'integer' }, scope: { type: 'string' } } } } } },
          400: { description: 'invalid_client, invalid_request, invalid_scope or unsupported_grant_type', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } },
          401: { description: 'A wrong client secret (HTTP Basic)' },
        },
      },
    };
  }
  if (rest?.operation?.some((o) => o.name === 'import')) Object.assign(paths, importPaths(secured));
  const resources = rest?.resource ?? [];
  for (const r of resources) Object.assign(paths, typePaths(r, secured));
  return {
    openapi: '3.0.3',
    info: {
      title: `${capability.software?.name ?? 'FHIR'} FHIR R${(capability.fhirVersion ?? '4').split('.')[0]} API`,
      version: capability.software?.version ?? '0',
      description: `${capability.implementation?.description ?? ''}. Generated from the CapabilityStatement (GET /metadata): every resource type, interaction, search parameter and operation listed there.`.replace(/^\. /, ''),
    },
    servers: [{ url: baseUrl }],
    ...(secured ? { security: [{ smart: [] }] } : {}),
    tags: [
      { name: tag, description: 'Capabilities, search across types, transactions and history' },
      ...(secured ? [{ name: 'Authentication', description: 'SMART Backend Services' }] : []),
      ...resources.map((r) => ({ name: r.type, ...(r.supportedProfile?.length ? { description: `Concord profiles: ${r.supportedProfile.join(', ')}` } : {}) })),
    ],
    paths,
    components: components(tokenUrl, resources),
  };
}
