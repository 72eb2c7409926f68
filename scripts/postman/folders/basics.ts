// Folders 1 and 2: getting started (metadata, SMART discovery, a token, a first Patient) and the FHIR
// basics a partner's integration needs. Both act as the administrative client (the collection's auth).
import { ADMIN, json, outcome, saveId, status, test, tokenRequest, transactionAll, type Folder } from '../dsl.js';

const NY_CIN = 'https://concord-fhir.org/seed/sid/ny-medicaid-cin';

export const gettingStarted: Folder = {
  name: '1. Getting started',
  description:
    'Is the server there, how do I get a token, and what does a first read and write look like? Run these in order: later folders reuse the variables they set.',
  items: [
    {
      name: 'What the server supports (CapabilityStatement)',
      description:
        'Before connecting a care management system, its developer checks what this FHIR server supports: FHIR version, resource types, search parameters, the Concord profiles, and how to authenticate (`rest.security`). No token needed.',
      method: 'GET',
      url: 'metadata',
      as: 'none',
      tests: [
        status(200),
        test(
          'FHIR R4 CapabilityStatement that declares SMART',
          json,
          `pm.expect(body.resourceType).to.eql('CapabilityStatement');`,
          `pm.expect(body.fhirVersion).to.eql('4.0.1');`,
          `const rest = body.rest[0];`,
          `pm.expect(rest.security.service[0].coding[0].code).to.eql('SMART-on-FHIR');`,
          `const careTeam = rest.resource.find(function (r) { return r.type === 'CareTeam'; });`,
          `pm.expect(careTeam.supportedProfile).to.include('https://concord-fhir.org/fhir/StructureDefinition/coordination-care-team');`,
        ),
      ],
    },
    {
      name: 'Where to get a token (SMART configuration)',
      description:
        'SMART Backend Services discovery: where the token endpoint is and which client authentication methods it takes. The token URL found here is kept in `{{tokenUrl}}` for the token requests and for the collection\'s OAuth 2.0 settings.',
      method: 'GET',
      url: '.well-known/smart-configuration',
      as: 'none',
      tests: [
        status(200),
        test(
          'client credentials with a signed assertion or a client secret',
          json,
          `pm.expect(body.grant_types_supported).to.include('client_credentials');`,
          `pm.expect(body.token_endpoint_auth_methods_supported).to.include('client_secret_basic');`,
          `pm.expect(body.token_endpoint_auth_methods_supported).to.include('private_key_jwt');`,
          `pm.collectionVariables.set('tokenUrl', body.token_endpoint);`,
        ),
      ],
    },
    {
      name: 'Without a token: 401',
      description: "What a request without a token answers, so an integration recognises it: 401, `WWW-Authenticate: Bearer`, and an OperationOutcome. Only the metadata and the SMART configuration are public.",
      method: 'GET',
      url: 'Patient?_count=1',
      as: 'none',
      tests: [
        outcome(401, 'login'),
        test('WWW-Authenticate: Bearer', `pm.expect(pm.response.headers.get('WWW-Authenticate')).to.match(/^Bearer/);`),
      ],
    },
    tokenRequest(
      ADMIN,
      "Gets the administrative client's token, which the collection's Authorization (OAuth 2.0, `{{adminToken}}`) sends with every request that names no other client. The administrative client is bound to no organization: it sets up the directory of organizations and the members' enrolments, as the state agency's enrolment feed would.",
    ),
    {
      name: 'Create a Patient',
      description:
        'A care manager registers a new member. The server assigns the id; the `Location` header and the body say which. The id is kept in `{{patientId}}`.',
      method: 'POST',
      url: 'Patient',
      body: {
        resourceType: 'Patient',
        identifier: [{ system: NY_CIN, value: 'GS10001A' }],
        name: [{ family: 'Okonkwo', given: ['Grace'] }],
        gender: 'female',
        birthDate: '1950-02-14',
      },
      tests: [
        status(201),
        test(
          'Location and ETag of version 1',
          `pm.expect(pm.response.headers.get('Location')).to.match(/\\/Patient\\/[^/]+\\/_history\\/1$/);`,
          `pm.expect(pm.response.headers.get('ETag')).to.eql('W/"1"');`,
        ),
        saveId('patientId'),
      ],
    },
    {
      name: 'Read the Patient',
      description: 'Reads the member just created, by the id the server gave it.',
      method: 'GET',
      url: 'Patient/{{patientId}}',
      tests: [
        status(200),
        test(
          'the same member',
          json,
          `pm.expect(body.id).to.eql(pm.collectionVariables.get('patientId'));`,
          `pm.expect(body.name[0].family).to.eql('Okonkwo');`,
          `pm.expect(body.meta.versionId).to.eql('1');`,
        ),
      ],
    },
    {
      name: 'Search Patients by Medicaid ID',
      description: "Finds a member by their Medicaid ID (here New York's Client Identification Number): how an intake system checks whether the member is already known.",
      method: 'GET',
      url: `Patient?identifier=${encodeURIComponent(NY_CIN)}|GS10001A`,
      tests: [
        status(200),
        test(
          'exactly that member',
          json,
          `pm.expect(body.type).to.eql('searchset');`,
          `pm.expect(body.total).to.eql(1);`,
          `pm.expect(body.entry[0].resource.id).to.eql(pm.collectionVariables.get('patientId'));`,
          `pm.expect(body.entry[0].search.mode).to.eql('match');`,
        ),
      ],
    },
  ],
};

export const basics: Folder = {
  name: '2. FHIR basics',
  description: 'The plain FHIR a partner integration relies on: creating without duplicates, updating without losing another user\'s change, history, transactions, paging, includes and validation.',
  items: [
    {
      name: 'Conditional create by Medicaid ID',
      description:
        'An intake feed sends members it may have sent before. `If-None-Exist` makes the create conditional: the member is created only if no Patient has this Medicaid ID. The id is kept in `{{memberId}}`.',
      method: 'POST',
      url: 'Patient',
      headers: { 'If-None-Exist': `identifier=${NY_CIN}|BX20002B` },
      body: { resourceType: 'Patient', identifier: [{ system: NY_CIN, value: 'BX20002B' }], name: [{ family: 'Delgado', given: ['Ruth'] }], birthDate: '1947-11-30' },
      tests: [status(201), saveId('memberId')],
    },
    {
      name: 'Conditional create again: nothing new',
      description: 'The feed sends the same member again. The server finds the existing Patient by the Medicaid ID and answers 200 with it instead of creating a duplicate.',
      method: 'POST',
      url: 'Patient',
      headers: { 'If-None-Exist': `identifier=${NY_CIN}|BX20002B` },
      body: { resourceType: 'Patient', identifier: [{ system: NY_CIN, value: 'BX20002B' }], name: [{ family: 'Delgado', given: ['Ruth'] }], birthDate: '1947-11-30' },
      tests: [status(200), test('the existing member', json, `pm.expect(body.id).to.eql(pm.collectionVariables.get('memberId'));`, `pm.expect(body.meta.versionId).to.eql('1');`)],
    },
    {
      name: 'Update with If-Match',
      description:
        'A care manager corrects the member\'s phone number. `If-Match: W/"1"` says "only if nobody changed it since I read version 1", so two people editing at once cannot silently overwrite each other.',
      method: 'PUT',
      url: 'Patient/{{memberId}}',
      headers: { 'If-Match': 'W/"1"' },
      body: {
        resourceType: 'Patient',
        id: '{{memberId}}',
        identifier: [{ system: NY_CIN, value: 'BX20002B' }],
        name: [{ family: 'Delgado', given: ['Ruth'] }],
        birthDate: '1947-11-30',
        telecom: [{ system: 'phone', value: '+1-718-555-0142', use: 'home' }],
      },
      tests: [status(200), test('version 2', `pm.expect(pm.response.headers.get('ETag')).to.eql('W/"2"');`, json, `pm.expect(body.telecom[0].value).to.eql('+1-718-555-0142');`)],
    },
    {
      name: 'Update with a stale If-Match: 412',
      description:
        'A second care manager, still looking at version 1, saves a different change. The server refuses with 412 Precondition Failed: read the member again, then decide. Nothing is changed.',
      method: 'PUT',
      url: 'Patient/{{memberId}}',
      headers: { 'If-Match': 'W/"1"' },
      body: { resourceType: 'Patient', id: '{{memberId}}', identifier: [{ system: NY_CIN, value: 'BX20002B' }], name: [{ family: 'Delgado', given: ['Ruth', 'M.'] }], birthDate: '1947-11-30' },
      tests: [test('412 with an OperationOutcome', `pm.response.to.have.status(412);`, json, `pm.expect(body.resourceType).to.eql('OperationOutcome');`)],
    },
    {
      name: 'History of the member',
      description: 'Who changed what, when: every version of the Patient, newest first. The refused update left no version behind.',
      method: 'GET',
      url: 'Patient/{{memberId}}/_history',
      tests: [
        status(200),
        test(
          'two versions, newest first',
          json,
          `pm.expect(body.type).to.eql('history');`,
          `pm.expect(body.entry).to.have.lengthOf(2);`,
          `pm.expect(body.entry[0].resource.meta.versionId).to.eql('2');`,
          `pm.expect(body.entry[1].resource.meta.versionId).to.eql('1');`,
        ),
      ],
    },
    {
      name: 'A transaction Bundle',
      description:
        'An enrolment feed sends a member and their enrolment together: in a transaction both land or neither does. The EpisodeOfCare refers to the new Patient by its `urn:uuid`, which the server replaces with the Patient\'s new id.',
      method: 'POST',
      url: '',
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:6f1c1e2a-4d0b-4b7e-9a53-0d3e2c1b7a11',
            request: { method: 'POST', url: 'Patient' },
            resource: { resourceType: 'Patient', identifier: [{ system: NY_CIN, value: 'QN30003C' }], name: [{ family: 'Haddad', given: ['Samir'] }], birthDate: '1952-06-03' },
          },
          {
            request: { method: 'POST', url: 'EpisodeOfCare' },
            resource: {
              resourceType: 'EpisodeOfCare',
              status: 'active',
              type: [{ coding: [{ system: 'https://concord-fhir.org/fhir/CodeSystem/program', code: 'ny-mltcp' }] }],
              patient: { reference: 'urn:uuid:6f1c1e2a-4d0b-4b7e-9a53-0d3e2c1b7a11' },
              period: { start: '2026-01-01' },
            },
          },
        ],
      },
      tests: [
        transactionAll('201', 2),
        test(
          'the enrolment points at the new member',
          json,
          `const idIn = function (location, type) { return new RegExp(type + '/([^/]+)/_history/').exec(location)[1]; };`,
          `const patientId = idIn(body.entry[0].response.location, 'Patient');`,
          `pm.collectionVariables.set('txPatientId', patientId);`,
          `pm.collectionVariables.set('txEpisodeId', idIn(body.entry[1].response.location, 'EpisodeOfCare'));`,
          `pm.expect(patientId).to.be.a('string').and.not.empty;`,
        ),
      ],
    },
    {
      name: 'Read the enrolment from the transaction',
      description: 'The reference inside the Bundle was rewritten from the `urn:uuid` to the Patient the transaction created.',
      method: 'GET',
      url: 'EpisodeOfCare/{{txEpisodeId}}',
      tests: [status(200), test('refers to Patient/{{txPatientId}}', json, `pm.expect(body.patient.reference).to.eql('Patient/' + pm.collectionVariables.get('txPatientId'));`)],
    },
    {
      name: 'Paging: first page',
      description: 'Lists members one per page (`_count=1`, sorted by name). A worklist reads page after page by following the Bundle\'s `next` link, never by building offsets itself. The link is kept in `{{nextPage}}`.',
      method: 'GET',
      url: 'Patient?_count=1&_sort=family&_total=accurate',
      tests: [
        status(200),
        test(
          'one member and a next link',
          json,
          `pm.expect(body.total).to.be.at.least(3);`,
          `pm.expect(body.entry).to.have.lengthOf(1);`,
          `pm.expect(body.entry[0].resource.name[0].family).to.eql('Delgado');`,
          `const next = body.link.find(function (l) { return l.relation === 'next'; });`,
          `pm.expect(next, 'a next link').to.be.an('object');`,
          `pm.collectionVariables.set('nextPage', next.url);`,
        ),
      ],
    },
    {
      name: 'Paging: next page',
      description: 'Follows the `next` link exactly as the server gave it.',
      method: 'GET',
      url: '{{nextPage}}',
      tests: [status(200), test('the second member by name', json, `pm.expect(body.entry).to.have.lengthOf(1);`, `pm.expect(body.entry[0].resource.name[0].family).to.eql('Haddad');`)],
    },
    {
      name: 'Enrolments with their members (_include)',
      description: 'One round trip for a worklist of enrolments and the members they belong to: `_include=EpisodeOfCare:patient` adds each enrolment\'s Patient to the page.',
      method: 'GET',
      url: 'EpisodeOfCare?patient=Patient/{{txPatientId}}&_include=EpisodeOfCare:patient',
      tests: [
        status(200),
        test(
          'the enrolment (match) and its Patient (include)',
          json,
          `const modes = body.entry.map(function (e) { return e.resource.resourceType + ':' + e.search.mode; }).sort();`,
          `pm.expect(modes).to.eql(['EpisodeOfCare:match', 'Patient:include']);`,
        ),
      ],
    },
    {
      name: 'A member with their enrolments (_revinclude)',
      description: 'The other direction: the Patient, plus every EpisodeOfCare that points at them (`_revinclude=EpisodeOfCare:patient`).',
      method: 'GET',
      url: 'Patient?_id={{txPatientId}}&_revinclude=EpisodeOfCare:patient',
      tests: [
        status(200),
        test(
          'the Patient (match) and the enrolment (include)',
          json,
          `const modes = body.entry.map(function (e) { return e.resource.resourceType + ':' + e.search.mode; }).sort();`,
          `pm.expect(modes).to.eql(['EpisodeOfCare:include', 'Patient:match']);`,
        ),
      ],
    },
    {
      name: '$validate a CareTeam before sending it',
      description:
        'A developer checks a CareTeam against the `coordination-care-team` profile without storing it. Here the participant lacks the organization it acts for and the start of its period, which the profile requires; `$validate` answers 200 with an OperationOutcome listing what is wrong, and nothing is written.',
      method: 'POST',
      url: 'CareTeam/$validate',
      body: {
        resourceType: 'CareTeam',
        meta: { profile: ['https://concord-fhir.org/fhir/StructureDefinition/coordination-care-team'] },
        status: 'active',
        subject: { reference: 'Patient/{{memberId}}' },
        participant: [{ member: { reference: 'Practitioner/unknown-care-manager' } }],
      },
      tests: [
        status(200),
        test(
          'errors, nothing stored',
          json,
          `pm.expect(body.resourceType).to.eql('OperationOutcome');`,
          `const errors = body.issue.filter(function (i) { return i.severity === 'error'; });`,
          `pm.expect(errors.length).to.be.above(0);`,
        ),
      ],
    },
  ],
};
