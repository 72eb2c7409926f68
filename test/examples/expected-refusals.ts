// The official R4 examples Concord refuses, each because the example itself breaks R4 (4.0.1). Every
// entry names the issue text the refusal must contain and the reason, checked against the R4
// specification. Keep the list as short as the truth allows: an example refused for anything else is a
// server bug to fix, not an entry to add.
export interface ExpectedRefusal {
  /** File name in the hl7.fhir.r4.examples package. */
  file: string;
  status: number;
  /** A fragment of one issue's diagnostics. */
  issue: string;
  reason: string;
}

/** Not an error in the examples: Concord's AuditEvents are its own audit trail (docs/adr/0009-audit-trail.md). */
const AUDIT_EVENTS_ARE_THE_SERVERS =
  'Not an error in the example: AuditEvents are written only by Concord itself, for every interaction, and cannot be created, changed or deleted through the API.';

export const EXPECTED_REFUSALS: ExpectedRefusal[] = [
  {
    file: 'AuditEvent-example-disclosure.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-error.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-login.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-logout.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-media.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-pixQuery.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-rest.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example-search.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'AuditEvent-example.json',
    status: 405,
    issue: 'AuditEvents are recorded by the server',
    reason: AUDIT_EVENTS_ARE_THE_SERVERS,
  },
  {
    file: 'Bundle-dataelements.json',
    status: 422,
    issue: 'Constraint bdl-7 not met',
    reason: 'bdl-7: fullUrl must be unique in a Bundle unless meta.versionId differs; seven fullUrls (e.g. StructureDefinition/de-Quantity.value) appear twice, without versionId, in this collection.',
  },
  {
    file: 'CodeSystem-organization-role.json',
    status: 422,
    issue: 'belongs to the Concord coordination contract and is read-only',
    reason: 'Not an error in the example: its id clashes with Concord\'s own CodeSystem/organization-role, which the server does not let a client replace.',
  },
  {
    file: 'CodeSystem-program.json',
    status: 422,
    issue: 'belongs to the Concord coordination contract and is read-only',
    reason: 'Not an error in the example: its id clashes with Concord\'s own CodeSystem/program, which the server does not let a client replace.',
  },
  {
    file: 'CodeSystem-service-category.json',
    status: 422,
    issue: 'belongs to the Concord coordination contract and is read-only',
    reason: 'Not an error in the example: its id clashes with Concord\'s own CodeSystem/service-category, which the server does not let a client replace.',
  },
  {
    file: 'DeviceMetric-example.json',
    status: 422,
    issue: 'Reference to DeviceDefinition is not allowed here; expected Device',
    reason: 'DeviceMetric.parent is Reference(Device); the example points at DeviceDefinition/dc102.',
  },
  {
    file: 'DeviceUseStatement-example.json',
    status: 422,
    issue: 'Reference to Procedure is not allowed here',
    reason: 'DeviceUseStatement.reasonReference is Reference(Condition | Observation | DiagnosticReport | DocumentReference | Media); the example points at Procedure/example.',
  },
  {
    file: 'ImplementationGuide-fhir.json',
    status: 422,
    issue: 'A JSON array may hold at most 10000 items',
    reason:
      'ImplementationGuide.name and ImplementationGuide.status are 1..1 and this ImplementationGuide (id fhir, the spec\'s own) has neither; ' +
      'its manifest.page also has 28,517 items, over the array bound (10,000, see docs/adr/0006), which is checked first.',
  },
  {
    file: 'MedicationRequest-medrx0301.json',
    status: 422,
    issue: 'Reference to Practitioner is not allowed here; expected Organization',
    reason: 'MedicationRequest.dispenseRequest.performer is Reference(Organization); the example points at Practitioner/f001.',
  },
  {
    file: 'Observation-clinical-gender.json',
    status: 422,
    issue: 'Reference to Encounter is not allowed here',
    reason: 'Observation.performer is Reference(Practitioner | PractitionerRole | Organization | CareTeam | Patient | RelatedPerson); the example points at Encounter/example.',
  },
  {
    file: 'Questionnaire-qs1.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'Questionnaire.item.linkId is 1..1; the nested items of this example have none.',
  },
  {
    file: 'SearchParameter-codesystem-extensions-CodeSystem-author.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-codesystem-extensions-CodeSystem-effective.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-codesystem-extensions-CodeSystem-end.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-codesystem-extensions-CodeSystem-keyword.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-codesystem-extensions-CodeSystem-workflow.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json',
    status: 400,
    issue: 'is not a valid id',
    reason: 'An id is at most 64 characters (R4 datatype id); this one has 67, so PUT SearchParameter/[id] names no valid id.',
  },
  {
    file: 'SearchParameter-valueset-extensions-ValueSet-author.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-valueset-extensions-ValueSet-effective.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-valueset-extensions-ValueSet-end.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-valueset-extensions-ValueSet-keyword.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'SearchParameter-valueset-extensions-ValueSet-workflow.json',
    status: 422,
    issue: 'Missing required property',
    reason: 'SearchParameter.base is 1..*; this extension search parameter has no base.',
  },
  {
    file: 'StructureDefinition-Definition.json',
    status: 422,
    issue: 'Constraint sdf-4 not met',
    reason: 'sdf-4: a StructureDefinition that is not abstract SHALL have a baseDefinition; the Definition logical model has abstract = false and no baseDefinition.',
  },
  {
    file: 'StructureDefinition-Event.json',
    status: 422,
    issue: 'Constraint sdf-4 not met',
    reason: 'sdf-4: a StructureDefinition that is not abstract SHALL have a baseDefinition; the Event logical model has abstract = false and no baseDefinition.',
  },
  {
    file: 'StructureDefinition-FiveWs.json',
    status: 422,
    issue: 'Constraint sdf-4 not met',
    reason: 'sdf-4: a StructureDefinition that is not abstract SHALL have a baseDefinition; the FiveWs logical model has abstract = false and no baseDefinition.',
  },
  {
    file: 'StructureDefinition-Request.json',
    status: 422,
    issue: 'Constraint sdf-4 not met',
    reason: 'sdf-4: a StructureDefinition that is not abstract SHALL have a baseDefinition; the Request logical model has abstract = false and no baseDefinition.',
  },
  {
    file: 'ig-r4.json',
    status: 422,
    issue: 'A JSON array may hold at most 10000 items',
    reason:
      'ImplementationGuide.name and ImplementationGuide.status are 1..1 and this ImplementationGuide (id fhir, the spec\'s own) has neither; ' +
      'its manifest.page also has 28,517 items, over the array bound (10,000, see docs/adr/0006), which is checked first.',
  },
];
